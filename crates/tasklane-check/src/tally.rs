//! What a scenario's requests achieved, and whether that is enough to judge.
//!
//! The checks can only find a stale read among reads that answered, against writes
//! that were acknowledged. A run in which nothing answered (a wrong URL, a server that
//! requires a token, a port nobody listens on) has no violation because it has no
//! evidence, so it must not pass: it is inconclusive, and the report says why the
//! requests failed.

use std::collections::BTreeMap;

use crate::history::{Cause, Operation, Outcome};

/// The fewest successful reads, and acknowledged writes, a scenario must have for its
/// verdict to mean something.
pub const FLOOR: usize = 10;

/// A scenario's operations, counted by what came of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Reads that were answered (a task, a list page, or `404` for a task).
    pub reads: usize,
    /// Writes that were acknowledged.
    pub writes: usize,
    /// Writes answered without being applied (`404`: the task was already gone).
    pub refused_writes: usize,
    /// Requests that got no usable answer, by cause.
    pub failed: BTreeMap<Cause, usize>,
}

impl Tally {
    /// Counts `operations`.
    pub fn of(operations: &[Operation]) -> Tally {
        let mut tally = Tally::default();
        for op in operations {
            match &op.outcome {
                Outcome::Failed { cause, .. } => *tally.failed.entry(*cause).or_default() += 1,
                Outcome::Written { .. } | Outcome::Deleted => tally.writes += 1,
                Outcome::Absent if op.request.is_write() => tally.refused_writes += 1,
                _ => tally.reads += 1,
            }
        }
        tally
    }

    /// Requests that were answered.
    pub fn succeeded(&self) -> usize {
        self.reads + self.writes + self.refused_writes
    }

    /// Requests that were not.
    pub fn failures(&self) -> usize {
        self.failed.values().sum()
    }

    /// Why these operations are too few to judge, if they are.
    pub fn shortfall(&self) -> Option<String> {
        if self.reads < FLOOR || self.writes < FLOOR {
            return Some(format!(
                "{} successful reads and {} acknowledged writes (at least {FLOOR} of each are \
                 needed)",
                self.reads, self.writes
            ));
        }
        self.mostly_failed()
    }

    /// As [`Tally::shortfall`], for a scenario whose writes are meant to fail: only its
    /// reads count.
    pub fn read_shortfall(&self) -> Option<String> {
        if self.reads < FLOOR {
            return Some(format!(
                "{} successful reads (at least {FLOOR} are needed)",
                self.reads
            ));
        }
        self.mostly_failed()
    }

    fn mostly_failed(&self) -> Option<String> {
        (self.failures() > self.succeeded()).then(|| {
            format!(
                "{} of {} requests failed (more than succeeded)",
                self.failures(),
                self.failures() + self.succeeded()
            )
        })
    }

    /// `12 connection refused, 3 HTTP 503 Service Unavailable`, most frequent first.
    pub fn failure_causes(&self) -> String {
        let mut causes: Vec<(&Cause, &usize)> = self.failed.iter().collect();
        causes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        causes
            .iter()
            .map(|(cause, count)| format!("{count} {cause}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What a person can do about requests failing for `cause`, if it is clear without
/// knowing the rest of the run (see [`hints`] for a whole run).
pub fn hint(cause: Cause) -> Option<&'static str> {
    Some(match cause {
        Cause::Refused => {
            "nothing listens at an instance's address: is the server running, and are the \
             URL's host and port right?"
        }
        Cause::Timeout => "an instance did not answer within 5 s: is it overloaded or stuck?",
        Cause::Status(401) => {
            "the server requires a token: pass --token (`tasklane token create` issues one)"
        }
        Cause::Status(404) => "is the URL a Tasklane instance? Its /v1/tasks answered 404",
        Cause::Status(429) => {
            "the server's rate limit refused requests: use fewer --clients, or raise the \
             server's --rate-limit"
        }
        Cause::Status(503) => "the server or its database was unavailable",
        _ => return None,
    })
}

/// The hints for a run whose requests failed for `causes` (each once): `token` says
/// whether the check sent one, `answered` whether any of its requests succeeded.
pub fn hints(causes: &[Cause], token: bool, answered: bool) -> Vec<&'static str> {
    let unauthorized = causes.contains(&Cause::Status(401));
    causes
        .iter()
        .filter_map(|&cause| match cause {
            Cause::Status(401) if token => Some(
                "the token is unknown or revoked: check --token (`tasklane token create` \
                 issues one, in the workspace the check should act in)",
            ),
            // A token's own rate limit always lets a burst through, so a token's
            // refusals after it was unknown, or with nothing answered at all, come from
            // the limit on failed authentications per address.
            Cause::Status(429) if token && (unauthorized || !answered) => Some(
                "the server refuses this address after too many unknown or revoked tokens \
                 (its --auth-failure-limit, per minute): pass a valid --token, then wait a \
                 minute",
            ),
            _ => hint(cause),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Request;

    fn failed(cause: Cause) -> Outcome {
        Outcome::Failed {
            cause,
            reason: String::new(),
            retry_after: None,
        }
    }

    #[test]
    fn hints_tell_a_missing_token_from_an_unknown_one_and_its_refusals() {
        let (unauthorized, limited) = (Cause::Status(401), Cause::Status(429));
        let without = hints(&[unauthorized], false, false);
        assert_eq!(without.len(), 1);
        assert!(without[0].starts_with("the server requires a token: pass --token"));
        let unknown = hints(&[unauthorized, limited], true, false);
        assert_eq!(unknown.len(), 2);
        assert!(unknown[0].starts_with("the token is unknown or revoked"));
        assert!(
            unknown[1].contains("--auth-failure-limit"),
            "{}",
            unknown[1]
        );
        assert!(!unknown[1].contains("--rate-limit"), "{}", unknown[1]);
        // A check started while the address was still refused sees only 429s.
        assert_eq!(hints(&[limited], true, false), unknown[1..]);
        // A valid token over its own rate limit had answers, and no 401.
        let busy = hints(&[limited], true, true);
        assert!(busy[0].contains("--rate-limit"), "{}", busy[0]);
    }

    #[test]
    fn a_run_where_nothing_answered_is_short_and_says_why() {
        let get = || Request::Get { id: "t".into() };
        let mut operations = vec![Operation::of(get(), failed(Cause::Status(401))); 3];
        operations.push(Operation::of(get(), failed(Cause::Refused)));
        let tally = Tally::of(&operations);
        assert_eq!(tally.succeeded(), 0);
        let shortfall = tally.shortfall().expect("nothing answered");
        assert!(shortfall.starts_with("0 successful reads and 0 acknowledged writes"));
        assert_eq!(
            tally.failure_causes(),
            "3 HTTP 401 Unauthorized, 1 connection refused"
        );
    }

    #[test]
    fn enough_answers_pass_unless_most_requests_failed() {
        let read = Operation::of(Request::Get { id: "t".into() }, Outcome::Absent);
        let write = Operation::of(Request::Delete { id: "t".into() }, Outcome::Deleted);
        let mut operations = [vec![read; FLOOR], vec![write; FLOOR]].concat();
        assert_eq!(Tally::of(&operations).shortfall(), None);
        let update = Request::Delete { id: "t".into() };
        operations.extend(vec![
            Operation::of(update, failed(Cause::Timeout));
            2 * FLOOR + 1
        ]);
        let shortfall = Tally::of(&operations).shortfall().expect("most failed");
        assert!(
            shortfall.contains("21 of 41 requests failed"),
            "{shortfall}"
        );
    }
}
