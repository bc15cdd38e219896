//! Generation lookups shared by the readers that arrive together, as a group commit
//! shares one log flush: one round trip answers a whole batch of readers of one key.
//!
//! # The rule
//!
//! A reader that finds no lookup of its key in flight sends one at once. A reader that
//! finds one in flight does **not** take its answer: it queues for the *next* lookup,
//! which is sent once the one in flight has answered, and which answers every reader
//! that queued meanwhile. So every answer a reader gets was sent after that reader
//! arrived.
//!
//! # Why a shared answer is as good as the reader's own
//!
//! The cache's freshness argument ("Why no stale entry is ever served" in the cache's
//! documentation) needs one thing of a read's generation lookup: that it is made after
//! the read started. Then every write acknowledged before the read started had already
//! advanced the generation (or announced itself, which the Redis lookup reports), and
//! the lookup sees that. Nothing in the argument depends on *who* sent the lookup: a
//! lookup sent after the reader arrived observes the generation (and the announcements,
//! and the entry under that generation) at a moment inside the reader's own request, as
//! the reader's own lookup would have, had it merely been sent a little later. Each
//! reader then fills (and checks its fill) under the generation it was given, as before.
//!
//! A lookup already in flight when a reader arrives is different: it may have read the
//! generation before a write that was acknowledged before the reader arrived, so its
//! answer may name a generation that write has left behind, and the entry under it. That
//! reader would be served the list from before a write its client has seen acknowledged.
//! The test-only design `JoinInFlight` does exactly that, and the race replay in the
//! freshness tests (and the tests below) show it serving the old list.
//!
//! # Cancellation, failures
//!
//! The reader that sends a batch's lookup (its *lead*) holds a [`Batch`]: the readers its
//! answer is owed to. If the lead is dropped before it answers (its client hung up, its
//! request timed out, the lookup panicked), the batch hands itself on: the first reader
//! still waiting, of this batch or of those queued since, becomes the lead and sends a new
//! lookup, again after every reader it answers arrived. A waiter that is dropped simply
//! stops listening. Whatever the lookup returns, an error included, reaches every reader
//! of its batch, so each handles it as it would its own (bypassing the cache, backing
//! off from Redis).

use std::hash::Hash;
use std::sync::Arc;

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use metrics::Counter;
use tokio::sync::oneshot;

/// For each key with a lookup in flight, the readers queued for the next one.
type Queues<K, V> = DashMap<K, Vec<oneshot::Sender<Turn<K, V>>>>;

/// What a queued reader is given once the lookup in flight has answered.
enum Turn<K: Hash + Eq + Clone, V: Clone> {
    /// The answer of a lookup sent after this reader arrived.
    Answer(V),
    /// This reader is to send the next lookup, and answer the readers of its batch.
    Lead(Batch<K, V>),
}

/// Lookups in flight, by key, and the readers waiting for the next of each.
pub(super) struct Batcher<K: Hash + Eq + Clone, V: Clone> {
    queues: Arc<Queues<K, V>>,
    /// Test-only: readers take the answer of the lookup in flight (see "Why a shared
    /// answer is as good as the reader's own").
    joins_in_flight: bool,
    /// Readers answered by a lookup another reader sent.
    shared: Counter,
}

impl<K: Hash + Eq + Clone, V: Clone> Batcher<K, V> {
    /// A batcher counting in `shared` the readers whose answer another reader's lookup
    /// gave; `joins_in_flight` only for the test-only design that joins lookups in flight.
    pub(super) fn new(joins_in_flight: bool, shared: Counter) -> Self {
        Batcher {
            queues: Arc::default(),
            joins_in_flight,
            shared,
        }
    }

    /// The answer of `lookup` for `key`, from a lookup sent after this call began: this
    /// reader's own (`lookup` runs here), or another reader's of the same key. `lookup`
    /// must answer the same question whichever reader of `key` runs it.
    pub(super) async fn lookup<F: Future<Output = V>>(
        &self,
        key: &K,
        lookup: impl FnOnce() -> F,
    ) -> V {
        let queued = match self.queues.entry(key.clone()) {
            Entry::Vacant(idle) => {
                idle.insert(Vec::new());
                None
            }
            Entry::Occupied(mut busy) => {
                let (turn, waiting) = oneshot::channel();
                busy.get_mut().push(turn);
                Some(waiting)
            }
        };
        let batch = match queued {
            None => Batch {
                queues: self.queues.clone(),
                key: key.clone(),
                waiting: Vec::new(),
                joins_in_flight: self.joins_in_flight,
                settled: false,
            },
            Some(waiting) => match waiting
                .await
                .expect("every queued reader is answered or handed the lead")
            {
                Turn::Answer(value) => {
                    self.shared.increment(1);
                    return value;
                }
                Turn::Lead(batch) => batch,
            },
        };
        // If this future is dropped here, `batch` hands itself on.
        let value = lookup().await;
        batch.answer(&value);
        value
    }
}

