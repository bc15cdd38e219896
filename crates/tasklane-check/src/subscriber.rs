//! Subscribers: clients that follow the change feed while a scenario runs, as an
//! application that keeps a list live does.
//!
//! Each holds `GET /v1/changes/stream` open on a random instance, from the position the
//! scenario started at, and records every change it receives with the time it arrived
//! ([`Received`]) and every stream it held ([`Stream`]). When a stream ends (its
//! instance killed, the server ending it as `lagged`, an error), it opens another on a
//! random instance and resumes with `Last-Event-ID` right after the last change it
//! received, as a browser's `EventSource` does. A `reset` ends the subscriber: the log
//! no longer holds what it missed, and the checks find it behind.
//!
//! The scenario can wait until some subscriber has received a given change
//! ([`Subscribers::await_change`]) or until every one has caught up with the log's
//! head ([`Subscribers::catch_up`]), and then stops them ([`Subscribers::stop`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::backoff::{Backoff, Failure};
use crate::client::{Client, Events, Resume, Target};
use crate::history::{Cause, Change, ChangeKind, Clock, Received, Stream};

/// What the subscribers of a scenario did, for the checks and the report.
#[derive(Debug, Clone, Default)]
pub struct Following {
    /// The word in the description of every task the scenario creates: changes of
    /// other tasks are not the scenario's to judge.
    pub marker: String,
    /// The position they followed from.
    pub since: u64,
    /// The log's head once the run was over, which each had to reach.
    pub head: Option<u64>,
    /// What each subscriber did (none: the feed was not followed).
    pub followed: Vec<Followed>,
    /// Why the feed could not be judged in full, if it could not.
    pub unjudged: Option<String>,
}

/// What one subscriber did.
#[derive(Debug, Clone, Default)]
pub struct Followed {
    /// Every change it received, in the order it received them.
    pub received: Vec<Received>,
    /// Every stream it held or tried to open, in order.
    pub streams: Vec<Stream>,
}

impl Followed {
    /// Streams opened after the first one.
    pub fn reconnections(&self) -> usize {
        self.streams.len().saturating_sub(1)
    }

    /// Whether the server ever answered it with a stream.
    pub fn connected(&self) -> bool {
        self.streams.iter().any(|stream| stream.opened)
    }
}

/// What every subscriber has received so far, as the scenario waits on it.
#[derive(Debug, Default)]
struct Progress {
    /// Each subscriber's last `seq` received (the start position until then).
    last: Vec<u64>,
    /// The newest version of each task that any subscriber has received a change of.
    newest: HashMap<String, i64>,
}

/// The subscribers of one scenario.
pub struct Subscribers {
    since: u64,
    followers: Mutex<Vec<JoinHandle<Followed>>>,
    progress: watch::Sender<Progress>,
    stop: watch::Sender<bool>,
}

impl Subscribers {
    /// Starts `count` subscribers of `target`'s feed from position `since`, their
    /// streams timed on `clock`; `seed` picks their instances.
    pub fn start(count: usize, target: &Target, clock: Clock, since: u64, seed: u64) -> Self {
        let progress = watch::Sender::new(Progress {
            last: vec![since; count],
            newest: HashMap::new(),
        });
        let stop = watch::Sender::new(false);
        let followers = (0..count)
            .map(|n| {
                let subscriber = Subscriber {
                    n,
                    client: Client::for_streams(n, clock, target.token.as_ref()),
                    target: target.clone(),
                    rng: fastrand::Rng::with_seed(seed.wrapping_add(n as u64)),
                    progress: progress.clone(),
                    stop: stop.subscribe(),
                };
                tokio::spawn(subscriber.follow(since))
            })
            .collect();
        Subscribers {
            since,
            followers: Mutex::new(followers),
            progress,
            stop,
        }
    }

    /// The position they follow from.
    pub fn since(&self) -> u64 {
        self.since
    }

    /// Waits until some subscriber has received a change of `task` past `version`, for
    /// `limit` at most; whether one did.
    pub async fn await_change(&self, task: &str, version: i64, limit: Duration) -> bool {
        self.wait(limit, |progress| {
            progress
                .newest
                .get(task)
                .is_some_and(|newest| *newest > version)
        })
        .await
    }

    /// Waits until every subscriber has received every change up to `head`, for `limit`
    /// at most; whether they did.
    pub async fn catch_up(&self, head: u64, limit: Duration) -> bool {
        self.wait(limit, |progress| {
            progress.last.iter().all(|last| *last >= head)
        })
        .await
    }

