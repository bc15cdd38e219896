//! One reader of the log per followed workspace on this instance, and the subscriptions
//! that share it.
//!
//! A workspace with subscribers has one [`Follower`]: a task that reads the log after its
//! position whenever it is woken (a write here, a notification from another instance)
//! or its poll interval passes, and broadcasts each change once to every subscriber.
//! Ten thousand subscribers of one workspace cost one log read per wake-up. A wake-up is
//! only a hint: the follower reads the log, so a lost one delays changes by at most a
//! poll interval and loses none.
//!
//! A subscription first catches up from the log itself (from the position its client
//! gave), then joins the broadcast, catches up once more over the moment it joined, and
//! from then on takes the broadcast's changes, skipping any it already sent. Each step
//! asks for "after the last `seq` sent", so nothing is sent twice and nothing skipped;
//! a follower it starts starts from that `seq` too, so every change after it is either
//! in that catch-up or broadcast.
//!
//! Memory is bounded: the broadcast keeps the last [`HubConfig::buffer`] changes, shared
//! by every subscriber, and a subscriber that falls further behind than that (its
//! client reads too slowly) is ended with [`Item::Lagged`], saying where to resume.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::{Notify, broadcast, watch};

use super::metrics::{FeedMetrics, Source};
use super::{Feed, FeedError};
use crate::domain::{Change, ChangeKind, Timestamp, Workspace};
use crate::telemetry::Registry;

/// How the hub reads and buffers.
#[derive(Debug, Clone, Copy)]
pub struct HubConfig {
    /// How often a follower reads its workspace's log head without a wake-up.
    pub poll: Duration,
    /// Changes a follower's broadcast keeps for subscribers that are behind.
    pub buffer: usize,
}

/// Changes read from the log per query.
const PAGE: u32 = 500;

/// How long to wait before reading again after the database or the cache failed.
const RETRY: Duration = Duration::from_millis(250);

/// One change, serialised once for every subscriber.
#[derive(Debug)]
pub struct Event {
    /// Its position in the workspace's log.
    pub seq: u64,
    /// What the write did.
    pub kind: ChangeKind,
    /// The change as JSON.
    pub data: String,
    /// When its write happened.
    at: Timestamp,
}

impl Event {
    fn of(change: &Change) -> Arc<Event> {
        Arc::new(Event {
            seq: change.seq,
            kind: change.kind,
            data: serde_json::to_string(change).expect("a change always serialises"),
            at: change.at,
        })
    }
}

/// What a subscription yields.
#[derive(Debug, Clone)]
pub enum Item {
    /// The next change.
    Change(Arc<Event>),
    /// The position asked for is older than retention kept (or ahead of the log):
    /// reload the list, then follow from its `seq`. The subscription ends.
    Reset {
        /// The workspace's latest `seq`.
        head: u64,
    },
    /// The client read too slowly and fell behind what the server buffers: reconnect
    /// and resume after `resume_after`. The subscription ends.
    Lagged {
        /// The last `seq` sent.
        resume_after: u64,
    },
}

/// The reader of one workspace's log on this instance.
struct Follower {
    workspace: Workspace,
    changes: broadcast::Sender<Arc<Event>>,
    wake: Notify,
}

/// Every follower of this instance.
pub struct Hub {
    feed: Arc<Feed>,
    config: HubConfig,
    followers: Mutex<HashMap<Workspace, Weak<Follower>>>,
    /// Becomes `true` when the server stops: every subscription ends.
    closed: watch::Sender<bool>,
    metrics: FeedMetrics,
}

impl Hub {
    /// A hub over `feed`, with its metrics in `registry`.
    pub fn new(feed: Arc<Feed>, config: HubConfig, registry: &Registry) -> Arc<Self> {
        let hub = Arc::new(Hub {
            feed,
            config,
            followers: Mutex::new(HashMap::new()),
            closed: watch::Sender::new(false),
            metrics: FeedMetrics::register(registry),
        });
        let weak = Arc::downgrade(&hub);
        registry.on_scrape(move || {
            if let Some(hub) = weak.upgrade() {
                let followers = hub.followers.lock().expect("never poisoned");
                let live = followers.values().filter(|f| f.strong_count() > 0).count();
                hub.metrics.followers.set(live as f64);
            }
        });
        hub
    }

    /// The feed the followers read.
    pub fn feed(&self) -> &Arc<Feed> {
        &self.feed
    }

    /// Ends every subscription (the server is stopping).
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// Becomes `true` when the hub closes.
    pub(super) fn closed(&self) -> watch::Receiver<bool> {
        self.closed.subscribe()
    }

    /// Wakes the follower of `workspace`, if it has one: `source` says its log has
    /// (probably) grown.
    pub fn wake(&self, workspace: &Workspace, source: Source) {
        self.metrics.notified(source);
        let follower = self
            .followers
            .lock()
            .expect("never poisoned")
            .get(workspace)
            .and_then(Weak::upgrade);
        if let Some(follower) = follower {
            follower.wake.notify_one();
        }
    }

    /// Wakes every follower: a source of wake-ups may have missed some.
    pub fn wake_all(&self) {
        let followers: Vec<_> = self
            .followers
            .lock()
            .expect("never poisoned")
            .values()
            .filter_map(Weak::upgrade)
            .collect();
        for follower in followers {
            follower.wake.notify_one();
        }
    }

