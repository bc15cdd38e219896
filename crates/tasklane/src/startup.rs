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
use crate::server::{Connections, Timeouts, connection_cap, raise_descriptor_limit};
use crate::store::{BulkLoad, PostgresStore, SqliteStore, Store, TokenStore};

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    store: Arc<dyn Store>,
    router: axum::Router,
    connections: Connections,
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

/// Opens the database a URL names, applying its migrations.
pub async fn open_store(url: &str) -> anyhow::Result<Storage> {
    Ok(match scheme_of(url) {
        "sqlite" => {
            let store = SqliteStore::connect(url)
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
            let store = PostgresStore::connect(url)
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
        let Storage {
            tasks: store,
            tokens,
            consistency: database_default,
            ..
        } = open_store(&args.database_url).await?;
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
            NonZeroU32::new(args.auth_failure_limit),
        ));
        let tasks = Arc::new(TaskCache::new(store.clone(), shared, &cache)?);
        let connections = connection_limits(args)?;
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
                    request_timeout: Duration::from_secs(args.request_timeout_secs),
                    body_read_timeout: Duration::from_secs(args.body_read_timeout_secs),
                },
            ),
            connections,
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
        tracing::info!(
            address = %self.address(),
            max_connections = self.connections.max,
            "serving"
        );
        crate::server::serve(self.listener, self.router, self.connections, stop).await;
        self.store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The connection cap and timeouts the options ask for, with the file descriptor limit
/// raised as far as it goes and the cap kept below it.
fn connection_limits(args: &ServeArgs) -> anyhow::Result<Connections> {
    let descriptors = raise_descriptor_limit().context("reading the file descriptor limit")?;
    let max = connection_cap(args.max_connections, descriptors);
    if max < args.max_connections {
        tracing::warn!(
            max_connections = max,
            descriptor_limit = descriptors,
            "the file descriptor limit leaves room for fewer connections than --max-connections; raise the limit (ulimit -n) to allow more"
        );
    }
    Ok(Connections {
        max,
        timeouts: Timeouts {
            header_read: Duration::from_secs(args.header_read_timeout_secs),
            idle: Duration::from_secs(args.idle_timeout_secs),
        },
    })
}

/// The scheme of a URL, for error messages that must not echo credentials.
fn scheme_of(url: &str) -> &str {
    url.split_once(':')
        .map_or("no scheme", |(scheme, _)| scheme)
}
