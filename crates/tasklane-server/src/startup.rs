//! Building the server from its options and running it until it is told to stop.

use std::future::Future;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::cache::{RedisTier, TaskCache};
use crate::config::{ServeArgs, spelled};
use crate::feed::{Feed, Hub, HubConfig, Pruner, Retention, wake};
use crate::http::{AppState, Authenticator, Limits, metrics_router, router};
use crate::server::{
    ConnectionMetrics, Connections, Timeouts, connection_cap, raise_descriptor_limit,
};
use crate::store::{Backend, Measured, Opening, Storage, Store};
use crate::telemetry::{self, Registry};
use crate::webhook::Webhooks;

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    /// `--metrics-listen`'s socket, if given.
    metrics_listener: Option<TcpListener>,
    /// This application's metrics (never the process's global recorder: see
    /// [`crate::telemetry`]).
    metrics: Arc<Registry>,
    store: Arc<dyn Store>,
    router: axum::Router,
    connections: Connections,
    /// What the change log's pruner keeps.
    retention: Retention,
    /// What the start-up lines tell about the set-up.
    settings: Settings,
    /// The change feed's followers, closed when the server stops so that event streams
    /// end and shutdown does not wait for them.
    hub: Arc<Hub>,
    /// Webhook delivery, started with the server and stopped before the database
    /// closes (each sender writes where it stopped).
    webhooks: Arc<Webhooks>,
}

/// The set-up as a person reads it at start: the database without its password, and
/// every mode as spelled on the command line.
struct Settings {
    database: String,
    consistency: String,
    auth: String,
    cache_mib: u64,
    redis: String,
}

impl Application {
    /// Checks every option, binds the listening socket, then opens the database
    /// (applying migrations) and builds the cache: a mistake in the options is
    /// reported before anything is created or migrated, and a port in use before the
    /// database is touched. Port 0 picks a free port (see [`Application::address`]).
    pub async fn build(args: &ServeArgs) -> anyhow::Result<Self> {
        let auth_mode = args.auth_mode().map_err(anyhow::Error::msg)?;
        let metrics = if args.metrics() {
            Registry::new()
        } else {
            Registry::disabled()
        };
        let request_timeout = Duration::from_secs(args.request_timeout_secs);
        let cache = args.cache();
        cache.check(args.redis_url.is_some())?;
        let shared = match &args.redis_url {
            Some(url) => {
                let timeout = Duration::from_millis(args.redis_timeout_ms);
                let tier = RedisTier::connect(
                    url.as_str(),
                    &args.redis_key_prefix,
                    cache.ttl,
                    timeout,
                    &metrics,
                )
                .map_err(|error| anyhow::anyhow!("--redis-url: {error}"))?;
                Some(Arc::new(tier))
            }
            None => None,
        };
        let connections = connection_limits(args)?;
        let listener = TcpListener::bind(args.listen)
            .await
            .map_err(|error| bind_error(args.listen, &error))?;
        let metrics_listener = match args.metrics_listen {
            Some(address) => Some(
                TcpListener::bind(address)
                    .await
                    .map_err(|error| bind_error(address, &error))
                    .context("--metrics-listen")?,
            ),
            None => None,
        };

        let webhook_config = args.webhooks().map_err(anyhow::Error::msg)?;
        let server_key = args.server_key().map_err(anyhow::Error::msg)?;
        let Storage {
            tasks: store,
            tokens,
            webhooks,
            ..
        } = Storage::open(&args.database_url, Opening::Create, Some(request_timeout)).await?;
        #[cfg(feature = "baselines")]
        let store: Arc<dyn Store> = match args.baselines.read_delay_ms {
            0 => store,
            ms => Arc::new(crate::store::Hooked::new(
                store,
                crate::store::ReadDelay(Duration::from_millis(ms)),
            )),
        };
        let store: Arc<dyn Store> = Arc::new(Measured::new(store, &metrics));
        let auth = Arc::new(Authenticator::new(
            auth_mode,
            tokens,
            NonZeroU32::new(args.rate_limit),
            NonZeroU32::new(args.auth_failure_limit),
            &metrics,
        ));
        let settings = Settings {
            database: args.database_url.to_string(),
            consistency: spelled(cache.consistency),
            auth: spelled(auth_mode),
            cache_mib: args.cache_mib,
            redis: args
                .redis_url
                .as_ref()
                .map_or("none".to_owned(), ToString::to_string),
        };
        report_build(&metrics, &settings, args.database_url.backend());
        let tasks = Arc::new(TaskCache::new(
            store.clone(),
            shared.clone(),
            &cache,
            &metrics,
        )?);
        // Whether Redis answers, known (and logged, and in the metrics) from the start
        // rather than from the first request that calls it.
        tasks.health().await;
        let feed =
            Arc::new(Feed::new(store.clone(), tasks.clone()).with_design(args.feed_design()));
        let hub = Hub::new(
            feed.clone(),
            HubConfig {
                poll: Duration::from_millis(args.feed_poll_ms),
                buffer: usize::try_from(args.feed_buffer).expect("bounded by its option"),
            },
            &metrics,
        );
        // Instances tell each other of their writes through PostgreSQL's NOTIFY, or,
        // on one SQLite file, through their Redis if they share one.
        let url = args.database_url.as_str();
        let others = match (args.database_url.backend(), shared) {
            (Backend::Postgres, _) => {
                wake::on_postgres_notifications(hub.clone(), url.to_owned());
                Some(wake::Others::postgres(url)?)
            }
            (Backend::Sqlite, Some(tier)) => {
                wake::on_redis_messages(hub.clone(), tier.clone());
                Some(wake::Others::Redis(tier))
            }
            (Backend::Sqlite, None) => None,
        };
        wake::on_local_writes(hub.clone(), tasks.writes(), others);
        let webhooks = Arc::new(
            Webhooks::new(webhooks, hub.clone(), server_key, webhook_config, &metrics).await?,
        );
        Ok(Application {
            listener,
            metrics_listener,
            store,
            router: router(
                AppState {
                    feed,
                    hub: hub.clone(),
                    heartbeat: Duration::from_secs(args.stream_heartbeat_secs),
                    streams: Arc::new(Semaphore::new(
                        args.max_streams
                            .map_or((connections.max / 2).max(1), |max| max as usize),
                    )),
                    tasks,
                    auth,
                    webhooks: webhooks.clone(),
                },
                Limits {
                    cors_origins: args.cors_origin.clone(),
                    request_timeout,
                    body_read_timeout: Duration::from_secs(args.body_read_timeout_secs),
                    slow_request: Duration::from_millis(args.log_slow_ms),
                },
                metrics.clone(),
            ),
            metrics,
            connections,
            retention: args.retention(),
            settings,
            hub,
            webhooks,
        })
    }

