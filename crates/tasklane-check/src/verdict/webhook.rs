//! The checks of a scenario's webhook (`--webhooks`), against the log and the writes
//! of the history, on what its endpoint received once deduplicated by `webhook-id`:
//!
//! - every request's signature verifies with the webhook's secret (by the Standard
//!   Webhooks reference implementation); no change was sent before the one before it
//!   had been answered with a 2xx, nor first sent after a later one; no two were in
//!   flight at once; a repeat carries the same event as its first arrival;
//! - the changes delivered are exactly the log's, from the webhook's position to the
//!   head after the run, in order, each the log's change (kind, task, version, the task
//!   as its write left it, its commit time);
//! - every acknowledged write's change was delivered, with the state its answer showed
//!   (by task and version; a delete by its task).

use std::collections::{HashMap, HashSet};

use super::{Evidence, Kind, Violation};
use crate::history::{Change, ChangeKind, Operation, Outcome, Request};
use crate::receiver::Delivered;
use crate::webhook::Watched;

/// The webhook's violations.
pub(super) fn check(history: &[Operation], watched: &Watched) -> Vec<Violation> {
    let summary = &watched.summary;
    let mut violations: Vec<Violation> = [
        (Kind::Unsigned, &summary.signature_failures),
        (Kind::Mismatch, &summary.unreadable),
        (Kind::Mismatch, &summary.conflicts),
        (Kind::SentEarly, &summary.out_of_order),
        (Kind::Overlapped, &summary.overlaps),
    ]
    .into_iter()
    .flat_map(|(kind, breaches)| {
        breaches
            .iter()
            .map(move |breach| plain(kind, "?", format!("the webhook: {breach}")))
    })
    .collect();
    let Some(head) = watched.head else {
        return violations;
    };
    let delivered: HashMap<u64, (&Delivered, Option<Change>)> = summary
        .delivered
        .iter()
        .filter_map(|delivered| {
            let seq = delivered.event.seq()?;
            Some((seq, (delivered, change_of(delivered))))
        })
        .collect();
    let last = summary.seqs().into_iter().max();
    let mut behind = false;
    for logged in &watched.log {
        let seq = logged.change.seq;
        let task = &logged.change.task_id;
        match delivered.get(&seq) {
            None if last.is_some_and(|last| last > seq) => violations.push(plain(
                Kind::Skipped,
                task,
                format!(
                    "the webhook skipped seq {seq}: it delivered seq {} after it",
                    last.unwrap_or(seq)
                ),
            )),
            // Once: every change after it is behind too.
            None if behind => {}
            None => {
                behind = true;
                violations.push(plain(
                    Kind::Behind,
                    task,
                    format!(
                        "the webhook had delivered up to seq {} when the run was over; the log's \
                     head was {head}",
                        last.unwrap_or(watched.position)
                    ),
                ));
            }
            Some((delivered, change)) => {
                if change.as_ref() != Some(&logged.change) || delivered.event.timestamp != logged.at
                {
                    violations.push(plain(
                        Kind::Mismatch,
                        task,
                        format!(
                            "the webhook's seq {seq} is not the log's change: {} at {}, where \
                             the log has {} at {}",
                            delivered.event.data,
                            delivered.event.timestamp,
                            serde_json::to_value(&logged.change).unwrap_or_default(),
                            logged.at
                        ),
                    ));
                }
            }
        }
    }
    let logged: HashSet<u64> = watched.log.iter().map(|l| l.change.seq).collect();
    for (&seq, (_, change)) in &delivered {
        if seq > watched.position && seq <= head && !logged.contains(&seq) {
            let task = change.as_ref().map_or("?", |c| c.task_id.as_str());
            violations.push(plain(
                Kind::Phantom,
                task,
                format!("the webhook delivered seq {seq}, which the log does not hold"),
            ));
        }
    }
    violations.extend(undelivered(history, &delivered));
    violations
}

/// The acknowledged writes whose change the webhook did not deliver, or delivered with
/// another state than the write's answer.
fn undelivered(
    history: &[Operation],
    delivered: &HashMap<u64, (&Delivered, Option<Change>)>,
) -> Vec<Violation> {
    let changes: Vec<&Change> = delivered.values().filter_map(|(_, c)| c.as_ref()).collect();
    let mut violations = Vec::new();
    for op in history
        .iter()
        .filter(|op| op.request.is_write() && op.acknowledged())
    {
        let found = match (&op.request, &op.outcome) {
            (Request::Delete { id }, _) => changes
                .iter()
                .find(|c| c.kind == ChangeKind::Deleted && c.task_id == *id),
            (_, Outcome::Written { task, .. }) => changes.iter().find(|c| {
                c.kind != ChangeKind::Deleted && c.task_id == task.id && c.version == task.version
            }),
            _ => continue,
        };
        let task = op.task().unwrap_or("?");
        let evidence = vec![Evidence::Operation(op.clone())];
        match (found, &op.outcome) {
            (None, _) => violations.push(Violation {
                evidence,
                ..plain(
                    Kind::Undelivered,
                    task,
                    "the webhook never delivered its change".to_owned(),
                )
            }),
            (Some(change), Outcome::Written { body, .. }) if change.task.as_ref() != Some(body) => {
                violations.push(Violation {
                    evidence,
                    ..plain(
                        Kind::Mismatch,
                        task,
                        format!(
                            "the webhook's seq {} does not carry the task the write's answer \
                             showed",
                            change.seq
                        ),
                    )
                });
            }
            _ => {}
        }
    }
    violations
}

