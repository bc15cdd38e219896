//! One checking client: sends a [`Request`] to an instance over HTTP and records it as
//! an [`Operation`], timed on the scenario's clock. A client waits for each answer
//! before sending its next request, as one user of the API does.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::json;
use tasklane_server::domain::TokenSecret;

use crate::history::{Cause, Clock, Operation, Outcome, Phase, Request, Seen};

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

impl Client {
    /// Client number `id`, timing its operations on `clock`, sending `token` (if any)
    /// as its bearer token.
    pub fn new(id: usize, clock: Clock, token: Option<&TokenSecret>) -> Self {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(token) = token {
            let bearer = format!("Bearer {}", token.reveal())
                .parse()
                .expect("a token secret is ASCII (checked on the command line)");
            headers.insert(reqwest::header::AUTHORIZATION, bearer);
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .default_headers(headers)
            .build()
            .expect("a plain HTTP client builds");
        Client { http, id, clock }
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
                reason: tasklane_server::errors::describe(&error),
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
                    "title": format!("checked by client {}", self.id),
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
                Outcome::Written {
                    task: response.json().await?,
                }
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
                    reason: format!("{status}: {}", body.chars().take(200).collect::<String>()),
                    retry_after,
                }
            }
        })
    }
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
