//! Building the server from its options and running it until it is told to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, bail};
use tokio::net::TcpListener;

use crate::cache::TaskCache;
use crate::config::ServeArgs;
use crate::http::{AppState, router};
use crate::store::SqliteStore;

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    store: SqliteStore,
    router: axum::Router,
}

impl Application {
    /// Opens the database (applying migrations), builds the cache and binds the
    /// listening socket. Port 0 picks a free port (see [`Application::address`]).
    pub async fn build(args: &ServeArgs) -> anyhow::Result<Self> {
        let Some(("sqlite", _)) = args.database_url.split_once(':') else {
            bail!(
                "unsupported database URL; expected sqlite://PATH (got `{}`)",
                scheme_of(&args.database_url)
            );
        };
        let store = SqliteStore::connect(&args.database_url)
            .await
            .context("opening the SQLite database")?;
        let tasks = Arc::new(TaskCache::new(Arc::new(store.clone()), &args.cache()));
        let listener = TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))?;
        Ok(Application {
            listener,
            store,
            router: router(AppState { tasks }),
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
