//! The services an integration test runs on.
//!
//! - The database, chosen by `TASKLANE_TEST_STORE`: `sqlite` (the default: a file in a
//!   fresh temporary directory) or `postgres` (a fresh schema in the database
//!   `TASKLANE_TEST_POSTGRES_URL` names).
//! - A Redis, when `TASKLANE_TEST_REDIS_URL` is set: each test gets its own key prefix.
//!
//! `scripts/test` starts what is needed and runs every suite on each combination.

#![allow(dead_code)] // each test crate uses its own part of this module

use std::sync::Arc;
use std::time::Duration;

use tasklane::cache::{Consistency, RedisTier};
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
