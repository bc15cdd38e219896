//! A typed client of the Tasklane HTTP API: the one the terminal client (`tasklane
//! task ...`) talks through, and whose connection set-up and event stream the checker
//! (`tasklane check`) shares.
//!
//! - [`Api`]: one server and one token; each call is one request (writes may be sent
//!   again after a network error, under the same `Idempotency-Key`: see [`Api::create`]);
//! - [`ApiError`]: why a call failed, told apart the way a caller acts on it: the
//!   server refused (a problem document), or could not be reached;
//! - [`stream`]: the change feed's event stream, opened and decoded.

pub mod stream;

use std::time::Duration;

use reqwest::{Method, StatusCode, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tasklane_server::domain::{Task, TaskAt, TaskList, TokenSecret};

pub use stream::{Events, Resume};

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How many times a write is sent in all when the network fails under it.
const WRITE_ATTEMPTS: u32 = 3;

/// A problem document (RFC 9457), as the server answers a refused request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Problem {
    /// The HTTP status.
    #[serde(default)]
    pub status: u16,
    /// The status's reason phrase.
    #[serde(default)]
    pub title: String,
    /// What was wrong.
    #[serde(default)]
    pub detail: String,
    /// The body member or parameter at fault, if one was.
    #[serde(default)]
    pub field: Option<String>,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.title, self.detail)
    }
}

impl std::error::Error for Problem {}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server answered with an error status.
    #[error("{}: {}", .0.title, .0.detail)]
    Refused(Problem),
    /// No answer: the server could not be reached, or the connection failed.
    #[error("cannot reach the server: {0}")]
    Unreachable(#[source] reqwest::Error),
    /// A write reached the server but had no conclusive answer to any of its attempts
    /// (the connection failed after it was sent, or the server answered `503`): it may
    /// or may not have been applied, and repeating the command would be another write.
    #[error(
        "no conclusive answer from the server to {attempts} attempt(s): the write may or \
         may not have been applied; look before repeating it"
    )]
    Unanswered {
        /// How many attempts were made.
        attempts: u32,
        /// Why the last one failed.
        #[source]
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An answer that is not what the API promises.
    #[error("unexpected answer from the server: {0}")]
    Unexpected(String),
}

impl ApiError {
    /// The refusal's status, if the server refused.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Refused(problem) => Some(problem.status),
            _ => None,
        }
    }
}

