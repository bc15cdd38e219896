//! The services an integration test runs on.
//!
//! - The database, chosen by `TASKLANE_TEST_STORE`: `sqlite` (the default: a file in a
//!   fresh temporary directory) or `postgres` (a fresh schema in the database
//!   `TASKLANE_TEST_POSTGRES_URL` names).
//! - A Redis, when `TASKLANE_TEST_REDIS_URL` is set: each test gets its own key prefix.
//! - Services of a test's own, to hurt: a `redis-server`, a PostgreSQL cluster.
//!
//! `scripts/test` starts what is needed and runs every suite on each combination.

#![allow(dead_code)] // each test crate uses its own part of this module

use std::sync::Arc;
use std::time::Duration;

pub use tasklane_check::supervisor::RedisServer;
use tasklane_check::supervisor::{Postgres, find_postgres_bin};
use tasklane_server::cache::{Consistency, RedisTier};
use tasklane_server::config::ServeArgs;
use tasklane_server::store::{Opening, Storage};
use tasklane_server::telemetry::Registry;
use tempfile::TempDir;

/// A database (and Redis key space) of its own for one test; keep it alive as long as
/// the test uses it.
pub struct TestDatabase {
    pub url: String,
    pub redis: Option<TestRedis>,
    _dir: Option<TempDir>,
}

/// The shared test Redis, under a prefix no other test uses.
#[derive(Clone)]
pub struct TestRedis {
    pub url: String,
    pub prefix: String,
}

impl TestRedis {
    /// A tier on it, as a server would build one.
    pub fn tier(&self) -> Arc<RedisTier> {
        Arc::new(
            RedisTier::connect(
                &self.url,
                &self.prefix,
                Duration::from_secs(300),
                Duration::from_millis(500),
                &Registry::new(),
            )
            .unwrap(),
        )
    }

    /// `tasklane serve` options that use it.
    pub fn options(&self) -> Vec<String> {
        vec![
            "--redis-url".into(),
            self.url.clone(),
            "--redis-key-prefix".into(),
            self.prefix.clone(),
        ]
    }

    /// A `redis-server` of a test's own, as a test Redis.
    pub fn on(server: &RedisServer) -> TestRedis {
        TestRedis {
            url: server.url(),
            prefix: unique("test-"),
        }
    }

    /// The options of an in-process server, set to use it.
    pub fn apply(&self, args: &mut ServeArgs) {
        args.redis_url = Some(self.url.parse().unwrap());
        args.redis_key_prefix = self.prefix.clone();
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// The test Redis, if this run tests one.
pub fn test_redis() -> Option<TestRedis> {
    let url = std::env::var("TASKLANE_TEST_REDIS_URL")
        .ok()
        .filter(|url| !url.is_empty())?;
    Some(TestRedis {
        url,
        prefix: unique("test-"),
    })
}

/// Every consistency this run can exercise.
pub fn consistencies() -> Vec<Consistency> {
    let mut all = vec![Consistency::Local, Consistency::Strict];
    if test_redis().is_some() {
        all.push(Consistency::Redis);
    }
    all
}

impl TestDatabase {
    /// The same database (and Redis key space) reached at another URL; `original`
    /// keeps the underlying resources alive.
    pub fn with_url(url: String, original: &TestDatabase) -> TestDatabase {
        TestDatabase {
            url,
            redis: original.redis.clone(),
            _dir: None,
        }
    }
}

pub async fn fresh_database() -> TestDatabase {
    let redis = test_redis();
    match std::env::var("TASKLANE_TEST_STORE").as_deref() {
        Err(_) | Ok("sqlite") => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("tasklane.db").display());
            TestDatabase {
                url,
                redis,
                _dir: Some(dir),
            }
        }
        Ok("postgres") => {
            let base = std::env::var("TASKLANE_TEST_POSTGRES_URL").expect(
                "TASKLANE_TEST_POSTGRES_URL names the test database (scripts/test sets it)",
            );
            let schema = unique("t_");
            let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&base)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL at TASKLANE_TEST_POSTGRES_URL: {e}"));
            sqlx::Executor::execute(&mut admin, format!("CREATE SCHEMA {schema}").as_str())
                .await
                .unwrap();
            let separator = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{separator}options[search_path]={schema}");
            TestDatabase {
                url,
                redis,
                _dir: None,
            }
        }
        Ok(other) => panic!("TASKLANE_TEST_STORE={other}: expected sqlite or postgres"),
    }
}

/// A loopback port nothing listens on (free when asked: bound, then released).
pub fn closed_port() -> u16 {
    tasklane_check::supervisor::free_port().unwrap()
}

/// A `redis-server` of a test's own (no persistence), to flush, kill, freeze or
/// restart, on a free port; `TASKLANE_TEST_REDIS_SERVER` names the binary.
pub async fn start_redis() -> RedisServer {
    start_redis_on(closed_port()).await
}

/// As [`start_redis`], on `port`.
pub async fn start_redis_on(port: u16) -> RedisServer {
    let binary =
        std::env::var("TASKLANE_TEST_REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_owned());
    RedisServer::start(&binary, port, None)
        .await
        .expect("redis-server runs (scripts/test provides it)")
}

/// A PostgreSQL cluster of a test's own, to crash and restart, and a database on it
/// (with the test Redis, if this run has one). Stopped when dropped.
pub struct OwnPostgres {
    pub server: Postgres,
    // After `server`: the cluster stops before its directory is removed.
    pub database: TestDatabase,
}

/// Starts a cluster of this test's own from the newest PostgreSQL binaries installed.
pub async fn own_postgres() -> OwnPostgres {
    let bin = find_postgres_bin().expect("PostgreSQL's server binaries (initdb, pg_ctl)");
    let dir = tempfile::tempdir().unwrap();
    let (server, url) = Postgres::start(&bin, dir.path())
        .await
        .expect("a PostgreSQL cluster of the test's own starts");
    OwnPostgres {
        server,
        database: TestDatabase {
            url,
            redis: test_redis(),
            _dir: Some(dir),
        },
    }
}

/// Opens (creating and migrating) the database `url` names, as `tasklane serve` does,
/// without a statement time limit.
pub async fn open_store(url: &str) -> anyhow::Result<Storage> {
    let url = url.parse().map_err(anyhow::Error::msg)?;
    Storage::open(&url, Opening::Create, None).await
}

/// A TCP proxy to a service, to take it away from a server and give it back.
pub struct Proxy {
    pub port: u16,
    up: Arc<std::sync::atomic::AtomicBool>,
    links: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Forwards a free local port to `target`.
    pub async fn start(target: std::net::SocketAddr) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let links: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let accept = tokio::spawn({
            let (up, links) = (up.clone(), links.clone());
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if !up.load(std::sync::atomic::Ordering::SeqCst) {
                        continue; // dropped: the connection closes at once
                    }
                    links.lock().unwrap().push(tokio::spawn(async move {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    }));
                }
            }
        });
        Proxy {
            port,
            up,
            links,
            accept,
        }
    }

    /// The service goes away: every connection is cut, new ones are closed at once.
    pub fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    /// The service comes back.
    pub fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}
