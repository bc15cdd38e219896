//! One checking client: sends a [`Request`] to an instance over HTTP and records it as
//! an [`Operation`], timed on the scenario's clock. A client waits for each answer
//! before sending its next request, as one user of the API does. A client made
//! [for streams](Client::for_streams) opens the change feed's event stream instead,
//! and decodes its server-sent events. The connection set-up (the bearer token) and
//! the event stream's decoding are the API client's (`tasklane-client`), which the
//! terminal client uses too; the requests stay here, recorded as the checker judges
//! them.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::json;
use tasklane_client::http_client as builder;
use tasklane_client::stream::SILENCE as STREAM_SILENCE;
pub use tasklane_client::{Events, Resume};
use tasklane_server::domain::TokenSecret;

use crate::history::{Cause, Change, Clock, Operation, Outcome, Phase, Request, Seen};

/// How long a request may take before it counts as failed (and, for a write,
/// indeterminate).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The instances under check, and what marks this run's tasks.
#[derive(Debug, Clone)]
pub struct Target {
    /// Base URLs (`http://127.0.0.1:8080`), one per instance.
    pub instances: Vec<String>,
    /// The bearer token every request sends, for servers that require one.
    pub token: Option<TokenSecret>,
    /// A word in the description of every task this run creates; every list read asks
    /// for it (`q=`), so that other data in the database never reaches the checks.
    pub marker: String,
}

/// One client of the API.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    id: usize,
    clock: Clock,
}

#[derive(Deserialize)]
struct Page {
    data: Vec<Seen>,
    page: u32,
    next_cursor: Option<String>,
}

/// A webhook as `POST /v1/webhooks` answers it.
#[derive(Debug, Clone, Deserialize)]
pub struct Webhook {
    /// Its id.
    pub id: String,
    /// The secret its deliveries are signed with (shown only on creation).
    pub secret: String,
    /// The log position it starts after.
    pub position: u64,
}

/// A change as the change log (`GET /v1/changes`) lists it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Logged {
    /// The change.
    #[serde(flatten)]
    pub change: Change,
    /// When it committed.
    pub at: String,
}

impl Client {
    /// Client number `id`, timing its operations on `clock`, sending `token` (if any)
    /// as its bearer token.
    pub fn new(id: usize, clock: Clock, token: Option<&TokenSecret>) -> Self {
        let http = builder(token).timeout(REQUEST_TIMEOUT);
        Client {
            http: http.build().expect("a plain HTTP client builds"),
            id,
            clock,
        }
    }

    /// Client number `id` for event streams: an answer may last as long as it keeps
    /// talking, but may not fall silent for longer than a heartbeat allows.
    pub fn for_streams(id: usize, clock: Clock, token: Option<&TokenSecret>) -> Self {
        let http = builder(token)
            .connect_timeout(REQUEST_TIMEOUT)
            .read_timeout(STREAM_SILENCE);
        Client {
            http: http.build().expect("a plain HTTP client builds"),
            id,
            clock,
        }
    }

    /// Opens the change feed's event stream (`GET /v1/changes/stream`) on instance
    /// `instance` of `target`, from `from`; why not, if the server answered otherwise.
    pub async fn stream(
        &self,
        target: &Target,
        instance: usize,
        from: Resume,
    ) -> Result<Events, (Cause, String)> {
        let url = format!("{}/v1/changes/stream", target.instances[instance]);
        let request = match from {
            Resume::Since(seq) => self.http.get(format!("{url}?since={seq}")),
            Resume::After(seq) => self.http.get(url).header("Last-Event-ID", seq.to_string()),
        };
        Ok(tasklane_client::stream::events(ok(request).await?))
    }

    /// The log position a list read on instance `instance` reflects (its `seq`): where
    /// following the feed must start to miss nothing written after it.
    pub async fn position(&self, target: &Target, instance: usize) -> Result<u64, (Cause, String)> {
        #[derive(Deserialize)]
        struct Listed {
            seq: u64,
        }
        let url = format!("{}/v1/tasks?limit=1", target.instances[instance]);
        Ok(self.read::<Listed>(&url).await?.seq)
    }

