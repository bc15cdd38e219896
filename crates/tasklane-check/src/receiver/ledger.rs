//! What a [`Receiver`](super::Receiver) records: every delivery as it arrived, its
//! signature checked against the endpoint's secrets with the Standard Webhooks reference
//! implementation (the `standardwebhooks` crate, not the server's signer), and how it
//! was answered; and, per endpoint, the view the checks judge ([`Summary`]): the
//! deliveries once each by `webhook-id`, in the order they first arrived, and every
//! breach of the sending rules seen on the way.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::http::HeaderMap;
use serde::Deserialize;
use standardwebhooks::Webhook;

/// One request that reached the receiver.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// The endpoint it was sent to: its URL's path, without the leading `/`.
    pub endpoint: String,
    /// When it arrived, since the receiver started.
    pub at: Duration,
    /// When it arrived, by the wall clock (a `Retry-After` date is one).
    pub wall: SystemTime,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body, as sent.
    pub body: Bytes,
    /// The event its body holds, if it holds one.
    pub event: Option<Event>,
    /// How the receiver answered it; none while it is in flight.
    pub answer: Option<Answer>,
    /// The endpoint's secrets its signature verifies with.
    pub verified_by: Vec<String>,
    /// Why no secret verified it (the reference implementation's error), if none did.
    pub rejection: Option<String>,
    /// Whether another change of the same endpoint was in flight when it arrived.
    pub overlapped: bool,
}

/// How the receiver answered a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// The status sent; none when the connection was closed without an answer.
    pub status: Option<u16>,
    /// When, since the receiver started.
    pub at: Duration,
}

impl Answer {
    /// Whether the sender was told the delivery succeeded.
    pub fn succeeded(&self) -> bool {
        self.status
            .is_some_and(|status| (200..300).contains(&status))
    }
}

/// A delivery's body: a Standard Webhooks event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Event {
    /// `task.created`, `task.updated`, `task.deleted` or `webhook.test`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When its change committed (a test event: when it was sent).
    pub timestamp: String,
    /// What happened.
    pub data: serde_json::Value,
}

impl Event {
    /// The change's position in its workspace's log; none for a test event.
    pub fn seq(&self) -> Option<u64> {
        self.data.get("seq")?.as_u64()
    }
}

/// A delivery as the checks see it: one per `webhook-id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    /// Its `webhook-id`.
    pub webhook_id: String,
    /// Its event.
    pub event: Event,
    /// When it first arrived, since the receiver started.
    pub at: Duration,
    /// Whether the receiver has answered one of its arrivals with a 2xx.
    pub acknowledged: bool,
}

/// What one endpoint received, deduplicated by `webhook-id`, and what went wrong.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Each delivery once, in the order of first arrivals.
    pub delivered: Vec<Delivered>,
    /// Requests that arrived, repeats included.
    pub arrivals: usize,
    /// Repeats of a `webhook-id` already received (at least once allows them).
    pub duplicates: usize,
    /// Requests whose signature verifies with none of the endpoint's secrets.
    pub signature_failures: Vec<String>,
    /// Requests without a `webhook-id` or an event body.
    pub unreadable: Vec<String>,
    /// Repeats of a `webhook-id` with another body than its first arrival.
    pub conflicts: Vec<String>,
    /// Changes sent out of order: one that first arrived after a later one, or one
    /// that arrived before the receiver had answered the one before it with a 2xx. (A
    /// change sent again after later ones is a repeat, which at least once allows: a
    /// sender that died before it recorded how far it got starts again from there.)
    pub out_of_order: Vec<String>,
    /// Changes that arrived while another of the same endpoint was in flight.
    pub overlaps: Vec<String>,
}

impl Summary {
    /// The `seq`s of the changes delivered, in order (test events left out).
    pub fn seqs(&self) -> Vec<u64> {
        self.delivered
            .iter()
            .filter_map(|delivered| delivered.event.seq())
            .collect()
    }

    /// How many of the changes delivered the receiver has acknowledged (answered one
    /// of their arrivals with a 2xx): the sender may move past those only.
    pub fn acknowledged(&self) -> usize {
        self.delivered
            .iter()
            .filter(|delivered| delivered.acknowledged && delivered.event.seq().is_some())
            .count()
    }

    /// Every breach of the sending rules, one line each: bad signatures, unreadable
    /// requests, conflicting repeats, changes out of order, overlapping sends.
    pub fn breaches(&self) -> Vec<String> {
        [
            &self.signature_failures,
            &self.unreadable,
            &self.conflicts,
            &self.out_of_order,
            &self.overlaps,
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect()
    }
}

/// Everything that arrived, by endpoint, and the secrets each endpoint signs with.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    endpoints: HashMap<String, Endpoint>,
    /// The endpoints that received anything, in order of their first request.
    order: Vec<String>,
    /// Endpoints started so far: the next one's number.
    started: u64,
}