    /// Every change of `workspace` after `since`, then each new one as it commits, until
    /// the subscription is dropped, the server stops, or it ends with [`Item::Reset`] or
    /// [`Item::Lagged`].
    pub fn subscribe(
        self: &Arc<Self>,
        workspace: Workspace,
        since: u64,
    ) -> impl Stream<Item = Item> + Send + use<> {
        let hub = self.clone();
        let mut closed = self.closed.subscribe();
        async_stream::stream! {
            let _open = Subscribed::new(&hub.metrics.subscribers);
            let mut sent = since;
            let mut joined = None;
            loop {
                // Catch up from the log, a page at a time.
                loop {
                    match hub.page(&workspace, sent, &mut closed).await {
                        Ok(page) => {
                            let full = page.len() == PAGE as usize;
                            for event in page {
                                sent = event.seq;
                                hub.metrics.sent.increment(1);
                                yield Item::Change(event);
                            }
                            if !full {
                                break;
                            }
                        }
                        Err(ending) => {
                            if let Some(ending) = ending {
                                hub.metrics.resets.increment(1);
                                yield ending;
                            }
                            return;
                        }
                    }
                }
                // Join the broadcast, then catch up once more over the moment of joining.
                let Some((_follower, live)) = &mut joined else {
                    let follower = hub.follow(&workspace, sent);
                    let live = follower.changes.subscribe();
                    joined = Some((follower, live));
                    continue;
                };
                // Follow the broadcast, back to the log on a gap (the follower's first
                // position may be past what this subscription had read).
                loop {
                    let received = tokio::select! {
                        received = live.recv() => received,
                        _ = closed.wait_for(|closed| *closed) => return,
                    };
                    match received {
                        Ok(event) if event.seq <= sent => {}
                        Ok(event) if event.seq == sent + 1 => {
                            sent = event.seq;
                            hub.metrics.sent.increment(1);
                            yield Item::Change(event);
                        }
                        Ok(_) => break,
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            hub.metrics.lagged.increment(1);
                            yield Item::Lagged { resume_after: sent };
                            return;
                        }
                        // The follower lives while this subscription holds it.
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                }
            }
        }
    }

    /// One page of the log after `since`, retried until it can be read (the database or
    /// the cache's advance may fail for a while): `Err(Some(reset))` when the log no
    /// longer holds the position, `Err(None)` when the server is stopping.
    async fn page(
        &self,
        workspace: &Workspace,
        since: u64,
        closed: &mut watch::Receiver<bool>,
    ) -> Result<Vec<Arc<Event>>, Option<Item>> {
        loop {
            if *closed.borrow() {
                return Err(None);
            }
            match self.feed.read(workspace, Some(since), PAGE).await {
                Ok(log) => return Ok(log.changes.iter().map(Event::of).collect()),
                Err(FeedError::Gone { head, .. }) => return Err(Some(Item::Reset { head })),
                Err(FeedError::Cache(error)) => {
                    tracing::debug!(%error, workspace = workspace.as_str(), "the change log could not be read; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(RETRY) => {}
                        _ = closed.wait_for(|closed| *closed) => return Err(None),
                    }
                }
            }
        }
    }

    /// The follower of `workspace`, started from `from` (its first subscriber's position)
    /// if it has none. Not from the log's head: the follower would read it only after
    /// its subscriber's last catch-up, and a change committed in between would be left
    /// to nobody until the next one.
    fn follow(self: &Arc<Self>, workspace: &Workspace, from: u64) -> Arc<Follower> {
        let mut followers = self.followers.lock().expect("never poisoned");
        if let Some(follower) = followers.get(workspace).and_then(Weak::upgrade) {
            return follower;
        }
        let follower = Arc::new(Follower {
            workspace: workspace.clone(),
            changes: broadcast::Sender::new(self.config.buffer),
            wake: Notify::new(),
        });
        followers.insert(workspace.clone(), Arc::downgrade(&follower));
        tokio::spawn(self.clone().run(Arc::downgrade(&follower), from));
        follower
    }

    /// A follower's task: after `from`, read and broadcast each change, until its last
    /// subscriber is gone or the server stops.
    async fn run(self: Arc<Self>, follower: Weak<Follower>, from: u64) {
        let mut closed = self.closed.subscribe();
        let mut position = from;
        loop {
            let Some(current) = follower.upgrade() else {
                break;
            };
            position = self.broadcast(&current, position, &mut closed).await;
            tokio::select! {
                () = current.wake.notified() => self.metrics.woken.increment(1),
                () = tokio::time::sleep(self.config.poll) => self.metrics.polled.increment(1),
                _ = closed.wait_for(|closed| *closed) => break,
            }
        }
        let mut followers = self.followers.lock().expect("never poisoned");
        followers.retain(|_, entry| entry.strong_count() > 0);
    }

    /// Broadcasts the changes after `position`; the new position.
    async fn broadcast(
        &self,
        follower: &Follower,
        mut position: u64,
        closed: &mut watch::Receiver<bool>,
    ) -> u64 {
        loop {
            let page = match self.page(&follower.workspace, position, closed).await {
                Ok(page) => page,
                // Retention passed this follower by (it was stalled for long): go on from
                // the head; its subscribers meet the gap and reset themselves.
                Err(Some(Item::Reset { head })) => return head,
                Err(_) => return position,
            };
            let full = page.len() == PAGE as usize;
            for event in page {
                position = event.seq;
                self.metrics.broadcasting(event.at);
                // No receiver now is not an error: a new subscriber catches up from the log.
                let _ = follower.changes.send(event);
            }
            if !full {
                return position;
            }
        }
    }
}

/// An open subscription, counted in the subscribers gauge until it is dropped.
struct Subscribed(metrics::Gauge);

impl Subscribed {
    fn new(gauge: &metrics::Gauge) -> Self {
        gauge.increment(1.0);
        Subscribed(gauge.clone())
    }
}

impl Drop for Subscribed {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}
