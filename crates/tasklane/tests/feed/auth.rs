//! Streams under `--auth token`: a stream acts in its token's workspace only, and ends
//! once its token is revoked, through the instance it reads from or through another.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tasklane_server::http::AuthMode;

use crate::helpers::{problem, spawn_app_configured, spawn_authenticated_app, token};
use crate::sse::{EventStream, events_of};
use crate::support::{assert_consecutive, subscribe};

/// How soon a revoked token's stream ends: the stream checks its token every second,
/// and an instance trusts a token it verified for up to 10 s.
const REVOKED_WITHIN: Duration = Duration::from_secs(12);

/// Reads `stream` until it ends, which must be within [`REVOKED_WITHIN`]; returns how
/// long that took.
async fn ends(mut stream: EventStream) -> Duration {
    let started = Instant::now();
    let rest = stream.rest_within(REVOKED_WITHIN).await;
    assert!(events_of(&rest).is_empty(), "{rest:?}");
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_tokens_stream_ends_and_the_others_go_on() {
    let (a, database) = spawn_authenticated_app(|_| {}).await;
    let b = spawn_app_configured(&database, |args| args.auth = Some(AuthMode::Token)).await;
    let ana = a.as_holder_of(&token(&database, "acme", "ana").await);
    let issued = [ana.issue_token("bo").await, ana.issue_token("cy").await];
    let secret = |n: usize| issued[n]["secret"].as_str().unwrap();
    // Bo reads from A, where the revocation is made; Cy from B, which learns of it
    // only once its verification of Cy's token expires.
    let (bo, cy) = (a.as_holder_of(secret(0)), b.as_holder_of(secret(1)));
    let mut streams = [
        subscribe(&bo, "").await,
        subscribe(&cy, "").await,
        subscribe(&ana, "").await,
    ];
    ana.create_titled("one").await;
    for stream in &mut streams {
        assert_eq!(stream.event().await.seq(), 1);
    }

    for token in &issued {
        let revoked = ana.revoke_token(token["id"].as_str().unwrap()).await;
        assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    }
    let [on_a, on_b, mut kept] = streams;
    let (on_a, on_b) = tokio::join!(ends(on_a), ends(on_b));
    println!("revoked streams ended after {on_a:?} (A) and {on_b:?} (B)");
    // Ana's stream goes on, and the revoked tokens open no new one.
    ana.create_titled("two").await;
    assert_eq!(kept.event().await.seq(), 2);
    for holder in [&bo, &cy] {
        let again = holder
            .client
            .get(holder.url("/v1/changes/stream"))
            .send()
            .await
            .unwrap();
        problem(again, StatusCode::UNAUTHORIZED).await;
    }
}

#[tokio::test]
async fn a_stream_sees_its_own_workspaces_changes_only() {
    let (app, database) = spawn_authenticated_app(|_| {}).await;
    let acme = app.as_holder_of(&token(&database, "acme", "ana").await);
    let globex = app.as_holder_of(&token(&database, "globex", "gus").await);
    let mut acme_stream = subscribe(&acme, "since=0").await;
    let mut globex_stream = subscribe(&globex, "since=0").await;
    for n in 0..3 {
        acme.create_titled(&format!("acme {n}")).await;
    }
    assert_consecutive(&acme_stream.events(3).await, 0);

    // Globex's first event is its own first change, not one of acme's.
    let own = globex.create_titled("globex 0").await;
    let first = globex_stream.event().await;
    assert_eq!(first.seq(), 1);
    assert_eq!(first.json()["task"], own);
    // And so on, each its own.
    let acme_next = acme.create_titled("acme 3").await;
    let globex_next = globex.create_titled("globex 1").await;
    let event = acme_stream.event().await;
    assert_eq!((event.seq(), event.json()["task"].clone()), (4, acme_next));
    let event = globex_stream.event().await;
    assert_eq!(
        (event.seq(), event.json()["task"].clone()),
        (2, globex_next)
    );
}