    /// The log's head (`GET /v1/changes`), read on instance `instance`, after `since`.
    pub async fn head(
        &self,
        target: &Target,
        instance: usize,
        since: u64,
    ) -> Result<u64, (Cause, String)> {
        #[derive(Deserialize)]
        struct Changes {
            head: u64,
        }
        let base = &target.instances[instance];
        let url = format!("{base}/v1/changes?since={since}&limit=1");
        Ok(self.read::<Changes>(&url).await?.head)
    }

    /// The log's changes after `since` (`GET /v1/changes`), read on instance
    /// `instance` page by page up to the head it reports; and that head.
    pub async fn log(
        &self,
        target: &Target,
        instance: usize,
        since: u64,
    ) -> Result<(Vec<Logged>, u64), (Cause, String)> {
        #[derive(Deserialize)]
        struct Page {
            data: Vec<Logged>,
            next_since: u64,
            head: u64,
        }
        let base = &target.instances[instance];
        let (mut changes, mut since) = (Vec::new(), since);
        loop {
            let url = format!("{base}/v1/changes?since={since}&limit=1000");
            let page = self.read::<Page>(&url).await?;
            changes.extend(page.data);
            if page.next_since >= page.head {
                return Ok((changes, page.head));
            }
            since = page.next_since;
        }
    }

    /// Registers a webhook to `url` for every kind of change (`POST /v1/webhooks`) on
    /// instance `instance`.
    pub async fn create_webhook(
        &self,
        target: &Target,
        instance: usize,
        url: &str,
    ) -> Result<Webhook, (Cause, String)> {
        let request = self
            .http
            .post(format!("{}/v1/webhooks", target.instances[instance]))
            .json(&json!({ "url": url, "description": "tasklane check" }));
        let response = request.send().await.map_err(failed)?;
        let status = response.status();
        if status != StatusCode::CREATED {
            let body = response.text().await.unwrap_or_default();
            return Err((Cause::Status(status.as_u16()), answered(status, &body)));
        }
        response.json().await.map_err(failed)
    }

