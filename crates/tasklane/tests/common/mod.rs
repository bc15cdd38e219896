//! The database an integration test runs on, chosen by `TASKLANE_TEST_STORE`:
//! `sqlite` (the default: a file in a fresh temporary directory) or `postgres` (a fresh
//! schema in the database `TASKLANE_TEST_POSTGRES_URL` names; `scripts/test` starts a
//! server and sets it). Every suite runs unchanged on both.

use tempfile::TempDir;

/// A database of its own for one test; keep it alive as long as the test uses it.
pub struct TestDatabase {
    pub url: String,
    _dir: Option<TempDir>,
}

pub async fn fresh_database() -> TestDatabase {
    match std::env::var("TASKLANE_TEST_STORE").as_deref() {
        Err(_) | Ok("sqlite") => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("tasklane.db").display());
            TestDatabase {
                url,
                _dir: Some(dir),
            }
        }
        Ok("postgres") => {
            let base = std::env::var("TASKLANE_TEST_POSTGRES_URL").expect(
                "TASKLANE_TEST_POSTGRES_URL names the test database (scripts/test sets it)",
            );
            let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
            let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&base)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL at TASKLANE_TEST_POSTGRES_URL: {e}"));
            sqlx::Executor::execute(&mut admin, format!("CREATE SCHEMA {schema}").as_str())
                .await
                .unwrap();
            let separator = if base.contains('?') { '&' } else { '?' };
            TestDatabase {
                url: format!("{base}{separator}options[search_path]={schema}"),
                _dir: None,
            }
        }
        Ok(other) => panic!("TASKLANE_TEST_STORE={other}: expected sqlite or postgres"),
    }
}
