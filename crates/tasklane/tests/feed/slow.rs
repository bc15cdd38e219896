//! A client that stops reading while its workspace changes fast: the server keeps a
//! bounded number of changes for it (`--feed-buffer`, shared with every other stream),
//! then ends its stream with `lagged`, saying where to resume; meanwhile it serves
//! everyone else, and its memory grows by less than what the client left unread.

use serde_json::json;
use tasklane_server::domain::{NewTask, Task, Timestamp, Workspace};

use crate::common::{fresh_database, open_store};
use crate::helpers::{ServerProcess, TestApp};
use crate::sse::{Frame, PROMPTLY, SseEvent};
use crate::support::{assert_consecutive, follow_through, resume, subscribe};

/// The server's buffer: the smallest it takes.
const BUFFER: u64 = 512;

/// Rounds of `ROUND` changes of about 4 KiB each, written while the slow client does
/// not read. A round is more than the buffer and than what the sockets between the
/// server and a client hold (about 1000 such changes).
const ROUND: usize = 1_500;
const DESCRIPTION_CHARS: usize = 4_000;

/// Rounds after which a server that keeps nothing for the slow client no longer grows
/// (its buffer, caches and allocator pools are full: three in our runs, at most +1 MiB
/// over the next four), then rounds over which it must not: one that kept every change
/// the slow client did not read would grow by at least their size.
const WARM_UP: usize = 3;
const MEASURED: usize = 2;

/// `ROUND` tasks created in the default workspace behind the server's back (as
/// `tasklane seed` loads them), each appended to the change log.
async fn load(url: &str) {
    let storage = open_store(url).await.unwrap();
    let new = |n: usize| -> Task {
        let body =
            json!({"title": format!("task {n}"), "description": "x".repeat(DESCRIPTION_CHARS)});
        serde_json::from_value::<NewTask>(body)
            .unwrap()
            .into_task(Timestamp::now())
    };
    let tasks: Vec<Task> = (0..ROUND).map(new).collect();
    for batch in tasks.chunks(500) {
        storage
            .bulk
            .load(&Workspace::default(), batch)
            .await
            .unwrap();
    }
}

/// A process's peak resident set size (`VmHWM`), in KiB.
fn peak_memory_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .expect("Linux reports VmHWM");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_ended_with_lagged_and_memory_stays_bounded() {
    let database = fresh_database().await;
    // The load comes from outside the server: on SQLite only its poll sees it.
    let mut options = ["--feed-poll-ms", "50", "--feed-buffer", &BUFFER.to_string()]
        .map(str::to_owned)
        .to_vec();
    options.extend(database.redis.iter().flat_map(|redis| redis.options()));
    let server = ServerProcess::start(&database.url, &options).await;
    let app = TestApp::of(&server.base);
    let mut slow = subscribe(&app, "").await;
    let mut fast = subscribe(&app, "").await;
    app.create_titled("first").await;
    // Both follow the broadcast; the slow client then reads nothing until the end.
    assert_eq!(slow.event().await.seq(), 1);
    assert_eq!(fast.event().await.seq(), 1);

    // Another client reads every change as it comes, round after round.
    let mut head = 1;
    let mut peaks = Vec::new();
    for _ in 0..WARM_UP + MEASURED {
        let since = head;
        head += ROUND as u64;
        let reader = tokio::spawn({
            let app = TestApp::of(&server.base);
            async move { follow_through(&app, fast, since, head).await }
        });
        load(&database.url).await;
        let followed = reader.await.unwrap();
        assert_consecutive(&followed.events, since);
        fast = followed.stream;
        peaks.push(peak_memory_kib(server.child.id()));
    }
    assert_eq!(app.list("limit=1").await["total"], head);
    let measured_kib = (MEASURED * ROUND * DESCRIPTION_CHARS / 1024) as u64;
    let grown = peaks[WARM_UP + MEASURED - 1].saturating_sub(peaks[WARM_UP - 1]);
    println!("peak memory after each round: {peaks:?} KiB");
    assert!(
        grown < measured_kib / 2,
        "the server's peak memory grew by {grown} KiB over {measured_kib} KiB of changes \
         while a client did not read"
    );

    // The slow client gets what was sent before it fell behind, then `lagged`, saying
    // where to resume, and the end.
    let mut received: Vec<SseEvent> = Vec::new();
    let ending = loop {
        match tokio::time::timeout(PROMPTLY, slow.next()).await.unwrap() {
            Some(Frame::Event(event)) if event.event.starts_with("task.") => received.push(event),
            Some(Frame::Event(event)) => break event,
            Some(Frame::Comment(_)) => {}
            None => panic!("the slow client's stream ended without `lagged`"),
        }
    };
    assert_eq!(ending.event, "lagged", "{ending:?}");
    assert_consecutive(&received, 1);
    let resume_after = 1 + received.len() as u64;
    assert_eq!(ending.json(), json!({ "resume_after": resume_after }));
    assert!(resume_after < head, "it fell behind before the end");
    assert_eq!(slow.rest_within(PROMPTLY).await, []);
    println!(
        "the slow client got {} changes before it lagged",
        received.len()
    );

    // Resumed where it said, it gets the rest, each once.
    let stream = resume(&app, resume_after).await;
    let rest = follow_through(&app, stream, resume_after, head).await;
    assert_consecutive(&rest.events, resume_after);
}