/// A server's base URL as given (`http://127.0.0.1:8080/`, `HTTP://Host`), in the one
/// spelling that names it (`http://127.0.0.1:8080`, `http://host`); an error for
/// anything but an `http` or `https` URL with a host and no query.
pub fn base_url(given: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(given.trim())
        .map_err(|e| format!("`{given}` is not a URL ({e}): expected http://host:port"))?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err(format!(
            "`{given}`: expected an http:// or https:// URL with a host"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{given}`: a server's URL has no query or fragment"
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// A connection set-up for one server: the bearer token on every request.
pub fn http_client(token: Option<&TokenSecret>) -> reqwest::ClientBuilder {
    let mut headers = header::HeaderMap::new();
    if let Some(token) = token {
        let bearer = format!("Bearer {}", token.reveal())
            .parse()
            .expect("a token secret is ASCII (checked when it is parsed)");
        headers.insert(header::AUTHORIZATION, bearer);
    }
    reqwest::Client::builder().default_headers(headers)
}

/// A task and the version an edit of it must name.
#[derive(Debug, Clone)]
pub struct Read {
    /// The task, as read.
    pub task: Task,
    /// The workspace's log position the read reflects.
    pub seq: u64,
}

/// One server, one token.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    /// A client of the server at `base` (`http://127.0.0.1:8080`), sending `token`.
    pub fn new(base: &str, token: Option<&TokenSecret>) -> Api {
        let http = http_client(token)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("a plain HTTP client builds");
        Api {
            http,
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// A client for event streams, which may last as long as they keep talking.
    pub fn for_streams(base: &str, token: Option<&TokenSecret>) -> Api {
        let http = http_client(token)
            .connect_timeout(REQUEST_TIMEOUT)
            .read_timeout(stream::SILENCE)
            .build()
            .expect("a plain HTTP client builds");
        Api {
            http,
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// One page of `GET /v1/tasks?{query}`.
    pub async fn list(&self, query: &str) -> Result<TaskList, ApiError> {
        let response = self.http.get(self.url(&format!("/v1/tasks?{query}")));
        json(checked(response.send().await).await?).await
    }

    /// Every task a query matches, walking its cursor from the first page.
    pub async fn list_all(&self, query: &str) -> Result<Vec<Task>, ApiError> {
        let mut tasks = Vec::new();
        let mut page = self.list(query).await?;
        loop {
            tasks.append(&mut page.data);
            let Some(cursor) = page.next_cursor.take() else {
                return Ok(tasks);
            };
            let encoded = encode(&cursor);
            page = self.list(&format!("{query}&cursor={encoded}")).await?;
        }
    }

    /// `GET /v1/tasks/{id}`.
    pub async fn get(&self, id: &str) -> Result<Read, ApiError> {
        let response = self.http.get(self.url(&format!("/v1/tasks/{id}")));
        let at: TaskAt = json(checked(response.send().await).await?).await?;
        Ok(Read {
            task: at.task,
            seq: at.seq,
        })
    }

    /// `POST /v1/tasks` with `body`. Sent again, under the same `Idempotency-Key`, when
    /// the network fails before an answer: the server applies it once.
    pub async fn create(&self, body: &Value) -> Result<Task, ApiError> {
        self.write(Method::POST, "/v1/tasks", Some(body), None)
            .await
    }

    /// `PATCH /v1/tasks/{id}` with a merge patch, if the task is still at `version`
    /// (`If-Match`); a `412` when it is not. Retried as [`Api::create`] is.
    pub async fn update(&self, id: &str, patch: &Value, version: i64) -> Result<Task, ApiError> {
        let path = format!("/v1/tasks/{id}");
        self.write(Method::PATCH, &path, Some(patch), Some(version))
            .await
    }

    /// `POST /v1/tasks/{id}/restore`. Retried as [`Api::create`] is.
    pub async fn restore(&self, id: &str) -> Result<Task, ApiError> {
        let path = format!("/v1/tasks/{id}/restore");
        self.write(Method::POST, &path, None, None).await
    }

    /// `DELETE /v1/tasks/{id}`, if the task is still at `version`. Sent once: a
    /// repeat after it was applied would find no task. So a failure after the request
    /// went out is [`ApiError::Unanswered`].
    pub async fn delete(&self, id: &str, version: i64) -> Result<(), ApiError> {
        let request = self
            .http
            .delete(self.url(&format!("/v1/tasks/{id}")))
            .header(header::IF_MATCH, format!("\"{version}\""));
        match checked(request.send().await).await {
            Ok(_) => Ok(()),
            Err(ApiError::Unreachable(cause)) if !cause.is_connect() => Err(ApiError::Unanswered {
                attempts: 1,
                cause: cause.into(),
            }),
            Err(ApiError::Refused(problem)) if problem.status == 503 => Err(ApiError::Unanswered {
                attempts: 1,
                cause: problem.into(),
            }),
            Err(error) => Err(error),
        }
    }

    /// A task's history (`GET /v1/tasks/{id}/changes`), newest first: changes as JSON
    /// objects (`seq`, `kind`, `version`, `task`, ...).
    pub async fn history(&self, id: &str) -> Result<Vec<Value>, ApiError> {
        #[derive(Deserialize)]
        struct History {
            data: Vec<Value>,
        }
        let path = format!("/v1/tasks/{id}/changes?limit=100");
        let response = self.http.get(self.url(&path));
        let history: History = json(checked(response.send().await).await?).await?;
        Ok(history.data)
    }

    /// One page of the change log after `since` (`GET /v1/changes`): its changes as
    /// JSON objects, and where the next page starts (`None` once at the head).
    pub async fn changes(&self, since: u64) -> Result<(Vec<Value>, Option<u64>), ApiError> {
        #[derive(Deserialize)]
        struct Log {
            data: Vec<Value>,
            next_since: u64,
            head: u64,
        }
        let path = format!("/v1/changes?since={since}&limit=1000");
        let response = self.http.get(self.url(&path));
        let log: Log = json(checked(response.send().await).await?).await?;
        let next = (log.next_since < log.head).then_some(log.next_since);
        Ok((log.data, next))
    }

    /// Opens the change feed's event stream from `from`.
    pub async fn stream(&self, from: Resume) -> Result<Events, ApiError> {
        let url = self.url("/v1/changes/stream");
        let request = match from {
            Resume::Since(seq) => self.http.get(format!("{url}?since={seq}")),
            Resume::After(seq) => self.http.get(url).header("Last-Event-ID", seq.to_string()),
        };
        let response = checked(request.send().await).await?;
        Ok(stream::events(response))
    }

    /// A write under one `Idempotency-Key` for all its attempts: a retry after a
    /// network error or a `503` cannot apply it twice, whether or not the first attempt
    /// arrived. If no attempt got through to the server (every connection refused),
    /// nothing was applied and the server is unreachable; if one did, and none was
    /// answered conclusively, the write is [`ApiError::Unanswered`].
    async fn write<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        version: Option<i64>,
    ) -> Result<T, ApiError> {
        let key = uuid::Uuid::new_v4().to_string();
        let mut attempt = 1;
        let mut delivered = false;
        loop {
            let mut request = self
                .http
                .request(method.clone(), self.url(path))
                .header("Idempotency-Key", &key);
            if let Some(version) = version {
                request = request.header(header::IF_MATCH, format!("\"{version}\""));
            }
            if let Some(body) = body {
                let kind = if method == Method::PATCH {
                    "application/merge-patch+json"
                } else {
                    "application/json"
                };
                request = request
                    .header(header::CONTENT_TYPE, kind)
                    .body(body.to_string());
            }
            let outcome = checked(request.send().await).await;
            let inconclusive: Option<Box<dyn std::error::Error + Send + Sync>> = match outcome {
                Err(ApiError::Unreachable(cause)) => {
                    delivered |= !cause.is_connect();
                    Some(cause.into())
                }
                // Not confirmed by the server: a retry under the key is safe (and the
                // answer to the first attempt, if it was applied).
                Err(ApiError::Refused(problem))
                    if problem.status == StatusCode::SERVICE_UNAVAILABLE.as_u16() =>
                {
                    delivered = true;
                    Some(problem.into())
                }
                // The first attempt's key is still being processed: wait for it.
                Err(ApiError::Refused(problem))
                    if problem.status == StatusCode::CONFLICT.as_u16()
                        && attempt < WRITE_ATTEMPTS =>
                {
                    delivered = true;
                    Some(problem.into())
                }
                outcome => return json(outcome?).await,
            };
            let cause = inconclusive.expect("conclusive outcomes returned above");
            if attempt == WRITE_ATTEMPTS {
                return Err(if delivered {
                    ApiError::Unanswered {
                        attempts: attempt,
                        cause,
                    }
                } else {
                    ApiError::Unreachable(
                        *cause
                            .downcast::<reqwest::Error>()
                            .expect("only refused connections leave a write undelivered"),
                    )
                });
            }
            attempt += 1;
            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
        }
    }
}

/// `text` as a query string value (every byte but the unreserved ones escaped).
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// A response if its status is a success; the server's problem otherwise.
async fn checked(
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<reqwest::Response, ApiError> {
    let response = sent.map_err(ApiError::Unreachable)?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.map_err(ApiError::Unreachable)?;
    let mut problem: Problem = serde_json::from_str(&body).unwrap_or_else(|_| Problem {
        status: status.as_u16(),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        detail: body.chars().take(200).collect(),
        field: None,
    });
    problem.status = status.as_u16();
    Err(ApiError::Refused(problem))
}

/// A success's JSON body.
async fn json<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, ApiError> {
    let body = response.bytes().await.map_err(ApiError::Unreachable)?;
    serde_json::from_slice(&body).map_err(|error| ApiError::Unexpected(error.to_string()))
}
