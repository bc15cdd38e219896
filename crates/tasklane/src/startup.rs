//! Building the server from its options and running it until it is told to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::net::TcpListener;

use crate::cache::{Consistency, RedisTier, TaskCache};
use crate::config::ServeArgs;
use crate::http::{AppState, Authenticator, Limits, router};
use crate::store::{BulkLoad, PostgresStore, SqliteStore, Store, TokenStore};

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    store: Arc<dyn Store>,
    router: axum::Router,
}

/// What a database URL opens: the task store, the token store (the same database) and
/// the consistency that suits it by default.
pub struct Storage {
    /// Tasks.
    pub tasks: Arc<dyn Store>,
    /// API tokens.
    pub tokens: Arc<dyn TokenStore>,
    /// Bulk loading, for `tasklane seed`.
    pub bulk: Arc<dyn BulkLoad>,
    /// `local` for a SQLite file (one process), `strict` for PostgreSQL (any number).
    pub consistency: Consistency,
}

/// Opens the database a URL names, applying its migrations, for a tool: no time limit
/// on what it runs.
pub async fn open_store(url: &str) -> anyhow::Result<Storage> {
    open(url, None).await
}

/// Opens the database a URL names, applying its migrations, for a server: the database
/// stops any statement that runs longer than `limit` (on SQLite, any list, the one read
/// whose cost grows with the data; a write waits no longer for the lock), so that no
/// request holds a connection past its timeout.
pub async fn open_store_limited(url: &str, limit: Duration) -> anyhow::Result<Storage> {
    open(url, Some(limit)).await
}

async fn open(url: &str, limit: Option<Duration>) -> anyhow::Result<Storage> {
    Ok(match scheme_of(url) {
        "sqlite" => {
            let store = SqliteStore::connect(url, limit)
                .await
                .context("opening the SQLite database")?;
            Storage {
                tasks: Arc::new(store.clone()),
                tokens: Arc::new(store.clone()),
                bulk: Arc::new(store),
                consistency: Consistency::Local,
            }
        }
        "postgres" | "postgresql" => {
            let store = PostgresStore::connect(url, limit)
                .await
                .context("connecting to PostgreSQL")?;
            Storage {
                tasks: Arc::new(store.clone()),
                tokens: Arc::new(store.clone()),
                bulk: Arc::new(store),
                consistency: Consistency::Strict,
            }
        }
        other => bail!(
            "unsupported database URL scheme `{other}`; expected sqlite://PATH or postgres://..."
        ),
    })
}

impl Application {
    /// Opens the database (applying migrations), builds the cache and binds the
    /// listening socket. Port 0 picks a free port (see [`Application::address`]).
    pub async fn build(args: &ServeArgs) -> anyhow::Result<Self> {
        let auth_mode = args.auth_mode().map_err(anyhow::Error::msg)?;
        let request_timeout = Duration::from_secs(args.request_timeout_secs);
        let Storage {
            tasks: store,
            tokens,
            consistency: database_default,
            ..
        } = open_store_limited(&args.database_url, request_timeout).await?;
        #[cfg(feature = "baselines")]
        let store: Arc<dyn Store> = match args.baselines.read_delay_ms {
            0 => store,
            ms => Arc::new(crate::store::SlowedReads::new(
                store,
                Duration::from_millis(ms),
            )),
        };
        let cache = args.cache(database_default);
        let shared = match &args.redis_url {
            Some(url) => {
                let timeout = Duration::from_millis(args.redis_timeout_ms);
                let tier = RedisTier::connect(url, &args.redis_key_prefix, cache.ttl, timeout)
                    .context("the Redis URL")?;
                if let Err(error) = tier.ping().await {
                    tracing::warn!(%error, "Redis is not answering; serving from the database until it does");
                }
                Some(Arc::new(tier))
            }
            None => None,
        };
        tracing::info!(
            database = scheme_of(&args.database_url),
            redis = shared.is_some(),
            consistency = ?cache.consistency,
            auth = ?auth_mode,
            "storage ready"
        );
        let auth = Arc::new(Authenticator::new(
            auth_mode,
            tokens,
            NonZeroU32::new(args.rate_limit),
        ));
        let tasks = Arc::new(TaskCache::new(store.clone(), shared, &cache)?);
        let listener = TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))?;
        Ok(Application {
            listener,
            store,
            router: router(
                AppState { tasks, auth },
                Limits {
                    cors_origins: args.cors_origin.clone(),
                    request_timeout,
                },
            ),
        })
    }

    /// The address actually bound.
    pub fn address(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `stop` completes, then lets in-flight requests finish and closes the
    /// database.
    pub async fn run_until(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(address = %self.address(), "serving");
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(stop)
            .await?;
        self.store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The scheme of a URL, for error messages that must not echo credentials.
fn scheme_of(url: &str) -> &str {
    url.split_once(':')
        .map_or("no scheme", |(scheme, _)| scheme)
}