    /// Deletes webhook `id` (`DELETE /v1/webhooks/{id}`) on instance `instance`.
    pub async fn delete_webhook(
        &self,
        target: &Target,
        instance: usize,
        id: &str,
    ) -> Result<(), (Cause, String)> {
        let url = format!("{}/v1/webhooks/{id}", target.instances[instance]);
        let response = self.http.delete(url).send().await.map_err(failed)?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err((Cause::Status(status.as_u16()), answered(status, &body)));
        }
        Ok(())
    }

    /// Whether instance `instance` serves reads through its cache (`/readyz` says
    /// `ready`, not `degraded`). Asking also makes it repair what it owes its cache, if
    /// its Redis answers.
    pub async fn cached(&self, target: &Target, instance: usize) -> bool {
        #[derive(Deserialize)]
        struct Readiness {
            status: String,
        }
        let url = format!("{}/readyz", target.instances[instance]);
        let readiness = self.read::<Readiness>(&url).await;
        readiness.is_ok_and(|readiness| readiness.status == "ready")
    }

    /// A `200`'s JSON body; why not, otherwise.
    async fn read<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, (Cause, String)> {
        ok(self.http.get(url)).await?.json().await.map_err(failed)
    }

    /// Microseconds since the scenario began, on this client's clock.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Sends `request` to instance `instance` of `target` and records what happened.
    pub async fn perform(
        &self,
        target: &Target,
        instance: usize,
        phase: Phase,
        request: Request,
    ) -> Operation {
        let start_us = self.clock.now();
        let outcome = self
            .send(target, &target.instances[instance], &request)
            .await
            .unwrap_or_else(|error| Outcome::Failed {
                cause: cause_of(&error),
                reason: describe(&error),
                retry_after: None,
            });
        Operation {
            client: self.id,
            instance,
            start_us,
            end_us: self.clock.now(),
            phase,
            request,
            outcome,
        }
    }

    async fn send(
        &self,
        target: &Target,
        base: &str,
        request: &Request,
    ) -> Result<Outcome, reqwest::Error> {
        let response = match request {
            Request::Create { status, assignee } => {
                let body = json!({
                    "title": title(self.id),
                    "description": target.marker,
                    "status": status,
                    "assignee": assignee,
                });
                self.http.post(format!("{base}/v1/tasks")).json(&body)
            }
            Request::Update {
                id,
                status,
                assignee,
            } => self
                .http
                .patch(format!("{base}/v1/tasks/{id}"))
                .header("content-type", "application/merge-patch+json")
                .body(json!({ "status": status, "assignee": assignee }).to_string()),
            Request::Delete { id } => self.http.delete(format!("{base}/v1/tasks/{id}")),
            Request::Get { id } => self.http.get(format!("{base}/v1/tasks/{id}")),
            Request::List { query, .. } => self.http.get(format!("{base}/v1/tasks?{query}")),
        }
        .send()
        .await?;
        let status = response.status();
        Ok(match (request, status) {
            (_, StatusCode::NOT_FOUND) if request.task().is_some() => Outcome::Absent,
            (Request::Delete { .. }, StatusCode::NO_CONTENT) => Outcome::Deleted,
            (Request::Create { .. } | Request::Update { .. }, s) if s.is_success() => {
                Outcome::written(response.json().await?)
            }
            (Request::Get { .. }, StatusCode::OK) => Outcome::Found {
                task: response.json().await?,
            },
            (Request::List { .. }, StatusCode::OK) => {
                let page: Page = response.json().await?;
                Outcome::Listed {
                    complete: page.page == 1 && page.next_cursor.is_none(),
                    tasks: page.data,
                    next_cursor: page.next_cursor,
                }
            }
            (_, status) => {
                // Whole seconds (RFC 9110 §10.2.3), which is what Tasklane sends.
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|value| value.to_str().ok()?.trim().parse().ok())
                    .map(Duration::from_secs);
                let body = response.text().await.unwrap_or_default();
                Outcome::Failed {
                    cause: Cause::Status(status.as_u16()),
                    reason: answered(status, &body),
                    retry_after,
                }
            }
        })
    }
}

/// The title of the tasks client `id` creates ([`author`] reads it back).
pub fn title(id: usize) -> String {
    format!("checked by client {id}")
}

/// The client whose create made a task with this title, if it is one of [`title`]'s.
pub fn author(title: &str) -> Option<usize> {
    title.strip_prefix("checked by client ")?.parse().ok()
}

/// Sends `request`; its response if it is a `200`, else why not.
async fn ok(request: reqwest::RequestBuilder) -> Result<reqwest::Response, (Cause, String)> {
    let response = request.send().await.map_err(failed)?;
    let status = response.status();
    if status != StatusCode::OK {
        let body = response.text().await.unwrap_or_default();
        return Err((Cause::Status(status.as_u16()), answered(status, &body)));
    }
    Ok(response)
}

/// A client error as a failure: its kind, and what happened in full.
fn failed(error: reqwest::Error) -> (Cause, String) {
    (cause_of(&error), describe(&error))
}

/// An error status and the start of its body, as the report quotes it.
fn answered(status: StatusCode, body: &str) -> String {
    format!("{status}: {}", body.chars().take(200).collect::<String>())
}

/// A client error in full, causes included.
fn describe(error: &reqwest::Error) -> String {
    tasklane_server::errors::describe(error)
}

/// What kind of failure a client error is. reqwest says "error sending request" for
/// most; the refused connection is found among its causes.
pub(super) fn cause_of(error: &reqwest::Error) -> Cause {
    let refused = std::iter::successors(Some(error as &dyn std::error::Error), |e| e.source())
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::ConnectionRefused);
    if refused {
        Cause::Refused
    } else if error.is_timeout() {
        Cause::Timeout
    } else if error.is_decode() {
        Cause::Unreadable
    } else {
        Cause::Connection
    }
}
