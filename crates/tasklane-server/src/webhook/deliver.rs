//! One delivery attempt: the signed request, and what came of it.
//!
//! Each attempt has a time limit, does not follow redirects (a `3xx` is a failure: a
//! redirect could point anywhere, past the address check), reads at most
//! [`RESPONSE_CAP`] of the answer, and goes through no proxy from the environment.
//! Only a `2xx` counts as delivered.

use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode, header};
use serde::Serialize;
use uuid::Uuid;

use super::signature::sign;
use super::target::{PublicOnly, check_literal};
use crate::domain::{Attempt, Change, SigningSecret, Task, TaskId, Timestamp};

/// The most of a receiver's answer that is read.
pub const RESPONSE_CAP: usize = 64 * 1024;

/// An event to deliver: its `webhook-id`, type, position and body.
#[derive(Debug, Clone)]
pub struct Event {
    /// The `webhook-id`: the same for every attempt, so receivers deduplicate by it.
    pub id: String,
    /// `task.created`, ..., or `webhook.test`.
    pub kind: &'static str,
    /// The change's `seq` (none for a test event).
    pub seq: Option<u64>,
    /// The JSON body.
    pub body: Vec<u8>,
}

#[derive(Serialize)]
struct Payload<D> {
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: Timestamp,
    data: D,
}

#[derive(Serialize)]
struct ChangeData<'a> {
    seq: u64,
    task_id: TaskId,
    version: i64,
    task: Option<&'a Task>,
}

#[derive(Serialize)]
struct TestData {
    webhook_id: Uuid,
}

impl Event {
    /// Webhook `webhook`'s delivery of `change`: the task as the write left it (none
    /// for a delete), its version, and the time the write committed.
    pub fn of_change(webhook: Uuid, change: &Change) -> Self {
        let payload = Payload {
            kind: change.kind.as_str(),
            timestamp: change.at,
            data: ChangeData {
                seq: change.seq,
                task_id: change.task_id,
                version: change.version,
                task: change.task.as_ref(),
            },
        };
        Event {
            id: format!("msg_{}_{}", webhook.simple(), change.seq),
            kind: change.kind.as_str(),
            seq: Some(change.seq),
            body: serde_json::to_vec(&payload).expect("a change always serialises"),
        }
    }

    /// A `webhook.test` event for webhook `webhook`.
    pub fn test(webhook: Uuid) -> Self {
        let payload = Payload {
            kind: "webhook.test",
            timestamp: Timestamp::now(),
            data: TestData {
                webhook_id: webhook,
            },
        };
        Event {
            id: format!("msg_test_{}", Uuid::new_v4().simple()),
            kind: "webhook.test",
            seq: None,
            body: serde_json::to_vec(&payload).expect("a test event always serialises"),
        }
    }
}

/// What came of an attempt.
#[derive(Debug)]
pub struct Outcome {
    /// The attempt, as recorded.
    pub attempt: Attempt,
    /// How long the receiver asked to be left alone (`Retry-After`), if it did.
    pub retry_after: Option<Duration>,
}

/// Sends deliveries.
#[derive(Debug, Clone)]
pub struct Deliverer {
    client: reqwest::Client,
    allow_private: bool,
}

