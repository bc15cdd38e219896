//! Connections the server must not keep for ever: request heads sent too slowly, idle
//! kept-alive connections, bodies that never arrive, and a few hundred clients doing
//! all of that at once against a server short of file descriptors.
//!
//! A test binary of its own: cargo runs binaries one after another, so the few hundred
//! connections here never share the machine with the API suite's timing-sensitive tests.

#[path = "../common/mod.rs"]
mod common;
#[allow(dead_code)] // the API suite's helpers; this suite uses a few of them
#[path = "../api/helpers.rs"]
mod helpers;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::fresh_database;
use crate::helpers::{ServerProcess, address, connect_and_send, read_response, spawn_app_with};

/// Whether the server closes `stream` (end of stream or reset) within `within`, while
/// `drip` (if any) keeps sending a header line every 200 ms.
async fn closed_within(stream: &mut TcpStream, within: Duration, drip: bool) -> bool {
    let watch = async {
        let mut chunk = [0; 1024];
        loop {
            tokio::select! {
                read = stream.read(&mut chunk) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                },
                () = tokio::time::sleep(Duration::from_millis(200)), if drip => {
                    if stream.write_all(b"x-drip: 1\r\n").await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    tokio::time::timeout(within, watch).await.is_ok()
}

#[tokio::test]
async fn a_request_head_sent_too_slowly_is_cut_off() {
    let app = spawn_app_with(|args| {
        args.header_read_timeout_secs = 1;
        args.idle_timeout_secs = 600;
    })
    .await;
    let mut stream = connect_and_send(&app.base, "GET /v1/tasks HTTP/1.1\r\n").await;
    // Bytes keep coming, five a second: the head's time is counted in all, not per byte.
    assert!(
        closed_within(&mut stream, Duration::from_secs(20), true).await,
        "a head dripped line by line kept its connection"
    );
    // A connection that sends nothing at all is closed too.
    let mut silent = TcpStream::connect(address(&app.base)).await.unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(20), false).await);
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let app = spawn_app_with(|args| {
        args.header_read_timeout_secs = 600;
        args.idle_timeout_secs = 1;
    })
    .await;
    let request = "GET /healthz HTTP/1.1\r\nHost: tasklane\r\n\r\n";
    let mut stream = connect_and_send(&app.base, request).await;
    let (status, _) = read_response(&mut stream, Duration::from_secs(10))
        .await
        .expect("an answer");
    assert_eq!(status, 200);
    // Kept alive for a second request...
    stream.write_all(request.as_bytes()).await.unwrap();
    let (status, _) = read_response(&mut stream, Duration::from_secs(10))
        .await
        .expect("a second answer on the same connection");
    assert_eq!(status, 200);
    // ...and closed once it sits idle.
    assert!(
        closed_within(&mut stream, Duration::from_secs(20), false).await,
        "an idle connection stayed open"
    );
}

#[tokio::test]
async fn a_stalled_upload_is_408_whichever_limit_comes_first() {
    for (body_secs, request_secs) in [(1, 30), (30, 1)] {
        let app = spawn_app_with(|args| {
            args.body_read_timeout_secs = body_secs;
            args.request_timeout_secs = request_secs;
        })
        .await;
        let head = "POST /v1/tasks HTTP/1.1\r\nHost: tasklane\r\ncontent-type: application/json\r\n\
                    content-length: 100\r\n\r\n{\"title\": ";
        let mut stream = connect_and_send(&app.base, head).await;
        let (status, body) = read_response(&mut stream, Duration::from_secs(20))
            .await
            .expect("an answer to a stalled upload");
        assert_eq!(
            status, 408,
            "body {body_secs} s, request {request_secs} s: {body}"
        );
        let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(
            problem["detail"].as_str().unwrap().contains("body"),
            "{problem}"
        );
        // The server goes on serving.
        assert_eq!(app.list_raw("").await.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_413_before_it_is_sent() {
    let app = spawn_app_with(|args| {
        args.body_read_timeout_secs = 600;
        args.request_timeout_secs = 600;
    })
    .await;
    let head = "POST /v1/tasks HTTP/1.1\r\nHost: tasklane\r\ncontent-type: application/json\r\n\
                expect: 100-continue\r\ncontent-length: 1048577\r\n\r\n";
    let mut stream = connect_and_send(&app.base, head).await;
    let (status, body) = read_response(&mut stream, Duration::from_secs(20))
        .await
        .expect("an answer without sending the body");
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("1048576"), "{body}");
}

/// The adversarial pass's attack, scaled to a test: a server with 256 file descriptors,
/// and 300 clients that each open a connection and send a request head one header a
/// second, reconnecting whenever they are cut off. Ordinary requests are still answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ordinary_requests_are_answered_while_hundreds_of_clients_drip_feed() {
    // This process holds 300 connections of its own.
    tasklane_server::server::raise_descriptor_limit().unwrap();
    let database = fresh_database().await;
    let options: Vec<String> = ["--header-read-timeout-secs", "2"]
        .iter()
        .map(|option| option.to_string())
        .chain(database.redis.iter().flat_map(|redis| redis.options()))
        .collect();
    let server = ServerProcess::start_limited(&database.url, &options, Some(256)).await;

    let stop = Arc::new(AtomicBool::new(false));
    let drippers: Vec<_> = (0..300)
        .map(|_| {
            let (base, stop) = (server.base.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let connect = TcpStream::connect(address(&base));
                    let Ok(Ok(mut stream)) =
                        tokio::time::timeout(Duration::from_secs(2), connect).await
                    else {
                        continue;
                    };
                    if stream
                        .write_all(b"GET /v1/tasks HTTP/1.1\r\n")
                        .await
                        .is_err()
                    {
                        continue;
                    }
                    while !stop.load(Ordering::Relaxed) {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        if stream.write_all(b"x-drip: 1\r\n").await.is_err() {
                            break;
                        }
                    }
                }
            })
        })
        .collect();
    // Let the drip-feeders take every connection there is.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    for _ in 0..3 {
        let response = client
            .get(format!("{}/v1/tasks", server.base))
            .send()
            .await
            .expect("an ordinary request is answered while drip-feeders hold connections");
        assert_eq!(response.status(), StatusCode::OK);
    }
    stop.store(true, Ordering::Relaxed);
    for dripper in drippers {
        dripper.abort();
    }
}