/// One endpoint's side of the [`Ledger`].
#[derive(Debug, Default)]
struct Endpoint {
    /// Its number among the endpoints the ledger started (one forgotten and started
    /// again by a late delivery is another).
    number: u64,
    /// Every request it received, in order.
    arrivals: Vec<Arrival>,
    secrets: Vec<String>,
    /// Changes (not test events) that arrived and are not answered yet.
    open_changes: usize,
}

/// Which arrival a request is, for [`Ledger::answer`].
#[derive(Debug, Clone)]
pub(super) struct Ticket {
    endpoint: String,
    number: u64,
    index: usize,
}

impl Ledger {
    /// Records a request that just arrived; its ticket, for [`Ledger::answer`].
    pub(super) fn arrive(
        &mut self,
        endpoint: String,
        at: Duration,
        headers: HeaderMap,
        body: Bytes,
    ) -> Ticket {
        let event: Option<Event> = serde_json::from_slice(&body).ok();
        let change = event.as_ref().and_then(Event::seq).is_some();
        if self
            .endpoints
            .get(&endpoint)
            .is_none_or(|known| known.arrivals.is_empty())
        {
            self.order.push(endpoint.clone());
        }
        let mine = self.endpoint(&endpoint);
        // Test events may be sent beside a change; two changes may not.
        let overlapped = change && mine.open_changes > 0;
        let mut arrival = Arrival {
            endpoint: endpoint.clone(),
            at,
            wall: SystemTime::now(),
            headers,
            body,
            event,
            answer: None,
            verified_by: Vec::new(),
            rejection: None,
            overlapped,
        };
        if mine.secrets.is_empty() {
            arrival.rejection = Some("no secret is known for its endpoint".to_owned());
        }
        for secret in &mine.secrets {
            verify(&mut arrival, secret);
        }
        mine.open_changes += usize::from(change);
        mine.arrivals.push(arrival);
        Ticket {
            endpoint,
            number: mine.number,
            index: mine.arrivals.len() - 1,
        }
    }

    /// Records the answer to the arrival of `ticket`, unless it already has one, or its
    /// endpoint was forgotten since (a delivery arriving after that starts it afresh).
    pub(super) fn answer(&mut self, ticket: &Ticket, answer: Answer) {
        let Some(endpoint) = self
            .endpoints
            .get_mut(&ticket.endpoint)
            .filter(|endpoint| endpoint.number == ticket.number)
        else {
            return;
        };
        let arrival = &mut endpoint.arrivals[ticket.index];
        if arrival.answer.is_none() {
            arrival.answer = Some(answer);
            if arrival.event.as_ref().and_then(Event::seq).is_some() {
                endpoint.open_changes -= 1;
            }
        }
    }

    /// Adds a secret `endpoint` signs with, checking what already arrived against it
    /// too (a delivery may come before the test learns the secret).
    pub(super) fn trust(&mut self, endpoint: &str, secret: &str) {
        let mine = self.endpoint(endpoint);
        if mine.secrets.iter().any(|known| known == secret) {
            return;
        }
        mine.secrets.push(secret.to_owned());
        for arrival in &mut mine.arrivals {
            verify(arrival, secret);
        }
    }

    /// The endpoint named `name`, started if it is not there.
    fn endpoint(&mut self, name: &str) -> &mut Endpoint {
        let started = &mut self.started;
        self.endpoints.entry(name.to_owned()).or_insert_with(|| {
            *started += 1;
            Endpoint {
                number: *started,
                ..Endpoint::default()
            }
        })
    }

    /// Lets go of everything `endpoint` received, once it is judged.
    pub(super) fn forget(&mut self, endpoint: &str) {
        self.endpoints.remove(endpoint);
        self.order.retain(|known| known != endpoint);
    }

    fn arrivals_of(&self, endpoint: &str) -> &[Arrival] {
        self.endpoints
            .get(endpoint)
            .map_or(&[], |mine| mine.arrivals.as_slice())
    }

    /// Every request `endpoint` received, in order.
    pub(super) fn arrivals(&self, endpoint: &str) -> Vec<Arrival> {
        self.arrivals_of(endpoint).to_vec()
    }

    /// The endpoints that received anything, in order of their first request.
    pub(super) fn endpoints(&self) -> Vec<String> {
        self.order.clone()
    }

