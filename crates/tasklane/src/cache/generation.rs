//! Scope generations: a counter per scope that every acknowledged write advances, and
//! the places it can live.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use dashmap::DashMap;
use uuid::Uuid;

use crate::domain::Scope;
use crate::store::{Store, StoreError};

/// A scope's generation: how many writes it has seen, within an epoch.
///
/// The epoch keeps a counter that can start again from 0 (in-process counters after a
/// restart) from ever producing a key or an ETag that an earlier run produced for
/// different data: the report's `cacheVersion = 0` after a restart would make every
/// old ETag current again. Counters that never restart (a database row) need none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation {
    epoch: u64,
    counter: u64,
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}.{}", self.epoch, self.counter)
    }
}

/// Where generations live.
///
/// `current` must observe every `advance` that returned before it was called; an
/// `advance` that returns `Ok` is the confirmation the write path waits for before it
/// answers the client.
#[async_trait]
pub trait Generations: Send + Sync + 'static {
    /// The scope's generation now.
    async fn current(&self, scope: &Scope) -> Result<Generation, StoreError>;

    /// Called after a write has committed: moves the scope to its next generation.
    async fn advance(&self, scope: &Scope) -> Result<(), StoreError>;
}

/// Generations held in this process (`--consistency local`): correct while one process
/// serves the database, because the cache they guard lives and dies with them.
///
/// Reads and advances go through the map's shard locks, so an advance that returned
/// before a read began is seen by that read.
#[derive(Debug)]
pub struct InProcessGenerations {
    epoch: u64,
    counters: DashMap<Scope, u64>,
}

impl Default for InProcessGenerations {
    fn default() -> Self {
        InProcessGenerations {
            epoch: Uuid::new_v4().as_u64_pair().0,
            counters: DashMap::new(),
        }
    }
}

#[async_trait]
impl Generations for InProcessGenerations {
    async fn current(&self, scope: &Scope) -> Result<Generation, StoreError> {
        let counter = self.counters.get(scope).map_or(0, |counter| *counter);
        Ok(Generation {
            epoch: self.epoch,
            counter,
        })
    }

    async fn advance(&self, scope: &Scope) -> Result<(), StoreError> {
        *self.counters.entry(scope.clone()).or_insert(0) += 1;
        Ok(())
    }
}

/// Generations read from the store's generation row (`--consistency strict`).
///
/// The row is advanced inside each write's own transaction, so it commits atomically
/// with the data it counts: there is no moment at which a write is visible and its
/// generation is not, whichever process wrote it. Costs one indexed read per request.
pub struct DatabaseGenerations(pub Arc<dyn Store>);

#[async_trait]
impl Generations for DatabaseGenerations {
    async fn current(&self, scope: &Scope) -> Result<Generation, StoreError> {
        Ok(Generation {
            epoch: 0,
            counter: self.0.generation(scope).await?,
        })
    }

    async fn advance(&self, _scope: &Scope) -> Result<(), StoreError> {
        Ok(()) // already advanced by the write's transaction
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn scopes_advance_independently_and_epochs_differ() {
        let generations = InProcessGenerations::default();
        let (a, b) = (Scope::default(), Scope::named("other"));
        let before = generations.current(&a).await.unwrap();
        generations.advance(&a).await.unwrap();
        assert_ne!(generations.current(&a).await.unwrap(), before);
        assert_eq!(generations.current(&b).await.unwrap().counter, 0);
        let restarted = InProcessGenerations::default();
        assert_ne!(restarted.current(&a).await.unwrap(), before, "a new epoch");
    }
}
