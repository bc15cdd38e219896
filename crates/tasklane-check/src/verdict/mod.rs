//! The checks a recorded history must pass.
//!
//! 1. **Freshness.** Every read reflects every write acknowledged before the read
//!    started: it shows no task at a version older than one acknowledged by then, and
//!    no task whose deletion was acknowledged by then. A single read answers `404`, or
//!    a complete list leaves a task out, only if the task may really be gone or changed:
//!    a deletion of it was sent before the read ended, or (for lists) the outcome of a
//!    write to it was still unknown when the read started.
//! 2. **Monotonic reads.** One client never sees a task at an older version than it
//!    already saw.
//! 3. **No lost write.** The read-back after the run (freshness judged in the same way)
//!    finds every acknowledged write.
//! 4. **The change feed** (`feed.rs`): every subscriber received every change once, in
//!    order, without a gap, and caught up with the log; every change traces to a write
//!    that was acknowledged or may have been applied, never to one that was refused;
//!    every acknowledged write reached every subscriber with the state its answer
//!    showed.
//! 5. **The webhook** (`webhook.rs`, with `--webhooks`): after deduplication by
//!    `webhook-id`, exactly the log's changes, in order, each signed, none sent before
//!    the one before it was acknowledged nor beside another; every acknowledged write's
//!    change delivered with the state its answer showed.
//! 6. **No read behind the feed.** A read that starts after a subscriber received a
//!    change reflects it, on any instance: the first receipt of a change is an
//!    acknowledgement of its write from then on (`knowledge.rs`), so the checks of 1
//!    apply to it.
//!
//! A write that failed or timed out is indeterminate: it may have happened or not. It
//! never counts as acknowledged, and while one is outstanding a task's state is
//! unknown, so it is never evidence against a read either, until a subscriber receives
//! its change: that proves it committed. Lists are also checked against their own
//! filters: a task that does not match them must not be on the page.
//!
//! Every check looks its tasks up by id (and version) in indexes built once: judging a
//! history takes time in proportion to its size (and the log of it), not to its size
//! times its number of reads.

mod feed;
mod knowledge;
mod reads;
#[cfg(test)]
mod synthetic;
mod webhook;

use crate::history::{Operation, Received, seconds};
use crate::subscriber::Following;
use crate::webhook::Watched;

/// What kind of rule a violation breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A read showed a task older than an acknowledged write.
    Stale,
    /// A read showed a task whose deletion was acknowledged before it started.
    Resurrected,
    /// A read left out a task that an acknowledged write put there.
    Missing,
    /// A list showed a task that does not match its filters.
    Unmatched,
    /// A client saw a task go back to an older version.
    NonMonotonic,
    /// The read-back after the run did not find an acknowledged write.
    Lost,
    /// The read-back could not read a task at all, so its writes cannot be confirmed.
    Unverified,
    /// A read that started after a subscriber had received a change did not reflect it
    /// (an older version, the task still there after its deletion, or left out).
    Unreflected,
    /// A subscriber received a change it had already received, or after a later one.
    Repeated,
    /// A subscriber's changes skipped a `seq`.
    Skipped,
    /// A change is not what its write did: another task state than the write's answer,
    /// a version out of step with the task's previous change, an event whose `id` is
    /// not its `seq`, or subscribers that received different changes for one `seq`.
    Mismatch,
    /// A change of the scenario's tasks that no write acknowledged or left
    /// indeterminate can have made: its write was refused, or never sent.
    Phantom,
    /// An acknowledged write whose change did not reach a subscriber.
    Undelivered,
    /// A subscriber, or the webhook, had not caught up with the log's head when the
    /// run was over.
    Behind,
    /// A webhook delivery whose signature does not verify with the webhook's secret.
    Unsigned,
    /// A webhook change sent after a later one, or before the one before it had been
    /// answered with a 2xx.
    SentEarly,
    /// Two webhook changes of one endpoint in flight at once.
    Overlapped,
}