    /// What `endpoint` received, judged.
    pub(super) fn summary(&self, endpoint: &str) -> Summary {
        let arrivals = self.arrivals_of(endpoint);
        let mut summary = Summary {
            arrivals: arrivals.len(),
            ..Summary::default()
        };
        // Each webhook-id's first arrival, and its place among the deliveries.
        let mut first: HashMap<&str, (&Arrival, usize)> = HashMap::new();
        // The newest change so far: its seq.
        let mut newest: Option<u64> = None;
        for arrival in arrivals {
            let id = arrival.webhook_id().unwrap_or("(none)");
            let when = format!("{id} at {:.3}s", arrival.at.as_secs_f64());
            if arrival.verified_by.is_empty() {
                let why = arrival.rejection.as_deref().unwrap_or("not verified");
                summary.signature_failures.push(format!(
                    "{when}: its signature verifies with no secret of the endpoint: {why}"
                ));
            }
            let (Some(id), Some(event)) = (arrival.webhook_id(), &arrival.event) else {
                summary.unreadable.push(format!(
                    "{when}: no webhook-id, or a body that is not an event: {}",
                    String::from_utf8_lossy(&arrival.body)
                ));
                continue;
            };
            if arrival.overlapped {
                summary.overlaps.push(format!(
                    "{when}: arrived while another change was in flight"
                ));
            }
            let acknowledged = arrival.answer.is_some_and(|answer| answer.succeeded());
            let repeat = first.contains_key(id);
            match first.get(id) {
                Some(&(earlier, place)) => {
                    summary.duplicates += 1;
                    summary.delivered[place].acknowledged |= acknowledged;
                    if earlier.event.as_ref() != Some(event) {
                        summary.conflicts.push(format!(
                            "{when}: another event than its first arrival at {:.3}s",
                            earlier.at.as_secs_f64()
                        ));
                    }
                }
                None => {
                    first.insert(id, (arrival, summary.delivered.len()));
                    summary.delivered.push(Delivered {
                        webhook_id: id.to_owned(),
                        event: event.clone(),
                        at: arrival.at,
                        acknowledged,
                    });
                }
            }
            let Some(seq) = event.seq() else { continue };
            match newest {
                Some(last) if seq < last && !repeat => summary
                    .out_of_order
                    .push(format!("{when}: seq {seq} first arrived after seq {last}")),
                Some(last) if seq > last => {
                    let acknowledged = arrivals.iter().any(|earlier| {
                        earlier.event.as_ref().and_then(Event::seq) == Some(last)
                            && earlier
                                .answer
                                .is_some_and(|answer| answer.succeeded() && answer.at <= arrival.at)
                    });
                    if !acknowledged {
                        summary.out_of_order.push(format!(
                            "{when}: seq {seq} arrived before seq {last} had been answered \
                             with a 2xx"
                        ));
                    }
                }
                _ => {}
            }
            newest = newest.max(Some(seq));
        }
        summary
    }
}

impl Arrival {
    /// Its `webhook-id` header.
    pub fn webhook_id(&self) -> Option<&str> {
        self.header(standardwebhooks::HEADER_WEBHOOK_ID)
    }

    /// A header's value, if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    /// The signatures its `webhook-signature` header holds (space-separated), as sent.
    pub fn signatures(&self) -> Vec<&str> {
        self.header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE)
            .map_or_else(Vec::new, |value| value.split(' ').collect())
    }

    /// Whether its signature verifies with `secret` (`whsec_...`), by the reference
    /// implementation; why not if it does not.
    pub fn verify_with(&self, secret: &str) -> Result<(), String> {
        let webhook = Webhook::new(secret).map_err(|error| error.to_string())?;
        webhook
            .verify(&self.body, &self.headers)
            .map_err(|error| error.to_string())
    }
}

/// Checks `arrival` against one more secret, noting the secret if it verifies.
fn verify(arrival: &mut Arrival, secret: &str) {
    match arrival.verify_with(secret) {
        Ok(()) => {
            arrival.verified_by.push(secret.to_owned());
            arrival.rejection = None;
        }
        Err(why) if arrival.verified_by.is_empty() => arrival.rejection = Some(why),
        Err(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(ledger: &mut Ledger, endpoint: &str, seq: u64) -> Ticket {
        let body = serde_json::json!({
            "type": "task.updated",
            "timestamp": "2026-01-01T00:00:00Z",
            "data": { "seq": seq, "task_id": "t", "version": seq, "task": { "id": "t" } },
        });
        let body = Bytes::from(body.to_string());
        ledger.arrive(endpoint.to_owned(), Duration::ZERO, HeaderMap::new(), body)
    }

    #[test]
    fn an_answer_after_its_endpoint_was_forgotten_reaches_no_later_arrival() {
        let mut ledger = Ledger::default();
        let early = change(&mut ledger, "e", 1);
        ledger.forget("e");
        let late = change(&mut ledger, "e", 2);
        let answer = Answer {
            status: Some(200),
            at: Duration::ZERO,
        };
        ledger.answer(&early, answer);
        assert_eq!(ledger.arrivals("e")[0].answer, None, "the late one is open");
        // So a change beside it overlaps; once it is answered, none does.
        change(&mut ledger, "e", 3);
        assert!(ledger.arrivals("e")[1].overlapped);
        ledger.answer(&late, answer);
        assert_eq!(ledger.arrivals("e")[0].answer, Some(answer));
    }
}
