//! A write whose answer is lost on the way back, or that the server could not confirm
//! (`503`), is sent again under the same `Idempotency-Key`, and the server applies it
//! once; a write that was sent and never answered is told apart from one never sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::Session;

/// Reads one HTTP/1.1 message (head, and a body of `Content-Length` bytes) from `from`.
async fn message(from: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut chunk = [0; 8192];
    loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&received[..end]).to_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if received.len() >= end + 4 + length {
                return received;
            }
        }
        let n = from.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the peer closed in the middle of a message");
        received.extend_from_slice(&chunk[..n]);
    }
}

/// A proxy to `target` that passes the first request on, waits for its answer, and
/// drops it instead of passing it back (the connection is closed); every later
/// connection passes through. Counts the requests it dropped the answer of.
async fn losing_first_answer(target: String) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let lost = Arc::new(AtomicUsize::new(0));
    let counter = lost.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let mut outbound = TcpStream::connect(&target).await.unwrap();
            if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                let request = message(&mut inbound).await;
                outbound.write_all(&request).await.unwrap();
                let answer = message(&mut outbound).await;
                assert!(
                    answer.starts_with(b"HTTP/1.1 201"),
                    "{}",
                    String::from_utf8_lossy(&answer)
                );
                drop(inbound); // the answer never arrives
            } else {
                tokio::spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
            }
        }
    });
    (port, lost)
}

// The proxy runs on the runtime while this thread waits for the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_answer_is_lost_is_retried_and_applied_once() {
    let session = Session::start().await;
    let target = session.server.base.trim_start_matches("http://").to_owned();
    let (port, connections) = losing_first_answer(target).await;
    let add = session
        .command(&["task", "add", "exactly once"])
        .env("TASKLANE_URL", format!("http://127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert!(add.status.success(), "{add:?}");
    assert!(
        connections.load(Ordering::SeqCst) >= 2,
        "the first answer was lost, so it retried"
    );
    let page = session.app.list("").await;
    assert_eq!(page["total"], 1, "applied once: {page}");
    let id = page["data"][0]["id"].as_str().unwrap();
    let short = String::from_utf8(add.stdout).unwrap();
    assert!(id.starts_with(short.trim()), "{short} {id}");
}

/// A server that reads each request and closes the connection without an answer.
async fn never_answering() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            message(&mut inbound).await;
        }
    });
    port
}

/// A proxy to `target` that answers the first request `503` itself, as a server
/// that could not confirm a write does, and passes every later one through.
async fn unavailable_first(target: String) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let answered = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            if answered.fetch_add(1, Ordering::SeqCst) == 0 {
                message(&mut inbound).await;
                let body =
                    r#"{"title":"Service Unavailable","status":503,"detail":"not confirmed"}"#;
                let answer = format!(
                    "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                inbound.write_all(answer.as_bytes()).await.unwrap();
            } else {
                let mut outbound = TcpStream::connect(&target).await.unwrap();
                tokio::spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
            }
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_the_server_could_not_confirm_is_sent_again_under_its_key() {
    let session = Session::start().await;
    let target = session.server.base.trim_start_matches("http://").to_owned();
    let port = unavailable_first(target).await;
    let add = session
        .command(&["task", "add", "after a 503"])
        .env("TASKLANE_URL", format!("http://127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert!(add.status.success(), "{add:?}");
    assert_eq!(session.app.titles("").await, ["after a 503"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sent_and_unanswered_is_told_apart_from_never_sent() {
    let session = Session::start().await;
    // `task add` against a server on `port`: its exit status and what it said.
    let add = |port: u16| {
        let added = session
            .command(&["task", "add", "lost"])
            .env("TASKLANE_URL", format!("http://127.0.0.1:{port}"))
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&added.stderr).into_owned();
        (added.status.code(), said)
    };
    let (code, said) = add(never_answering().await);
    assert_eq!(code, Some(4), "{said}");
    assert!(said.contains("may or may not have been applied"), "{said}");
    let (code, said) = add(crate::common::closed_port());
    assert_eq!(code, Some(4), "{said}");
    assert!(said.contains("cannot reach the server"), "{said}");
    assert!(!said.contains("may or may not"), "{said}");
}
