//! Who a request acts for: the workspace its bearer token belongs to (or the open
//! workspace, where authentication is off), how often that token may call, and how
//! often a client address may present a token the server does not know.
//!
//! Every `/v1` handler takes a [`Workspace`], so no handler can run without one: this
//! module is the only place a request's workspace comes from, and the cache keys,
//! generations and ETags all embed it. Another workspace's task is simply
//! not in the caller's workspace, so it answers `404`, never `403`.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use metrics::Counter;
use moka::future::Cache;
use uuid::Uuid;

use super::framing::one_header;
use super::{AppState, Problem};
use crate::domain::{ApiToken, TokenSecret, Workspace};
use crate::store::TokenStore;
use crate::telemetry::Registry;

/// Whether requests must present a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// Every `/v1` request needs `Authorization: Bearer <token>`; it acts in the
    /// token's workspace.
    Token,
    /// No authentication: every request acts in the workspace `default`. Only on a
    /// loopback address.
    None,
}

/// How long a verified token is trusted without asking the database again. A revoked
/// token stops working at once on the instance that revoked it, and within this on
/// every other.
const VERIFIED_FOR: Duration = Duration::from_secs(10);

/// Checks bearer tokens and applies each token's rate limit.
pub struct Authenticator {
    mode: AuthMode,
    tokens: Arc<dyn TokenStore>,
    /// Verified tokens by the digest of their secret.
    verified: Cache<String, ApiToken>,
    /// Requests per second per token (`None`: unlimited).
    limiter: Option<DefaultKeyedRateLimiter<Uuid>>,
    /// Failed authentications per client address (`None`: unlimited).
    failures: Option<FailureLimit>,
    /// Under `--auth none`, whether the log has said that tokens are ignored: a client
    /// that sends one expects its own workspace and sees `default`.
    told_tokens_ignored: AtomicBool,
    /// Requests refused, by reason.
    refused: Refusals,
}

/// Why a request was refused, as the `reason` label spells it; `401` for the first three,
/// `429` for the others.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// No `Authorization` header.
    Missing,
    /// An `Authorization` header that is not `Bearer tl_...`.
    Malformed,
    /// A token the server does not know (or that was revoked).
    Unknown,
    /// A token over its rate.
    RateLimited,
    /// An address over its failed authentications.
    TooManyFailures,
}

/// Refused requests, counted by [`Refusal`].
struct Refusals([Counter; 5]);

impl Refusals {
    fn register(registry: &Registry) -> Self {
        let counter = |status: &'static str, reason: &'static str| {
            registry.counter(
                "tasklane_auth_refusals_total",
                "Requests refused by authentication (401) or rate limits (429), by reason",
                &[("status", status), ("reason", reason)],
            )
        };
        Refusals([
            counter("401", "missing"),
            counter("401", "malformed"),
            counter("401", "unknown"),
            counter("429", "rate_limited"),
            counter("429", "too_many_failures"),
        ])
    }

    fn count(&self, refusal: Refusal) {
        self.0[refusal as usize].increment(1);
    }
}

impl Authenticator {
    /// Tokens from `tokens`; at most `per_second` requests a second for each (a burst
    /// of as many is allowed), or no limit; at most `failures_per_minute` unknown or
    /// revoked tokens a minute from each client address, or no limit. Refusals are
    /// counted in `registry`.
    pub fn new(
        mode: AuthMode,
        tokens: Arc<dyn TokenStore>,
        per_second: Option<NonZeroU32>,
        failures_per_minute: Option<NonZeroU32>,
        registry: &Registry,
    ) -> Self {
        Authenticator {
            mode,
            tokens,
            verified: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(VERIFIED_FOR)
                .build(),
            limiter: per_second.map(|rate| RateLimiter::keyed(Quota::per_second(rate))),
            failures: failures_per_minute.map(FailureLimit::new),
            told_tokens_ignored: AtomicBool::new(false),
            refused: Refusals::register(registry),
        }
    }

    /// The tokens this server issues and revokes.
    pub fn tokens(&self) -> &dyn TokenStore {
        &*self.tokens
    }

    /// Forgets every verified token, after a revocation.
    pub fn forget_verified(&self) {
        self.verified.invalidate_all();
    }

    /// The token a request presents, to check again later with
    /// [`Authenticator::still_valid`] (none under `--auth none`).
    pub fn presented(&self, headers: &HeaderMap) -> Option<TokenSecret> {
        (self.mode == AuthMode::Token)
            .then(|| bearer(headers).ok())
            .flatten()
    }

    /// Whether a token that opened a long-lived response (an event stream) is still
    /// valid. A token verified within `VERIFIED_FOR` is not looked up again, so a
    /// stream checking this every second ends within that of its token's revocation;
    /// while the database cannot tell, the stream goes on.
    pub async fn still_valid(&self, presented: Option<&TokenSecret>) -> bool {
        let Some(presented) = presented else {
            return true;
        };
        let digest = presented.digest();
        if self.verified.get(&digest).await.is_some() {
            return true;
        }
        match self.tokens.find(&digest).await {
            Ok(Some(token)) => {
                self.verified.insert(digest, token).await;
                true
            }
            Ok(None) => false,
            Err(_) => true,
        }
    }

