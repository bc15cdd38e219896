//! Who a request acts for: the workspace its bearer token belongs to (or the open
//! workspace, where authentication is off), and how often that token may call.
//!
//! Every `/v1` handler takes a [`Scope`], so no handler can run without one: this
//! module is the only place a request's scope comes from, and the cache keys,
//! generations and ETags all embed it. Another workspace's task is simply
//! not in the caller's scope, so it answers `404`, never `403`.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use moka::future::Cache;
use uuid::Uuid;

use super::{AppState, Problem};
use crate::domain::{ApiToken, Scope, TokenSecret};
use crate::store::TokenStore;

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
}

impl Authenticator {
    /// Tokens from `tokens`; at most `per_second` requests a second for each (a burst
    /// of as many is allowed), or no limit.
    pub fn new(
        mode: AuthMode,
        tokens: Arc<dyn TokenStore>,
        per_second: Option<NonZeroU32>,
    ) -> Self {
        Authenticator {
            mode,
            tokens,
            verified: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(VERIFIED_FOR)
                .build(),
            limiter: per_second.map(|rate| RateLimiter::keyed(Quota::per_second(rate))),
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

    /// The scope `parts` acts in: `401` without a valid token, `429` beyond its rate.
    async fn scope(&self, parts: &Parts) -> Result<Scope, Problem> {
        if self.mode == AuthMode::None {
            return Ok(Scope::default());
        }
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| unauthorized("this route needs `Authorization: Bearer <token>`"))?
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .and_then(|secret| TokenSecret::presented(secret.trim()))
            .ok_or_else(|| {
                unauthorized("the Authorization header is not `Bearer tl_<64 hex digits>`")
            })?;
        let digest = presented.digest();
        let token = match self.verified.get(&digest).await {
            Some(token) => token,
            None => {
                let token = self
                    .tokens
                    .find(&digest)
                    .await?
                    .ok_or_else(|| unauthorized("unknown or revoked token"))?;
                self.verified.insert(digest, token.clone()).await;
                token
            }
        };
        if let Some(limiter) = &self.limiter
            && let Err(not_until) = limiter.check_key(&token.id)
        {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            return Err(Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "this token has made too many requests; slow down",
            )
            .retry_after(wait));
        }
        Ok(token.scope())
    }
}

fn unauthorized(detail: &str) -> Problem {
    Problem::new(StatusCode::UNAUTHORIZED, detail)
}

impl FromRequestParts<AppState> for Scope {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Problem> {
        app.auth.scope(parts).await
    }
}