/// The readers one lookup answers besides its lead, and the right to send the next
/// lookup of the key once it has.
struct Batch<K: Hash + Eq + Clone, V: Clone> {
    queues: Arc<Queues<K, V>>,
    key: K,
    waiting: Vec<oneshot::Sender<Turn<K, V>>>,
    joins_in_flight: bool,
    /// Answered or handed on: nothing left to do when dropped.
    settled: bool,
}

impl<K: Hash + Eq + Clone, V: Clone> Batch<K, V> {
    /// Gives `value` to every reader of the batch, then hands the next lookup to the
    /// readers that queued meanwhile.
    fn answer(mut self, value: &V) {
        for reader in self.waiting.drain(..) {
            // A reader that gave up is not listening: nothing to do for it.
            let _ = reader.send(Turn::Answer(value.clone()));
        }
        if self.joins_in_flight {
            self.settled = true;
            let (_, joined) = self
                .queues
                .remove(&self.key)
                .expect("the key is busy until its lead settles");
            for reader in joined {
                let _ = reader.send(Turn::Answer(value.clone()));
            }
            return;
        }
        self.hand_on();
    }

    /// Makes the first reader still listening, of this batch or queued since, the lead of
    /// a batch of all of them; with none, the key has no lookup in flight any more.
    fn hand_on(&mut self) {
        self.settled = true;
        let mut waiting = std::mem::take(&mut self.waiting);
        loop {
            if let Some(mut queued) = self.queues.get_mut(&self.key) {
                waiting.append(&mut queued);
            }
            if waiting.is_empty() {
                if self
                    .queues
                    .remove_if(&self.key, |_, queued| queued.is_empty())
                    .is_some()
                {
                    return;
                }
                continue; // someone queued meanwhile
            }
            let lead = waiting.remove(0);
            let batch = Batch {
                queues: self.queues.clone(),
                key: self.key.clone(),
                waiting,
                joins_in_flight: self.joins_in_flight,
                settled: false,
            };
            // Sent with no lock held: a lead dropped unread hands itself on from its drop.
            match lead.send(Turn::Lead(batch)) {
                Ok(()) => return,
                Err(Turn::Lead(mut batch)) => {
                    batch.settled = true;
                    waiting = std::mem::take(&mut batch.waiting);
                }
                Err(Turn::Answer(_)) => unreachable!("a lead was sent"),
            }
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> Drop for Batch<K, V> {
    fn drop(&mut self) {
        if !self.settled {
            self.hand_on();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

    use tokio::sync::Semaphore;
    use tokio::task::JoinHandle;

    use super::*;

    /// What a lookup answers: the generation it read when it was sent, or a failure.
    type Answer = Result<u64, &'static str>;

    /// A key's generation, and lookups of it held in flight until the test lets them go.
    struct Source {
        generation: AtomicU64,
        failing: AtomicBool,
        sent: AtomicUsize,
        released: Semaphore,
    }

    impl Source {
        fn new() -> Self {
            Source {
                generation: AtomicU64::new(0),
                failing: AtomicBool::new(false),
                sent: AtomicUsize::new(0),
                released: Semaphore::new(0),
            }
        }

        /// Reads the generation as it is sent, then waits to be let go.
        async fn lookup(&self) -> Answer {
            let read = if self.failing.load(Ordering::SeqCst) {
                Err("unreachable")
            } else {
                Ok(self.generation.load(Ordering::SeqCst))
            };
            self.sent.fetch_add(1, Ordering::SeqCst);
            self.released.acquire().await.unwrap().forget();
            read
        }

        fn sent(&self) -> usize {
            self.sent.load(Ordering::SeqCst)
        }

        /// A write, acknowledged: every lookup sent from now on reads the new generation.
        fn advance(&self) {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }

        /// Lets the lookup in flight answer.
        fn answer_one(&self) {
            self.released.add_permits(1);
        }
    }

    struct Readers {
        batcher: Arc<Batcher<&'static str, Answer>>,
        source: Arc<Source>,
    }

    impl Readers {
        fn new(joins_in_flight: bool) -> Self {
            Readers {
                batcher: Arc::new(Batcher::new(joins_in_flight, Counter::noop())),
                source: Arc::new(Source::new()),
            }
        }

        /// A reader of the key, arriving now (its task runs at the next [`settle`]).
        fn arrive(&self) -> JoinHandle<Answer> {
            let (batcher, source) = (self.batcher.clone(), self.source.clone());
            tokio::spawn(async move { batcher.lookup(&"key", || source.lookup()).await })
        }

        /// How many readers wait for the next lookup.
        fn queued(&self) -> usize {
            self.batcher
                .queues
                .get("key")
                .map_or(0, |queued| queued.len())
        }
    }

    /// Lets every spawned reader run until `done` holds (the tests run on one thread, so
    /// this is deterministic).
    async fn settle(done: impl Fn() -> bool) {
        for _ in 0..100 {
            if done() {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("the readers never got there");
    }

    #[tokio::test]
    async fn one_lookup_answers_every_reader_that_queued_during_the_last() {
        let readers = Readers::new(false);
        let first = readers.arrive();
        settle(|| readers.source.sent() == 1).await;
        let batch: Vec<_> = (0..3).map(|_| readers.arrive()).collect();
        settle(|| readers.queued() == 3).await;

        readers.source.answer_one();
        assert_eq!(first.await.unwrap(), Ok(0));
        settle(|| readers.source.sent() == 2).await; // the batch's own lookup
        readers.source.answer_one();
        for reader in batch {
            assert_eq!(reader.await.unwrap(), Ok(0));
        }
        assert_eq!(readers.source.sent(), 2, "four readers, two lookups");
        assert!(readers.batcher.queues.is_empty(), "nothing left in flight");
    }

    /// A reader's lookup in flight, then a write acknowledged, then a second reader: what
    /// the first and the second are given.
    async fn answers_around_a_write(joins_in_flight: bool) -> (Answer, Answer) {
        let readers = Readers::new(joins_in_flight);
        let before = readers.arrive();
        settle(|| readers.source.sent() == 1).await; // reads generation 0, held
        readers.source.advance();
        let after = readers.arrive();
        settle(|| readers.queued() == 1).await;
        readers.source.released.add_permits(2);
        (before.await.unwrap(), after.await.unwrap())
    }

    #[tokio::test]
    async fn a_reader_never_takes_the_answer_of_a_lookup_sent_before_it_arrived() {
        assert_eq!(answers_around_a_write(false).await, (Ok(0), Ok(1)));
    }

    #[tokio::test]
    async fn joining_the_lookup_in_flight_misses_a_write_acknowledged_before_the_reader() {
        assert_eq!(
            answers_around_a_write(true).await,
            (Ok(0), Ok(0)),
            "the test-only variant is caught"
        );
    }

    #[tokio::test]
    async fn a_cancelled_lead_hands_its_readers_a_lookup_of_their_own() {
        let readers = Readers::new(false);
        let lead = readers.arrive();
        settle(|| readers.source.sent() == 1).await;
        let batch: Vec<_> = (0..2).map(|_| readers.arrive()).collect();
        settle(|| readers.queued() == 2).await;

        readers.source.advance();
        lead.abort(); // its client hung up, with its lookup in flight
        assert!(lead.await.unwrap_err().is_cancelled());
        settle(|| readers.source.sent() == 2).await; // one of the batch sent the next
        readers.source.answer_one();
        for reader in batch {
            assert_eq!(reader.await.unwrap(), Ok(1));
        }
    }

    #[tokio::test]
    async fn the_lead_passes_over_readers_that_gave_up() {
        let readers = Readers::new(false);
        let first = readers.arrive();
        settle(|| readers.source.sent() == 1).await;
        let gone = readers.arrive();
        let last = readers.arrive();
        settle(|| readers.queued() == 2).await;
        gone.abort();
        assert!(gone.await.unwrap_err().is_cancelled());

        readers.source.answer_one();
        assert_eq!(first.await.unwrap(), Ok(0));
        settle(|| readers.source.sent() == 2).await; // sent by `last`, not by `gone`
        readers.source.answer_one();
        assert_eq!(last.await.unwrap(), Ok(0));
        assert!(readers.batcher.queues.is_empty());
    }

    #[tokio::test]
    async fn a_failed_lookup_fails_every_reader_of_its_batch() {
        let readers = Readers::new(false);
        let first = readers.arrive();
        settle(|| readers.source.sent() == 1).await;
        let batch: Vec<_> = (0..3).map(|_| readers.arrive()).collect();
        settle(|| readers.queued() == 3).await;

        readers.source.failing.store(true, Ordering::SeqCst);
        readers.source.answer_one();
        assert_eq!(first.await.unwrap(), Ok(0), "sent before the failure");
        settle(|| readers.source.sent() == 2).await;
        readers.source.answer_one();
        for reader in batch {
            assert_eq!(reader.await.unwrap(), Err("unreachable"));
        }
    }
}
