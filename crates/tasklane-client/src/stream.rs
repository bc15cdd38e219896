//! The change feed's event stream (`GET /v1/changes/stream`): where it starts, and its
//! server-sent events decoded.

use std::pin::Pin;
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::{Stream, StreamExt};

/// How long an event stream may stay silent before it counts as lost: longer than the
/// longest heartbeat interval a server may be given (15 s).
pub const SILENCE: Duration = Duration::from_secs(20);

/// Where an event stream starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// After this position (`?since=`): the first stream.
    Since(u64),
    /// Right after the event with this `id` (`Last-Event-ID`): a stream that replaces
    /// one that was cut.
    After(u64),
}

impl Resume {
    /// The position the stream continues from.
    pub fn position(self) -> u64 {
        match self {
            Resume::Since(seq) | Resume::After(seq) => seq,
        }
    }
}

/// The events of an open stream, decoded; an error ends it.
pub type Events =
    Pin<Box<dyn Stream<Item = Result<eventsource_stream::Event, String>> + Send + 'static>>;

/// The events of a `200` answer to a stream request.
pub fn events(response: reqwest::Response) -> Events {
    let events = response.bytes_stream().eventsource();
    Box::pin(events.map(|event| event.map_err(|error| error.to_string())))
}