    /// The workspace `parts` acts in: `401` without a valid token, `429` beyond its rate or
    /// from an address over its failed authentications. The request's span records the
    /// workspace and the token's id (never its secret).
    async fn workspace(&self, parts: &Parts) -> Result<Workspace, Problem> {
        if self.mode == AuthMode::None {
            if parts.headers.contains_key(header::AUTHORIZATION)
                && !self.told_tokens_ignored.swap(true, Ordering::Relaxed)
            {
                tracing::warn!(
                    "a request presented a token, but this server runs with `--auth none`: \
                     every request acts in the workspace `default`, whatever its token \
                     (said once)"
                );
            }
            let workspace = Workspace::default();
            tracing::Span::current().record("workspace", workspace.as_str());
            return Ok(workspace);
        }
        let presented = bearer(&parts.headers).inspect_err(|_| {
            self.refused
                .count(if parts.headers.contains_key(header::AUTHORIZATION) {
                    Refusal::Malformed
                } else {
                    Refusal::Missing
                });
        })?;
        let digest = presented.digest();
        let token = match self.verified.get(&digest).await {
            Some(token) => token,
            None => {
                // An address over its limit is refused before the database is asked:
                // sparing that lookup is the point of the limit.
                let client = parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|ConnectInfo(peer)| client_key(peer.ip()));
                let failures = self.failures.as_ref().zip(client);
                if let Some((failures, client)) = failures {
                    failures
                        .check(client)
                        .await
                        .inspect_err(|_| self.refused.count(Refusal::TooManyFailures))?;
                }
                let Some(token) = self.tokens.find(&digest).await? else {
                    if let Some((failures, client)) = failures {
                        failures
                            .record(client)
                            .await
                            .inspect_err(|_| self.refused.count(Refusal::TooManyFailures))?;
                    }
                    self.refused.count(Refusal::Unknown);
                    return Err(unauthorized("unknown or revoked token"));
                };
                self.verified.insert(digest, token.clone()).await;
                token
            }
        };
        if let Some(limiter) = &self.limiter
            && let Err(not_until) = limiter.check_key(&token.id)
        {
            self.refused.count(Refusal::RateLimited);
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            return Err(Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "this token has made too many requests; slow down",
            )
            .retry_after(wait));
        }
        let workspace = token.workspace();
        let span = tracing::Span::current();
        span.record("workspace", workspace.as_str());
        span.record("token", tracing::field::display(token.id));
        Ok(workspace)
    }
}

fn unauthorized(detail: &str) -> Problem {
    Problem::new(StatusCode::UNAUTHORIZED, detail)
}

/// The token in the request's one `Authorization` header. The scheme is
/// case-insensitive (RFC 9110 §11.1); two headers are refused rather than one of them
/// picked.
fn bearer(headers: &HeaderMap) -> Result<TokenSecret, Problem> {
    let value = one_header(headers, "Authorization")?
        .ok_or_else(|| unauthorized("this route needs `Authorization: Bearer <token>`"))?;
    value
        .to_str()
        .ok()
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .and_then(|(_, secret)| TokenSecret::presented(secret.trim()))
        .ok_or_else(|| unauthorized("the Authorization header is not `Bearer tl_<64 hex digits>`"))
}

/// Whom failed authentications are counted against: an IPv4 address, or an IPv6 /64
/// (one subscriber's usual allocation, which one client can cycle through freely).
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
        },
        v4 => v4,
    }
}

/// Failed authentications per client address. A failure spends from the address's
/// allowance; once it is spent the address is refused (`429`) before any lookup until
/// the allowance refills, except for tokens verified in the last `VERIFIED_FOR`,
/// which need no lookup. Successes spend nothing.
struct FailureLimit {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    /// Addresses over their allowance, and when they may try again.
    refused: Cache<IpAddr, Instant>,
    /// Failures since the limiter last forgot addresses that have long been quiet.
    since_pruned: AtomicU64,
}

impl FailureLimit {
    fn new(per_minute: NonZeroU32) -> Self {
        FailureLimit {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
            // An allowance refills a failure at a time, in at most a minute.
            refused: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
            since_pruned: AtomicU64::new(0),
        }
    }

    /// `429` while `client` is over its allowance.
    async fn check(&self, client: IpAddr) -> Result<(), Problem> {
        let now = Instant::now();
        match self.refused.get(&client).await {
            Some(until) if until > now => Err(too_many_failures(until - now)),
            _ => Ok(()),
        }
    }

    /// Spends a failure; `429` if that was one too many.
    async fn record(&self, client: IpAddr) -> Result<(), Problem> {
        if self.since_pruned.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            self.limiter.retain_recent();
        }
        let Err(not_until) = self.limiter.check_key(&client) else {
            return Ok(());
        };
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        self.refused.insert(client, Instant::now() + wait).await;
        Err(too_many_failures(wait))
    }
}

fn too_many_failures(wait: Duration) -> Problem {
    Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too many unknown or revoked tokens from this address; until Retry-After, only \
         tokens in recent use are accepted from it",
    )
    .retry_after(wait)
}

impl FromRequestParts<AppState> for Workspace {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Problem> {
        app.auth.workspace(parts).await
    }
}