    /// The address actually bound.
    pub fn address(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The address `--metrics-listen` bound, if given.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().map(|listener| {
            listener
                .local_addr()
                .expect("a bound listener has an address")
        })
    }

    /// Prunes the change log and serves until `stop` completes, then lets in-flight
    /// requests finish, stops pruning and closes the database.
    pub async fn run_until(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        self.announce();
        let hub = self.hub.clone();
        let (stopping, stopped) = tokio::sync::watch::channel(false);
        let stop = async move {
            stop.await;
            hub.close();
            stopping.send_replace(true);
        };
        let pruner = Pruner::start(self.store.clone(), self.retention);
        let dispatcher = self.webhooks.dispatcher().clone();
        dispatcher.start();
        let upkeep = tokio::spawn({
            let metrics = self.metrics.clone();
            async move {
                let mut every = tokio::time::interval(telemetry::UPKEEP);
                loop {
                    every.tick().await;
                    metrics.upkeep();
                }
            }
        });
        let scraped = self.metrics_listener.map(|listener| {
            let mut stopped = stopped.clone();
            tokio::spawn(crate::server::serve(
                listener,
                metrics_router(self.metrics.clone()),
                Connections {
                    max: METRICS_CONNECTIONS,
                    timeouts: self.connections.timeouts,
                },
                ConnectionMetrics::register(&self.metrics, "metrics"),
                async move {
                    let _ = stopped.wait_for(|stopped| *stopped).await;
                },
            ))
        });
        crate::server::serve(
            self.listener,
            self.router,
            self.connections,
            ConnectionMetrics::register(&self.metrics, "api"),
            stop,
        )
        .await;
        dispatcher.stop().await;
        if let Some(scraped) = scraped {
            let _ = scraped.await;
        }
        upkeep.abort();
        pruner.stop().await;
        self.store.close().await;
        tracing::info!("stopped");
        Ok(())
    }

    /// The start-up lines: the set-up in the words of the command line, then where to
    /// point a browser.
    fn announce(&self) {
        let Settings {
            database,
            consistency,
            auth,
            cache_mib,
            redis,
        } = &self.settings;
        tracing::info!(
            %database,
            %consistency,
            %auth,
            cache_mib,
            %redis,
            "configuration"
        );
        let address = self.address();
        let url = format!("http://{}", openable(address));
        let everywhere = if address.ip().is_unspecified() {
            " (listening on every interface)"
        } else {
            ""
        };
        tracing::info!(
            "Tasklane {} serving {url}{everywhere}: the web app at {url}/, API documentation at {url}/docs/",
            env!("CARGO_PKG_VERSION")
        );
        if let Some(address) = self.metrics_address() {
            tracing::info!("metrics at http://{}/metrics", openable(address));
        }
    }
}

/// `tasklane_build_info`: the version, and the modes as the command line spells them.
fn report_build(metrics: &Registry, settings: &Settings, backend: Backend) {
    let database = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let labels = [
        ("version", env!("CARGO_PKG_VERSION").to_owned()),
        ("consistency", settings.consistency.clone()),
        ("auth", settings.auth.clone()),
        ("database", database.to_owned()),
    ];
    metrics
        .gauge(
            "tasklane_build_info",
            "1, labelled with the version and the modes this instance runs in",
            &labels,
        )
        .set(1.0);
}

/// Most scrapers connected to `--metrics-listen` at once.
const METRICS_CONNECTIONS: usize = 16;

/// An address a browser on this machine can open: the loopback address in place of
/// "every interface".
fn openable(address: SocketAddr) -> SocketAddr {
    match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, address.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, address.port()).into(),
        _ => address,
    }
}

/// Why the listening socket could not be bound, and what to do about it.
fn bind_error(address: SocketAddr, error: &std::io::Error) -> anyhow::Error {
    let hint = match error.kind() {
        ErrorKind::AddrInUse => {
            "; another process listens there (a Tasklane already running?): stop it, or choose another port with --listen"
        }
        ErrorKind::PermissionDenied => "; ports below 1024 need privileges: choose another",
        ErrorKind::AddrNotAvailable => {
            "; no interface of this machine has that address: use 127.0.0.1 or 0.0.0.0"
        }
        _ => "",
    };
    anyhow::anyhow!("cannot listen on {address}: {error}{hint}")
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
