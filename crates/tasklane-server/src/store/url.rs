//! Database URLs: which store one names, refused at start when it would lose data or
//! cannot mean anything, and shown in logs without its password.
//!
//! SQLite takes an empty file name or `:memory:` as a database private to one
//! connection. Behind a pool of several connections that is a silent loss: each
//! connection has its own empty database, a create answers `201` and the next list
//! cannot see it, and everything is gone at the next start. Such URLs are refused here,
//! before anything is opened.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

/// What `--database-url` expects, for error messages.
pub const EXPECTED: &str = "sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE";

/// A database URL that names a store which keeps what is written to it. Shown (by
/// `Display` and `Debug` alike) only without its password.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file.
    Sqlite {
        /// The URL as given.
        url: String,
        /// The file it names.
        path: PathBuf,
    },
    /// A PostgreSQL database.
    Postgres {
        /// The URL as given (it may hold a password: never log it).
        url: String,
    },
}

/// The database software a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file, served by one process at a time.
    Sqlite,
    /// A PostgreSQL database, shared by any number of processes.
    Postgres,
}

impl DatabaseUrl {
    /// The database software it names.
    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Sqlite { .. } => Backend::Sqlite,
            DatabaseUrl::Postgres { .. } => Backend::Postgres,
        }
    }

    /// The URL as given, to connect with (never to log: it may hold a password).
    pub fn as_str(&self) -> &str {
        match self {
            DatabaseUrl::Sqlite { url, .. } | DatabaseUrl::Postgres { url } => url,
        }
    }

    /// Where the database is, for logs and messages: the SQLite file's absolute path,
    /// or PostgreSQL's user, host, port and database without the password.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite { path, .. } => {
                let path = std::path::absolute(path).unwrap_or_else(|_| path.clone());
                format!("sqlite://{}", path.display())
            }
            DatabaseUrl::Postgres { url } => match PgConnectOptions::from_str(url) {
                Ok(options) => format!(
                    "postgres://{}@{}:{}/{}",
                    options.get_username(),
                    options.get_host(),
                    options.get_port(),
                    options.get_database().unwrap_or(options.get_username())
                ),
                Err(_) => "postgres://(unparsable)".to_owned(),
            },
        }
    }
}

impl std::fmt::Display for DatabaseUrl {
    /// The redacted form: a database URL is only ever shown without its password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl std::fmt::Debug for DatabaseUrl {
    /// The redacted form too, so that a configuration printed whole keeps the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let Some((scheme, _)) = text.split_once(':').filter(|(s, _)| is_scheme(s)) else {
            return Err(format!(
                "`{text}` has no scheme; expected {EXPECTED} (for a file: `sqlite://{text}`)"
            ));
        };
        match scheme {
            "sqlite" => sqlite(text),
            "postgres" | "postgresql" => match PgConnectOptions::from_str(text) {
                Ok(_) => Ok(DatabaseUrl::Postgres {
                    url: text.to_owned(),
                }),
                // sqlx's message may quote the URL, password and all: name the fault only.
                Err(_) => Err(
                    "not a valid PostgreSQL URL; expected postgres://USER:PASSWORD@HOST:PORT/DATABASE"
                        .to_owned(),
                ),
            },
            other => Err(format!(
                "unsupported database URL scheme `{other}`; expected {EXPECTED}"
            )),
        }
    }
}

/// A scheme as URLs spell it; anything else before a colon (a drive letter aside, a
/// path such as `./a:b`) means the scheme is missing.
fn is_scheme(text: &str) -> bool {
    text.len() > 1
        && text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn sqlite(text: &str) -> Result<DatabaseUrl, String> {
    // The same reading as sqlx's: `sqlite://PATH` or `sqlite:PATH`, then `?PARAMS`.
    let rest = text
        .strip_prefix("sqlite://")
        .or_else(|| text.strip_prefix("sqlite:"))
        .unwrap_or_default();
    let (file, params) = rest.split_once('?').unwrap_or((rest, ""));
    let in_memory = form_urlencoded::parse(params.as_bytes())
        .any(|(key, value)| matches!((&*key, &*value), ("mode", "memory") | ("vfs", "memdb")));
    if file.is_empty() || file == ":memory:" || in_memory {
        return Err(format!(
            "`{text}` names no database file (an empty path or an in-memory database is \
             private to each connection and lost on restart); expected sqlite://PATH, \
             such as sqlite://tasklane.db"
        ));
    }
    let options = SqliteConnectOptions::from_str(text).map_err(|e| e.to_string())?;
    Ok(DatabaseUrl::Sqlite {
        url: text.to_owned(),
        path: options.get_filename().to_owned(),
    })
}

/// The directory a SQLite file would be created in, if it does not exist.
pub(super) fn missing_directory(path: &Path) -> Option<PathBuf> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty())?;
    (!parent.is_dir()).then(|| parent.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_that_would_not_persist_are_refused() {
        for url in [
            "sqlite://",
            "sqlite:",
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://?mode=memory",
            "sqlite://tasks.db?mode=memory",
            "sqlite://tasks.db?vfs=memdb",
        ] {
            let error = url.parse::<DatabaseUrl>().unwrap_err();
            assert!(error.contains("names no database file"), "{url}: {error}");
        }
    }

    #[test]
    fn a_path_without_a_scheme_is_answered_with_the_url_it_meant() {
        for path in ["./foo.db", "foo.db", "/var/lib/tasklane.db"] {
            let error = path.parse::<DatabaseUrl>().unwrap_err();
            assert!(error.contains(&format!("sqlite://{path}")), "{error}");
        }
        let error = "mysql://db/tasks".parse::<DatabaseUrl>().unwrap_err();
        assert!(
            error.contains("unsupported database URL scheme `mysql`"),
            "{error}"
        );
    }

    #[test]
    fn files_and_postgres_are_accepted_and_shown_without_a_password() {
        let file: DatabaseUrl = "sqlite://data/tasks.db".parse().unwrap();
        assert!(
            file.redacted().starts_with("sqlite:///"),
            "absolute: {file}"
        );
        assert!(file.redacted().ends_with("data/tasks.db"), "{file}");
        assert_eq!(
            "sqlite:tasks.db?mode=rwc".parse::<DatabaseUrl>().unwrap(),
            DatabaseUrl::Sqlite {
                url: "sqlite:tasks.db?mode=rwc".to_owned(),
                path: "tasks.db".into()
            }
        );
        let postgres: DatabaseUrl = "postgres://ana:s3cret@db.internal:5433/tasks"
            .parse()
            .unwrap();
        assert_eq!(
            postgres.to_string(),
            "postgres://ana@db.internal:5433/tasks"
        );
        let error = "postgres://ana:s3cret@db:notaport/x"
            .parse::<DatabaseUrl>()
            .unwrap_err();
        assert!(!error.contains("s3cret"), "{error}");
        assert!(!format!("{postgres:?}").contains("s3cret"));
    }
}