/// The change a delivered event announces, if it is one.
fn change_of(delivered: &Delivered) -> Option<Change> {
    let mut data = delivered.event.data.clone();
    ChangeKind::parse(&delivered.event.kind)?;
    data.as_object_mut()?
        .insert("kind".to_owned(), delivered.event.kind.clone().into());
    serde_json::from_value(data).ok()
}

fn plain(kind: Kind, task: &str, detail: String) -> Violation {
    Violation {
        kind,
        task: task.to_owned(),
        detail,
        read: None,
        evidence: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::*;
    use crate::client::Logged;
    use crate::history::Seen;
    use crate::receiver::{Event, Summary};

    fn task(version: i64, status: &str) -> Value {
        json!({ "id": "t", "version": version, "status": status, "assignee": null })
    }

    /// The log: t created (seq 1), updated (2), deleted (3).
    fn log() -> Vec<Logged> {
        [
            (1, ChangeKind::Created, 1, Some(task(1, "todo"))),
            (2, ChangeKind::Updated, 2, Some(task(2, "done"))),
            (3, ChangeKind::Deleted, 2, None),
        ]
        .into_iter()
        .map(|(seq, kind, version, task)| Logged {
            change: Change {
                seq,
                kind,
                task_id: "t".to_owned(),
                version,
                task,
            },
            at: format!("2026-01-01T00:00:0{seq}Z"),
        })
        .collect()
    }

    fn delivered(logged: &Logged) -> Delivered {
        let change = &logged.change;
        Delivered {
            webhook_id: format!("msg_h_{}", change.seq),
            event: Event {
                kind: change.kind.as_str().to_owned(),
                timestamp: logged.at.clone(),
                data: json!({
                    "seq": change.seq,
                    "task_id": change.task_id,
                    "version": change.version,
                    "task": change.task,
                }),
            },
            at: Duration::from_millis(change.seq),
            acknowledged: true,
        }
    }

    fn watched(delivered: Vec<Delivered>) -> Watched {
        Watched {
            endpoint: "h".to_owned(),
            position: 0,
            head: Some(3),
            log: log(),
            summary: Summary {
                arrivals: delivered.len(),
                delivered,
                ..Summary::default()
            },
            unjudged: None,
        }
    }

    /// The writes that made the log, acknowledged.
    fn history() -> Vec<Operation> {
        let written = |version: i64, status: &str| Outcome::Written {
            task: Seen {
                id: "t".to_owned(),
                version,
                status: status.to_owned(),
                assignee: None,
            },
            body: task(version, status),
        };
        let create = Request::Create {
            status: "todo".to_owned(),
            assignee: None,
        };
        let update = Request::Update {
            id: "t".to_owned(),
            status: "done".to_owned(),
            assignee: None,
        };
        vec![
            Operation::of(create, written(1, "todo")),
            Operation::of(update, written(2, "done")),
            Operation::of(Request::Delete { id: "t".to_owned() }, Outcome::Deleted),
        ]
    }

    fn kinds(watched: &Watched) -> Vec<Kind> {
        let mut kinds: Vec<Kind> = check(&history(), watched).iter().map(|v| v.kind).collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }

    #[test]
    fn the_log_delivered_in_full_passes() {
        let all = log().iter().map(delivered).collect();
        assert_eq!(kinds(&watched(all)), []);
    }

    #[test]
    fn a_change_left_out_is_skipped_and_its_write_undelivered() {
        let log = log();
        let some = vec![delivered(&log[0]), delivered(&log[2])];
        assert_eq!(kinds(&watched(some)), [Kind::Skipped, Kind::Undelivered]);
    }

    #[test]
    fn a_webhook_short_of_the_head_is_behind() {
        let log = log();
        let some = vec![delivered(&log[0]), delivered(&log[1])];
        assert_eq!(kinds(&watched(some)), [Kind::Undelivered, Kind::Behind]);
    }

    #[test]
    fn a_change_with_another_state_than_its_write_is_a_mismatch() {
        let mut all: Vec<Delivered> = log().iter().map(delivered).collect();
        all[1].event.data["task"]["status"] = json!("blocked");
        assert_eq!(kinds(&watched(all)), [Kind::Mismatch]);
        let mut all: Vec<Delivered> = log().iter().map(delivered).collect();
        all[2].event.timestamp = "2026-01-01T00:00:09Z".to_owned();
        assert_eq!(kinds(&watched(all)), [Kind::Mismatch]);
    }

    #[test]
    fn the_receiver_s_breaches_are_violations() {
        let mut watched = watched(log().iter().map(delivered).collect());
        watched.summary.signature_failures = vec!["msg_h_1: signature invalid".to_owned()];
        watched.summary.out_of_order = vec!["msg_h_2: seq 2 arrived early".to_owned()];
        watched.summary.overlaps = vec!["msg_h_3: overlapped".to_owned()];
        assert_eq!(
            kinds(&watched),
            [Kind::Unsigned, Kind::SentEarly, Kind::Overlapped]
        );
    }
}
