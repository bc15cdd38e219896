//! A small client for `text/event-stream`, as the tests need it: the events *and* the
//! comment lines (heartbeats), one at a time as they arrive, over a reqwest response
//! read chunk by chunk. (SSE client crates drop comments, as browsers do.)
//!
//! The parser follows the format's rules that the server's output uses: lines end in
//! `\n` (or `\r\n`), a line starting with `:` is a comment, `field: value` loses one
//! space after the colon, `data` lines join with `\n`, and a blank line ends an event.
//! As in a browser's `EventSource`, a block without `data` is no event, but its `id`
//! still becomes the last event id, the one a reconnection sends.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

/// How long a test waits for something the server should send at once.
pub const PROMPTLY: Duration = Duration::from_secs(10);

/// One event of the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    /// `id`, if the event carried one.
    pub id: Option<String>,
    /// `event` (`message` when absent, as the format says).
    pub event: String,
    /// `data`, its lines joined with `\n`.
    pub data: String,
}

impl SseEvent {
    /// The change's position: its `id`, which must be a whole number.
    pub fn seq(&self) -> u64 {
        let id = self
            .id
            .as_deref()
            .unwrap_or_else(|| panic!("no id: {self:?}"));
        id.parse().unwrap_or_else(|_| panic!("id {id:?} is no seq"))
    }

    /// `data` as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("{e}: {:?}", self.data))
    }
}

/// What a stream sends: a comment line or an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A comment line's text (after the `:` and one space); empty for a heartbeat.
    Comment(String),
    /// A whole event.
    Event(SseEvent),
}

/// Splits received bytes into comments and events.
#[derive(Default)]
struct Parser {
    /// Received bytes not yet split into lines.
    unread: Vec<u8>,
    /// The last `id` received, in an event or not: what `Last-Event-ID` would say.
    last_id: Option<String>,
    /// The fields of the event being read, if any came yet.
    id: Option<String>,
    event: Option<String>,
    data: Option<String>,
}

impl Parser {
    fn feed(&mut self, bytes: &[u8]) {
        self.unread.extend_from_slice(bytes);
    }

    /// The next comment or whole event in what was fed, if there is one yet.
    fn frame(&mut self) -> Option<Frame> {
        while let Some(end) = self.unread.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.unread.drain(..=end).collect();
            let line = String::from_utf8(line).expect("an event stream is UTF-8");
            if let Some(frame) = self.line(line.trim_end_matches(['\n', '\r'])) {
                return Some(frame);
            }
        }
        None
    }

    /// One line's effect: a comment, the event it completes, or nothing yet.
    fn line(&mut self, line: &str) -> Option<Frame> {
        if line.is_empty() {
            let (id, event) = (self.id.take(), self.event.take());
            if id.is_some() {
                self.last_id.clone_from(&id);
            }
            return Some(Frame::Event(SseEvent {
                id,
                event: event.unwrap_or_else(|| "message".to_owned()),
                data: self.data.take()?,
            }));
        }
        if let Some(comment) = line.strip_prefix(':') {
            return Some(Frame::Comment(strip_space(comment).to_owned()));
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = strip_space(value).to_owned();
        match field {
            "id" => self.id = Some(value),
            "event" => self.event = Some(value),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(&value);
                }
                None => self.data = Some(value),
            },
            // `retry`, and any other field, makes no event of its own.
            _ => {}
        }
        None
    }
}

/// An open event stream.
pub struct EventStream {
    response: reqwest::Response,
    parser: Parser,
    ended: bool,
}

impl EventStream {
    /// Sends `request` (a `GET` of the stream) and asserts a `200` event stream.
    pub async fn open(request: reqwest::RequestBuilder) -> EventStream {
        let response = request.send().await.expect("the stream answers");
        if response.status() != StatusCode::OK {
            let status = response.status();
            panic!("{status}: {:?}", response.text().await);
        }
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        EventStream {
            response,
            parser: Parser::default(),
            ended: false,
        }
    }

    /// The next comment or event; `None` once the stream has ended (the server closed
    /// it, or the connection broke).
    pub async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some(frame) = self.parser.frame() {
                return Some(frame);
            }
            if self.ended {
                return None;
            }
            match self.response.chunk().await {
                Ok(Some(chunk)) => self.parser.feed(&chunk),
                Ok(None) | Err(_) => self.ended = true,
            }
        }
    }

    /// The next event within `within`, skipping comments; panics if the stream ends or
    /// nothing comes.
    pub async fn event_within(&mut self, within: Duration) -> SseEvent {
        let next = async {
            loop {
                match self.next().await {
                    Some(Frame::Event(event)) => return event,
                    Some(Frame::Comment(_)) => {}
                    None => panic!("the stream ended where an event was expected"),
                }
            }
        };
        tokio::time::timeout(within, next)
            .await
            .unwrap_or_else(|_| panic!("no event within {within:?}"))
    }

    /// The next event, which the server sends at once.
    pub async fn event(&mut self) -> SseEvent {
        self.event_within(PROMPTLY).await
    }

    /// The next `n` events.
    pub async fn events(&mut self, n: usize) -> Vec<SseEvent> {
        let mut events = Vec::with_capacity(n);
        for _ in 0..n {
            events.push(self.event().await);
        }
        events
    }

    /// The id a browser's `EventSource` would resume after, from what was read so far.
    pub fn last_event_id(&self) -> Option<u64> {
        let id = self.parser.last_id.as_deref()?;
        Some(id.parse().unwrap_or_else(|_| panic!("id {id:?} is no seq")))
    }

    /// What the stream sends until it ends, which it must within `within`.
    pub async fn rest_within(&mut self, within: Duration) -> Vec<Frame> {
        let rest = async {
            let mut frames = Vec::new();
            while let Some(frame) = self.next().await {
                frames.push(frame);
            }
            frames
        };
        tokio::time::timeout(within, rest)
            .await
            .unwrap_or_else(|_| panic!("the stream did not end within {within:?}"))
    }
}

/// A field's value or a comment without the one space after its colon.
fn strip_space(text: &str) -> &str {
    text.strip_prefix(' ').unwrap_or(text)
}

/// Only the events of `frames`.
pub fn events_of(frames: &[Frame]) -> Vec<SseEvent> {
    frames
        .iter()
        .filter_map(|frame| match frame {
            Frame::Event(event) => Some(event.clone()),
            Frame::Comment(_) => None,
        })
        .collect()
}

#[test]
fn the_parser_reads_events_comments_and_multiline_data() {
    let mut parser = Parser::default();
    parser
        .feed(b": following after 3\nretry: 1000\n\nid: 4\nevent: task.created\ndata: {\"a\":\r\n");
    assert_eq!(
        parser.frame(),
        Some(Frame::Comment("following after 3".into()))
    );
    assert_eq!(parser.frame(), None, "half an event is no event");
    parser.feed(b"data:1}\n\n:\n\n");
    let frames: Vec<_> = std::iter::from_fn(|| parser.frame()).collect();
    assert_eq!(
        frames,
        [
            Frame::Event(SseEvent {
                id: Some("4".into()),
                event: "task.created".into(),
                data: "{\"a\":\n1}".into(),
            }),
            Frame::Comment(String::new()),
        ]
    );
    // An id without data is no event, but the id is kept; it is not the next event's.
    parser.feed(b"id: 9\n\nevent: reset\ndata: {}\n\n");
    assert_eq!(
        parser.frame(),
        Some(Frame::Event(SseEvent {
            id: None,
            event: "reset".into(),
            data: "{}".into(),
        }))
    );
    assert_eq!(parser.last_id.as_deref(), Some("9"));
}