impl Kind {
    /// What the report calls it.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Stale => "stale read",
            Kind::Resurrected => "deleted task seen",
            Kind::Missing => "acknowledged task missing",
            Kind::Unmatched => "task outside the list's filters",
            Kind::NonMonotonic => "non-monotonic read",
            Kind::Lost => "lost write",
            Kind::Unverified => "write not verifiable",
            Kind::Unreflected => "read behind an event already received",
            Kind::Repeated => "change repeated or out of order",
            Kind::Skipped => "change skipped",
            Kind::Mismatch => "change not what its write did",
            Kind::Phantom => "change without a write",
            Kind::Undelivered => "acknowledged write not delivered",
            Kind::Behind => "behind the log",
            Kind::Unsigned => "webhook signature not verified",
            Kind::SentEarly => "webhook change sent out of order",
            Kind::Overlapped => "webhook deliveries overlapped",
        }
    }
}

/// A broken rule, with the operations and events that show it.
#[derive(Debug, Clone)]
pub struct Violation {
    /// The rule.
    pub kind: Kind,
    /// The task concerned.
    pub task: String,
    /// What was expected, and what was seen instead.
    pub detail: String,
    /// The read that broke the rule.
    pub read: Option<Operation>,
    /// What shows what should have been: the write, or the event, or both.
    pub evidence: Vec<Evidence>,
}

/// Something recorded that a violation points to.
#[derive(Debug, Clone)]
pub enum Evidence {
    /// An operation.
    Operation(Operation),
    /// A change a subscriber received.
    Event(Received),
}

impl std::fmt::Display for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Evidence::Operation(op) => op.fmt(f),
            Evidence::Event(received) => write!(
                f,
                "subscriber {} on instance {} received seq {} ({} of task {} to version {}) at {}",
                received.subscriber,
                received.instance,
                received.change.seq,
                received.change.kind.as_str(),
                received.change.task_id,
                received.change.version,
                seconds(received.received_us)
            ),
        }
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: task {}: {}",
            self.kind.label(),
            self.task,
            self.detail
        )?;
        if let Some(read) = &self.read {
            write!(f, "\n      read:     {read}")?;
        }
        for evidence in &self.evidence {
            write!(f, "\n      evidence: {evidence}")?;
        }
        Ok(())
    }
}

/// What judging a history found.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Every violation.
    pub violations: Vec<Violation>,
    /// The indeterminate writes (no acknowledgement, yet maybe applied) whose change a
    /// subscriber received: those that turned out applied.
    pub applied: usize,
}

/// Every violation in a history, in what its subscribers received and in what its
/// webhook delivered (if it had one).
pub fn check(
    history: &[Operation],
    following: &Following,
    webhook: Option<&Watched>,
) -> Vec<Violation> {
    judge(history, following, webhook).violations
}

