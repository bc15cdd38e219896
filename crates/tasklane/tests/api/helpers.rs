//! `spawn_app()`: a real Tasklane server on a random port over a fresh SQLite file, and
//! a client with one helper per API call.

use std::num::NonZeroU64;
use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tasklane_server::config::ServeArgs;
use tasklane_server::domain::{Member, Workspace};
use tasklane_server::http::AuthMode;
use tasklane_server::startup::Application;
use tasklane_server::store::issue;
use tasklane_server::telemetry::LogFormat;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::common::{TestDatabase, fresh_database};

pub struct TestApp {
    pub base: String,
    /// `--metrics-listen`'s base URL, when it was given.
    pub metrics_base: Option<String>,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    database: Option<TestDatabase>,
}

/// A server over a new, empty database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A server over a new, empty database, with `configure` applied to its options.
pub async fn spawn_app_with(configure: impl FnOnce(&mut ServeArgs)) -> TestApp {
    let database = fresh_database().await;
    let mut app = spawn_app_configured(&database, configure).await;
    app.database = Some(database);
    app
}

/// A server over a new, empty database, with `configure` applied to its default test
/// options.
pub async fn spawn_configured(configure: impl FnOnce(&mut ServeArgs)) -> TestApp {
    let database = fresh_database().await;
    let mut app = spawn_app_configured(&database, configure).await;
    app.database = Some(database);
    app
}

/// A server over `database` (to restart one on the same data), with the test Redis if
/// this run has one.
pub async fn spawn_app_on(database: &TestDatabase) -> TestApp {
    spawn_app_configured(database, |_| {}).await
}

/// A server over a new, empty database that requires tokens (`--auth token`), with
/// `configure` applied to its options; returns it and its database, to issue tokens on.
pub async fn spawn_authenticated_app(
    configure: impl FnOnce(&mut ServeArgs),
) -> (TestApp, TestDatabase) {
    let database = fresh_database().await;
    let app = spawn_app_configured(&database, |args| {
        args.auth = Some(AuthMode::Token);
        configure(args);
    })
    .await;
    (app, database)
}

/// A server over `database` with `configure` applied to its default test options.
pub async fn spawn_app_configured(
    database: &TestDatabase,
    configure: impl FnOnce(&mut ServeArgs),
) -> TestApp {
    let mut args = ServeArgs {
        listen: "127.0.0.1:0".parse().unwrap(),
        auth: None,
        rate_limit: 0,
        auth_failure_limit: 0,
        cors_origin: Vec::new(),
        request_timeout_secs: 30,
        body_read_timeout_secs: 10,
        header_read_timeout_secs: 10,
        idle_timeout_secs: 75,
        max_connections: 4096,
        database_url: database.url.parse().unwrap(),
        redis_url: database
            .redis
            .as_ref()
            .map(|redis| redis.url.parse().unwrap()),
        redis_key_prefix: database
            .redis
            .as_ref()
            .map_or("tasklane".to_owned(), |redis| redis.prefix.clone()),
        redis_timeout_ms: 500,
        consistency: None,
        cache_mib: 16,
        cache_ttl_secs: 300,
        feed_poll_ms: 1000,
        feed_buffer: 4096,
        max_streams: None,
        stream_heartbeat_secs: 10,
        changes_retention: Duration::from_secs(7 * 86_400),
        changes_retention_count: NonZeroU64::new(100_000).unwrap(),
        webhook_allow_private: false,
        webhook_timeout: Duration::from_secs(10),
        webhook_lease: Duration::from_secs(30),
        webhook_first_retry: Duration::from_secs(5),
        webhook_attempts: 10,
        secret_key: None,
        metrics_listen: None,
        log_slow_ms: 1000,
        log_format: LogFormat::Text,
        log: "warn".to_owned(),
        baselines: Default::default(),
    };
    configure(&mut args);
    let app = Application::build(&args).await.expect("the server starts");
    let base = format!("http://{}", app.address());
    let metrics_base = app
        .metrics_address()
        .map(|address| format!("http://{address}"));
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp {
        base,
        metrics_base,
        client: reqwest::Client::new(),
        stop: Some(stop),
        server: Some(server),
        database: None,
    }
}

impl TestApp {
    /// A client of a server started elsewhere (a [`ServerProcess`]'s `base`); dropping
    /// it leaves the server running.
    #[allow(dead_code)] // the API suite sends its processes plain requests
    pub fn of(base: &str) -> TestApp {
        TestApp {
            base: base.to_owned(),
            metrics_base: None,
            client: reqwest::Client::new(),
            stop: None,
            server: None,
            database: None,
        }
    }