impl Deliverer {
    /// A deliverer whose attempts last at most `timeout`, reaching only public
    /// addresses unless `allow_private`.
    pub fn new(timeout: Duration, allow_private: bool) -> Self {
        let mut client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("Tasklane/", env!("CARGO_PKG_VERSION")));
        if !allow_private {
            client = client.dns_resolver(std::sync::Arc::new(PublicOnly));
        }
        Deliverer {
            client: client
                .build()
                .expect("the HTTP client's settings are valid"),
            allow_private,
        }
    }

    /// Whether targets on private addresses are allowed.
    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// Sends `event` to `url`, signed with each of `secrets`.
    pub async fn attempt(&self, url: &str, secrets: &[SigningSecret], event: &Event) -> Outcome {
        let attempted_at = Timestamp::now();
        let started = Instant::now();
        let result = self.send(url, secrets, event).await;
        // Whole microseconds, as the attempt is stored.
        let latency_ms = started.elapsed().as_micros() as f64 / 1000.0;
        let (status_code, error, retry_after) = match result {
            Ok((status, _)) if status.is_success() => (Some(status.as_u16()), None, None),
            Ok((status, headers)) => (
                Some(status.as_u16()),
                Some(refusal(status)),
                retry_after(&headers),
            ),
            Err(error) => (None, Some(error), None),
        };
        Outcome {
            attempt: Attempt {
                id: 0,
                event_id: event.id.clone(),
                kind: event.kind.to_owned(),
                seq: event.seq,
                attempted_at,
                status_code,
                latency_ms,
                error,
            },
            retry_after,
        }
    }

    async fn send(
        &self,
        url: &str,
        secrets: &[SigningSecret],
        event: &Event,
    ) -> Result<(StatusCode, HeaderMap), String> {
        let parsed = url::Url::parse(url).map_err(|error| format!("bad URL: {error}"))?;
        if !self.allow_private {
            let host = parsed.host().ok_or("the URL names no host")?;
            check_literal(&host).map_err(|error| error.to_string())?;
        }
        let timestamp = Timestamp::now().as_micros().div_euclid(1_000_000);
        let mut response = self
            .client
            .post(parsed)
            .header(header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &event.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                sign(secrets, &event.id, timestamp, &event.body),
            )
            .body(event.body.clone())
            .send()
            .await
            .map_err(|error| failure(&error))?;
        let (status, headers) = (response.status(), response.headers().clone());
        // Read (a bounded part of) the answer, so that a receiver that acknowledges
        // before it has read the request is not cut off, and the connection can be
        // reused; an answer that does not arrive in time is a failure.
        let mut read = 0;
        while read <= RESPONSE_CAP {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                Ok(None) => break,
                Err(error) => return Err(failure(&error)),
            }
        }
        Ok((status, headers))
    }
}

/// Why a receiver's answer is not a delivery.
fn refusal(status: StatusCode) -> String {
    if status.is_redirection() {
        format!("the receiver answered {status}; redirects are not followed")
    } else {
        format!("the receiver answered {status}")
    }
}

/// A failed request in words: what failed, and the deepest cause.
fn failure(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "no answer in time"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "the answer broke off"
    } else {
        "the request failed"
    };
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    format!("{what}: {cause}")
}

/// `Retry-After`, in seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn retry_after_is_read_in_seconds_or_as_a_date() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(120)));
        let later = std::time::SystemTime::now() + Duration::from_secs(600);
        let date = httpdate::fmt_http_date(later);
        headers.insert(header::RETRY_AFTER, HeaderValue::from_str(&date).unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(wait > Duration::from_secs(590) && wait <= Duration::from_secs(600));
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn an_event_id_is_stable_per_webhook_and_change() {
        let task =
            serde_json::from_value::<crate::domain::NewTask>(serde_json::json!({"title": "t"}))
                .unwrap()
                .into_task(Timestamp::now());
        let change = Change {
            seq: 7,
            kind: crate::domain::ChangeKind::Updated,
            task_id: task.id,
            version: task.version,
            task: Some(task),
            at: Timestamp::now(),
        };
        let webhook = Uuid::new_v4();
        let (first, again) = (
            Event::of_change(webhook, &change),
            Event::of_change(webhook, &change),
        );
        assert_eq!(first.id, again.id);
        assert_eq!(first.body, again.body);
        assert_ne!(Event::of_change(Uuid::new_v4(), &change).id, first.id);
        let body: serde_json::Value = serde_json::from_slice(&first.body).unwrap();
        assert_eq!(body["type"], "task.updated");
        assert_eq!(body["data"]["seq"], 7);
        assert_eq!(body["data"]["task"]["id"], body["data"]["task_id"]);
    }
}