    async fn wait(&self, limit: Duration, done: impl FnMut(&Progress) -> bool) -> bool {
        let mut progress = self.progress.subscribe();
        tokio::time::timeout(limit, progress.wait_for(done))
            .await
            .is_ok_and(|waited| waited.is_ok())
    }

    /// Stops every subscriber; what each did.
    pub async fn stop(&self) -> Vec<Followed> {
        self.stop.send_replace(true);
        let followers = std::mem::take(&mut *self.followers.lock().expect("not poisoned"));
        let mut followed = Vec::with_capacity(followers.len());
        for follower in followers {
            followed.push(follower.await.unwrap_or_default());
        }
        followed
    }
}

impl Drop for Subscribers {
    /// A scenario that ends early (an error) leaves no subscriber following.
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// One subscriber, while it follows.
struct Subscriber {
    n: usize,
    client: Client,
    target: Target,
    rng: fastrand::Rng,
    progress: watch::Sender<Progress>,
    stop: watch::Receiver<bool>,
}

/// How a stream ended.
enum Ending {
    /// The scenario stopped the subscriber.
    Stopped,
    /// The server ended it with `reset`: the subscriber cannot go on.
    Reset(String),
    /// It ended otherwise: the subscriber opens another (after a pause, if it failed).
    Cut {
        why: String,
        failure: Option<Failure>,
    },
}

impl Subscriber {
    /// Follows the feed from `since` until stopped (or reset).
    async fn follow(mut self, since: u64) -> Followed {
        let mut followed = Followed::default();
        let mut from = Resume::Since(since);
        let mut backoff = Backoff::default();
        loop {
            let instance = self.rng.usize(..self.target.instances.len());
            let start_us = self.client.now();
            let opened = tokio::select! {
                opened = self.client.stream(&self.target, instance, from) => Some(opened),
                _ = self.stop.wait_for(|stop| *stop) => None,
            };
            let (opened, ending) = match opened {
                None => (false, Ending::Stopped),
                Some(Ok(events)) => {
                    let ending = self.read(events, instance, &mut followed, &mut from).await;
                    (true, ending)
                }
                Some(Err((cause, why))) => (
                    false,
                    Ending::Cut {
                        why,
                        failure: Some(Failure::caused_by(cause)),
                    },
                ),
            };
            let (ended, failure, last) = match ending {
                Ending::Stopped => ("stopped".to_owned(), None, true),
                Ending::Reset(why) => (format!("reset: {why}"), None, true),
                Ending::Cut { why, failure } => (why, failure, false),
            };
            followed.streams.push(Stream {
                subscriber: self.n,
                instance,
                start_us,
                end_us: self.client.now(),
                after: from.position(),
                opened,
                ended,
            });
            if last {
                return followed;
            }
            let pause = backoff.next(failure);
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = self.stop.wait_for(|stop| *stop) => {}
            }
        }
    }

    /// Reads one stream's events until it ends, recording each change and moving
    /// `from` past it.
    async fn read(
        &mut self,
        mut events: Events,
        instance: usize,
        followed: &mut Followed,
        from: &mut Resume,
    ) -> Ending {
        loop {
            let event = tokio::select! {
                event = events.next() => event,
                _ = self.stop.wait_for(|stop| *stop) => return Ending::Stopped,
            };
            let received_us = self.client.now();
            let event = match event {
                Some(Ok(event)) => event,
                Some(Err(error)) => return cut(format!("the stream failed: {error}")),
                None => return cut("the server ended the stream".to_owned()),
            };
            match event.event.as_str() {
                "reset" => return Ending::Reset(event.data),
                "lagged" => {
                    return Ending::Cut {
                        why: format!("lagged: {}", event.data),
                        failure: None,
                    };
                }
                name if ChangeKind::parse(name).is_some() => {}
                // Event types the feed may add later mean nothing to the checks.
                _ => continue,
            }
            let change: Change = match serde_json::from_str(&event.data) {
                Ok(change) => change,
                Err(error) => return cut(format!("an unreadable event ({error}): {}", event.data)),
            };
            *from = Resume::After(change.seq);
            let (seq, task, version) = (change.seq, change.task_id.clone(), change.version);
            followed.received.push(Received {
                subscriber: self.n,
                instance,
                received_us,
                id: event.id,
                change,
            });
            self.progress.send_modify(|progress| {
                let last = &mut progress.last[self.n];
                *last = (*last).max(seq);
                let newest = progress.newest.entry(task).or_default();
                *newest = (*newest).max(version);
            });
        }
    }
}

/// A stream that ended in a way that calls for a pause before the next one.
fn cut(why: String) -> Ending {
    Ending::Cut {
        why,
        failure: Some(Failure::caused_by(Cause::Connection)),
    }
}