    /// The same server, as seen by a client that sends `Authorization: Bearer {secret}`
    /// with every request. Dropping it leaves the server running.
    pub fn as_holder_of(&self, secret: &str) -> TestApp {
        let mut headers = reqwest::header::HeaderMap::new();
        let bearer = format!("Bearer {secret}").parse().unwrap();
        headers.insert(reqwest::header::AUTHORIZATION, bearer);
        TestApp {
            base: self.base.clone(),
            metrics_base: self.metrics_base.clone(),
            client: reqwest::Client::builder()
                .default_headers(headers)
                .build()
                .unwrap(),
            stop: None,
            server: None,
            database: None,
        }
    }

    /// Stops the server gracefully and waits until it has closed the database, which
    /// is handed back to start another server on.
    pub async fn stop(mut self) -> TestDatabase {
        self.stop.take().unwrap().send(()).unwrap();
        self.server.take().unwrap().await.unwrap().unwrap();
        self.database.take().expect("a server from spawn_app")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post_task(&self, body: &Value) -> Response {
        self.client
            .post(self.url("/v1/tasks"))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Creates a task and returns it, asserting `201`.
    pub async fn create(&self, body: Value) -> Value {
        let response = self.post_task(&body).await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{:?}",
            response.text().await
        );
        response.json().await.unwrap()
    }

    pub async fn create_titled(&self, title: &str) -> Value {
        self.create(json!({ "title": title })).await
    }

    pub async fn get_task(&self, id: &str) -> Response {
        self.client
            .get(self.url(&format!("/v1/tasks/{id}")))
            .send()
            .await
            .unwrap()
    }

    pub async fn patch_task(&self, id: &str, body: &Value, if_match: Option<&str>) -> Response {
        let mut request = self
            .client
            .patch(self.url(&format!("/v1/tasks/{id}")))
            .header("content-type", "application/merge-patch+json")
            .body(body.to_string());
        if let Some(etag) = if_match {
            request = request.header("if-match", etag);
        }
        request.send().await.unwrap()
    }

    pub async fn delete_task(&self, id: &str, if_match: Option<&str>) -> Response {
        let mut request = self.client.delete(self.url(&format!("/v1/tasks/{id}")));
        if let Some(etag) = if_match {
            request = request.header("if-match", etag);
        }
        request.send().await.unwrap()
    }

    /// `GET {path}`.
    pub async fn get_raw(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// `GET {path}`'s JSON body, asserting `200`.
    pub async fn get_ok(&self, path: &str) -> Value {
        let response = self.get_raw(path).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{path}: {:?}",
            response.text().await
        );
        response.json().await.unwrap()
    }

    /// `GET /v1/changes?{query}`.
    pub async fn changes_raw(&self, query: &str) -> Response {
        self.get_raw(&format!("/v1/changes?{query}")).await
    }

    /// A page of the change log, asserting `200`.
    pub async fn changes(&self, query: &str) -> Value {
        self.get_ok(&format!("/v1/changes?{query}")).await
    }

    /// `GET /v1/tasks/{id}/changes?{query}`.
    pub async fn history_raw(&self, id: &str, query: &str) -> Response {
        self.get_raw(&format!("/v1/tasks/{id}/changes?{query}"))
            .await
    }

    /// A page of a task's history, asserting `200`.
    pub async fn history(&self, id: &str, query: &str) -> Value {
        self.get_ok(&format!("/v1/tasks/{id}/changes?{query}"))
            .await
    }

    /// `POST /v1/tasks/{id}/restore`, with an `Idempotency-Key` when given.
    pub async fn restore(&self, id: &str, key: Option<&str>) -> Response {
        let mut request = self
            .client
            .post(self.url(&format!("/v1/tasks/{id}/restore")));
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        request.send().await.unwrap()
    }

    /// Issues a token in this client's workspace, asserting `201`.
    pub async fn issue_token(&self, member: &str) -> Value {
        let response = self
            .client
            .post(self.url("/v1/tokens"))
            .json(&json!({ "member": member }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    /// This client's workspace's tokens.
    pub async fn tokens(&self) -> Vec<Value> {
        let response = self
            .client
            .get(self.url("/v1/tokens"))
            .send()
            .await
            .unwrap();
        response.json().await.unwrap()
    }

    pub async fn revoke_token(&self, id: &str) -> Response {
        let path = format!("/v1/tokens/{id}");
        self.client.delete(self.url(&path)).send().await.unwrap()
    }

    pub async fn list_raw(&self, query: &str) -> Response {
        self.get_raw(&format!("/v1/tasks?{query}")).await
    }

    /// A list page, asserting `200`.
    pub async fn list(&self, query: &str) -> Value {
        self.get_ok(&format!("/v1/tasks?{query}")).await
    }

    /// The titles a list query returns, in order.
    pub async fn titles(&self, query: &str) -> Vec<String> {
        titles(&self.list(query).await)
    }
}

/// Issues a token for `member` of `workspace` straight in the database, as
/// `tasklane token create` does; returns its secret.
pub async fn token(database: &TestDatabase, workspace: &str, member: &str) -> String {
    let storage = crate::common::open_store(&database.url).await.unwrap();
    let member = Member::try_from(member.to_owned()).unwrap();
    let (_, secret) = issue(&*storage.tokens, &Workspace::named(workspace), member)
        .await
        .unwrap();
    secret.reveal().to_owned()
}

pub fn titles(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["title"].as_str().unwrap().to_owned())
        .collect()
}

pub fn etag(response: &Response) -> String {
    response.headers()["etag"].to_str().unwrap().to_owned()
}

/// Asserts an RFC 9457 problem with this status, returning its body.
pub async fn problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16());
    assert_eq!(body["title"], status.canonical_reason().unwrap());
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    body
}

// Raw HTTP/1.1, for what reqwest will not send (a request without a Host, a body that
// never comes) and for watching the connection itself.

/// The `host:port` a test server listens on.
pub fn address(base: &str) -> String {
    base.trim_start_matches("http://").to_owned()
}

/// A connection to `base` that has sent `head` (and nothing after it).
pub async fn connect_and_send(base: &str, head: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address(base)).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

/// Reads one response's status and body, waiting at most `within`; `None` when the
/// server closed the connection without a response or did not answer in time.
pub async fn read_response(
    stream: &mut TcpStream,
    within: std::time::Duration,
) -> Option<(u16, String)> {
    let mut received = Vec::new();
    let read = async {
        let mut chunk = [0; 4096];
        loop {
            let text = String::from_utf8_lossy(&received).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if received.len() >= end + 4 + length {
                    let status = text[9..12].parse().ok()?;
                    return Some((status, text[end + 4..].to_owned()));
                }
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(within, read).await.ok().flatten()
}

/// A `tasklane serve` process (the real binary) on a free port; killed when dropped.
pub struct ServerProcess {
    pub base: String,
    pub child: std::process::Child,
}

impl ServerProcess {
    /// Starts the binary on `database_url` with extra `serve` options, and waits until
    /// it answers `/healthz`.
    pub async fn start(database_url: &str, options: &[String]) -> ServerProcess {
        Self::start_limited(database_url, options, None).await
    }

    /// As [`ServerProcess::start`], with the process's file descriptor limit (soft and
    /// hard) set to `descriptors` when given.
    pub async fn start_limited(
        database_url: &str,
        options: &[String],
        descriptors: Option<u32>,
    ) -> ServerProcess {
        Self::spawn(database_url, options, descriptors, None).await
    }

    /// As [`ServerProcess::start`], logging with the filter `log` (`--log`) into the file
    /// `into`.
    #[allow(dead_code)] // the connections suite shares these helpers
    pub async fn start_logging(
        database_url: &str,
        options: &[String],
        log: &str,
        into: &std::path::Path,
    ) -> ServerProcess {
        Self::spawn(database_url, options, None, Some((log, into))).await
    }

    async fn spawn(
        database_url: &str,
        options: &[String],
        descriptors: Option<u32>,
        logging: Option<(&str, &std::path::Path)>,
    ) -> ServerProcess {
        let port = crate::common::closed_port();
        let binary = env!("CARGO_BIN_EXE_tasklane");
        let mut command = match descriptors {
            None => std::process::Command::new(binary),
            Some(limit) => {
                let mut shell = std::process::Command::new("sh");
                shell.args([
                    "-c",
                    &format!("ulimit -n {limit} && exec \"$0\" \"$@\""),
                    binary,
                ]);
                shell
            }
        };
        let (log, stderr) = match logging {
            Some((log, into)) => (log, std::fs::File::create(into).unwrap().into()),
            None => ("warn", std::process::Stdio::null()),
        };
        let child = command
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--log",
                log,
            ])
            .args(options)
            .env("TASKLANE_DATABASE_URL", database_url)
            .stderr(stderr)
            .spawn()
            .unwrap();
        let server = ServerProcess {
            base: format!("http://127.0.0.1:{port}"),
            child,
        };
        let client = reqwest::Client::new();
        for _ in 0..200 {
            let health = client.get(format!("{}/healthz", server.base)).send().await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return server;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("tasklane serve did not come up on {}", server.base);
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs one statement on a test database directly, behind the server's back, as an
/// operator's hand edit (or an older version's write) would.
pub async fn execute_sql(url: &str, statement: &str) {
    use sqlx::Connection;
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::raw_sql(statement).execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::raw_sql(statement).execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
    }
}