/// As [`check`], with what else judging learned.
pub fn judge(history: &[Operation], following: &Following, webhook: Option<&Watched>) -> Verdict {
    let (feed, learned) = feed::check(history, following);
    let applied = learned
        .iter()
        .filter(|learned| learned.write.is_some_and(|i| history[i].indeterminate()))
        .count();
    let knowledge = knowledge::Knowledge::build(history, &learned);
    let mut violations = reads::check(history, &knowledge);
    violations.extend(feed);
    if let Some(watched) = webhook {
        violations.extend(webhook::check(history, watched));
    }
    Verdict {
        violations,
        applied,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Cause, Change, ChangeKind, Filter, Outcome, Phase, Request, Seen};
    use crate::subscriber::Followed;

    fn task(version: i64, status: &str) -> Seen {
        Seen {
            id: "t".to_owned(),
            version,
            status: status.to_owned(),
            assignee: None,
        }
    }

    /// A task as the server sends it: in a write's answer and in its change.
    fn body(version: i64, status: &str) -> serde_json::Value {
        serde_json::json!({
            "id": "t",
            "title": crate::client::title(0),
            "description": "m",
            "version": version,
            "status": status,
            "assignee": null,
        })
    }

    fn written(version: i64, status: &str) -> Outcome {
        Outcome::written(body(version, status))
    }

    fn op(client: usize, span: (u64, u64), request: Request, outcome: Outcome) -> Operation {
        Operation {
            client,
            instance: 0,
            start_us: span.0,
            end_us: span.1,
            phase: Phase::Run,
            request,
            outcome,
        }
    }

    fn created(span: (u64, u64)) -> Operation {
        let request = Request::Create {
            status: "todo".to_owned(),
            assignee: None,
        };
        op(0, span, request, written(1, "todo"))
    }

    fn updated(span: (u64, u64), outcome: Outcome) -> Operation {
        let request = Request::Update {
            id: "t".to_owned(),
            status: "done".to_owned(),
            assignee: None,
        };
        op(0, span, request, outcome)
    }

    fn deleted(span: (u64, u64), outcome: Outcome) -> Operation {
        op(0, span, Request::Delete { id: "t".to_owned() }, outcome)
    }

    fn listed(client: usize, span: (u64, u64), filter: Filter, tasks: Vec<Seen>) -> Operation {
        let request = Request::List {
            query: "q=x&limit=100".to_owned(),
            filter,
        };
        let outcome = Outcome::Listed {
            tasks,
            complete: true,
            next_cursor: None,
        };
        op(client, span, request, outcome)
    }

    fn kinds(history: &[Operation]) -> Vec<Kind> {
        fed(history, &[])
    }

    /// The kinds of violations in `history`, with one subscriber per list of changes
    /// (each as `(seq, kind, version, status, received at)`), caught up to the last
    /// change any of them received.
    fn fed(history: &[Operation], subscribers: &[&[Event]]) -> Vec<Kind> {
        let head = subscribers
            .iter()
            .flat_map(|events| events.iter())
            .map(|e| e.0)
            .max();
        let following = Following {
            marker: "m".to_owned(),
            since: 0,
            head,
            followed: subscribers
                .iter()
                .enumerate()
                .map(|(n, events)| Followed {
                    received: events.iter().map(|event| receipt(n, event)).collect(),
                    streams: Vec::new(),
                })
                .collect(),
            unjudged: None,
        };
        let mut kinds: Vec<Kind> = check(history, &following, None)
            .into_iter()
            .map(|v| v.kind)
            .collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }

    type Event = (u64, ChangeKind, i64, &'static str, u64);

    fn receipt(subscriber: usize, &(seq, kind, version, status, at): &Event) -> Received {
        Received {
            subscriber,
            instance: 0,
            received_us: at,
            id: seq.to_string(),
            change: Change {
                seq,
                kind,
                task_id: "t".to_owned(),
                version,
                task: (kind != ChangeKind::Deleted).then(|| body(version, status)),
            },
        }
    }

    fn done() -> Outcome {
        written(2, "done")
    }

    fn failed() -> Outcome {
        Outcome::Failed {
            cause: Cause::Timeout,
            reason: "timed out".to_owned(),
            retry_after: None,
        }
    }

    #[test]
    fn a_read_that_misses_an_update_acknowledged_before_it_started_is_stale() {
        let history = [
            created((0, 10)),
            updated((20, 30), done()),
            listed(1, (40, 50), Filter::default(), vec![task(1, "todo")]),
        ];
        assert_eq!(kinds(&history), [Kind::Stale]);
    }

    #[test]
    fn a_read_overlapping_the_update_may_show_either_version() {
        for seen in [task(1, "todo"), task(2, "done")] {
            let history = [
                created((0, 10)),
                updated((20, 45), done()),
                listed(1, (40, 50), Filter::default(), vec![seen]),
            ];
            assert_eq!(kinds(&history), []);
        }
    }

    #[test]
    fn an_indeterminate_update_is_never_evidence() {
        for seen in [task(1, "todo"), task(2, "done")] {
            let history = [
                created((0, 10)),
                updated((20, 30), failed()),
                listed(1, (40, 50), Filter::default(), vec![seen]),
            ];
            assert_eq!(kinds(&history), []);
        }
        // Nor does it let a task drop out of a list it matched before the update.
        let history = [
            created((0, 10)),
            updated((20, 30), failed()),
            listed(1, (40, 50), Filter::default(), vec![]),
        ];
        assert_eq!(kinds(&history), []);
    }

    #[test]
    fn a_task_deleted_before_the_read_must_be_gone() {
        let history = [
            created((0, 10)),
            deleted((20, 30), Outcome::Deleted),
            listed(1, (40, 50), Filter::default(), vec![task(1, "todo")]),
        ];
        assert_eq!(kinds(&history), [Kind::Resurrected]);
        let in_flight = [
            created((0, 10)),
            deleted((20, 45), Outcome::Deleted),
            listed(1, (40, 50), Filter::default(), vec![task(1, "todo")]),
        ];
        assert_eq!(kinds(&in_flight), []);
    }

    #[test]
    fn a_complete_list_must_hold_every_known_task_that_matches_it() {
        let todo = Filter {
            statuses: vec!["todo".to_owned()],
            ..Filter::default()
        };
        let history = [created((0, 10)), listed(1, (40, 50), todo.clone(), vec![])];
        assert_eq!(kinds(&history), [Kind::Missing]);
        // Once an acknowledged update took it out of the filter, it must stay out.
        let history = [
            created((0, 10)),
            updated((20, 30), done()),
            listed(1, (40, 50), todo.clone(), vec![]),
        ];
        assert_eq!(kinds(&history), []);
        let history = [
            created((0, 10)),
            listed(1, (40, 50), todo, vec![task(2, "done")]),
        ];
        assert_eq!(kinds(&history), [Kind::Unmatched]);
    }

    #[test]
    fn one_client_never_sees_a_task_go_back() {
        let history = [
            created((0, 10)),
            updated((20, 100), done()),
            listed(1, (30, 40), Filter::default(), vec![task(2, "done")]),
            listed(1, (50, 60), Filter::default(), vec![task(1, "todo")]),
        ];
        assert_eq!(kinds(&history), [Kind::NonMonotonic]);
    }

    #[test]
    fn the_read_back_reports_an_acknowledged_write_it_cannot_find_as_lost() {
        let mut read_back = op(
            9,
            (40, 50),
            Request::Get { id: "t".to_owned() },
            Outcome::Absent,
        );
        read_back.phase = Phase::ReadBack;
        assert_eq!(kinds(&[created((0, 10)), read_back.clone()]), [Kind::Lost]);
        let deletion_sent = deleted((20, 30), failed());
        assert_eq!(kinds(&[created((0, 10)), deletion_sent, read_back]), []);
    }

    const CREATED: ChangeKind = ChangeKind::Created;
    const UPDATED: ChangeKind = ChangeKind::Updated;
    const DELETED: ChangeKind = ChangeKind::Deleted;

    #[test]
    fn every_acknowledged_write_reaches_every_subscriber_once_in_order() {
        let history = [created((0, 10)), updated((20, 30), done())];
        let both: &[Event] = &[(1, CREATED, 1, "todo", 5), (2, UPDATED, 2, "done", 25)];
        assert_eq!(fed(&history, &[both, both]), []);
        // One subscriber stopped short of the log's head.
        let short: &[Event] = &both[..1];
        assert_eq!(
            fed(&history, &[both, short]),
            [Kind::Undelivered, Kind::Behind]
        );
        // One received a change twice, another skipped one.
        let twice: &[Event] = &[both[0], both[0], both[1]];
        let skipped: &[Event] = &[both[1]];
        assert_eq!(fed(&history, &[twice]), [Kind::Repeated]);
        assert_eq!(
            fed(&history, &[skipped]),
            [Kind::Skipped, Kind::Mismatch, Kind::Undelivered]
        );
    }

    #[test]
    fn a_change_must_show_what_its_write_answered() {
        let history = [created((0, 10)), updated((20, 30), done())];
        let other_state: &[Event] = &[(1, CREATED, 1, "todo", 5), (2, UPDATED, 2, "blocked", 25)];
        assert_eq!(fed(&history, &[other_state]), [Kind::Mismatch]);
        // A delete carries the version deleted: the task's latest.
        let deletion = deleted((40, 50), Outcome::Deleted);
        let history = [created((0, 10)), updated((20, 30), done()), deletion];
        let right: &[Event] = &[
            (1, CREATED, 1, "todo", 5),
            (2, UPDATED, 2, "done", 25),
            (3, DELETED, 2, "", 45),
        ];
        assert_eq!(fed(&history, &[right]), []);
        let wrong: &[Event] = &[right[0], right[1], (3, DELETED, 1, "", 45)];
        assert_eq!(fed(&history, &[wrong]), [Kind::Mismatch]);
    }

    #[test]
    fn a_change_traces_to_a_write_that_may_have_been_applied_never_to_a_refused_one() {
        let events: &[Event] = &[(1, CREATED, 1, "todo", 5), (2, UPDATED, 2, "done", 25)];
        let refused = Outcome::Failed {
            cause: Cause::Status(412),
            reason: "412".to_owned(),
            retry_after: None,
        };
        for (outcome, expected) in [
            (Outcome::unavailable(), vec![]),
            (failed(), vec![]),
            (Outcome::Absent, vec![Kind::Phantom]),
            (refused, vec![Kind::Phantom]),
        ] {
            let history = [created((0, 10)), updated((20, 30), outcome.clone())];
            assert_eq!(fed(&history, &[events]), expected, "{outcome:?}");
        }
        // A create that got no answer is known by its author, status and assignee.
        let create = |status: &str| {
            let request = Request::Create {
                status: status.to_owned(),
                assignee: None,
            };
            op(0, (0, 10), request, Outcome::unavailable())
        };
        assert_eq!(fed(&[create("todo")], &[&events[..1]]), []);
        assert_eq!(fed(&[create("done")], &[&events[..1]]), [Kind::Phantom]);
    }

    #[test]
    fn a_read_that_starts_after_a_change_was_received_must_reflect_it() {
        // The update got no answer, but a subscriber received its change at 35.
        let events: &[Event] = &[(1, CREATED, 1, "todo", 5), (2, UPDATED, 2, "done", 35)];
        let history = |read: (u64, u64)| {
            [
                created((0, 10)),
                updated((20, 30), Outcome::unavailable()),
                listed(1, read, Filter::default(), vec![task(1, "todo")]),
            ]
        };
        assert_eq!(fed(&history((40, 50)), &[events]), [Kind::Unreflected]);
        assert_eq!(fed(&history((32, 50)), &[events]), [], "started before");
        assert_eq!(
            kinds(&history((40, 50))),
            [],
            "no subscriber: indeterminate"
        );
        // Nor may a complete list leave out what the change put in its filter...
        let done_only = Filter {
            statuses: vec!["done".to_owned()],
            ..Filter::default()
        };
        let history = [
            created((0, 10)),
            updated((20, 30), Outcome::unavailable()),
            listed(1, (40, 50), done_only, vec![]),
        ];
        assert_eq!(fed(&history, &[events]), [Kind::Unreflected]);
        // ...nor show a task whose deletion was received.
        let events: &[Event] = &[(1, CREATED, 1, "todo", 5), (2, DELETED, 1, "", 35)];
        let history = [
            created((0, 10)),
            deleted((20, 30), Outcome::unavailable()),
            listed(1, (40, 50), Filter::default(), vec![task(1, "todo")]),
        ];
        assert_eq!(fed(&history, &[events]), [Kind::Unreflected]);
    }

    #[test]
    fn a_create_known_only_by_its_change_must_be_listed_after_it() {
        let request = Request::Create {
            status: "todo".to_owned(),
            assignee: None,
        };
        let history = [
            op(0, (0, 10), request, Outcome::unavailable()),
            listed(1, (40, 50), Filter::default(), vec![]),
        ];
        assert_eq!(
            fed(&history, &[&[(1, CREATED, 1, "todo", 20)]]),
            [Kind::Unreflected]
        );
        assert_eq!(kinds(&history), []);
    }

    #[test]
    fn an_update_that_changed_nothing_is_delivered_by_the_change_it_found() {
        // Its answer shows the version it found, and it makes no change of its own.
        let unchanged = updated((40, 50), done());
        let history = [created((0, 10)), updated((20, 30), done()), unchanged];
        let events: &[Event] = &[(1, CREATED, 1, "todo", 5), (2, UPDATED, 2, "done", 25)];
        assert_eq!(fed(&history, &[events]), []);
    }
}
