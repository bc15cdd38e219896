//! Workspaces and tokens: every `/v1` request acts in its token's workspace, and no
//! path through the cache (entries, coalesced misses, ETags) ever shows one workspace
//! another's tasks.

use clap::Parser;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tasklane::cli::{Cli, Command};
use tasklane_server::startup::Application;

use crate::common::TestDatabase;
use crate::helpers::{
    TestApp, etag, problem, spawn_app_configured, spawn_authenticated_app, titles, token,
};

/// A server requiring tokens, and a client for each of two workspaces.
async fn two_workspaces() -> (TestApp, TestApp, TestApp, TestDatabase) {
    let (app, database) = spawn_authenticated_app(|_| {}).await;
    let acme = app.as_holder_of(&token(&database, "acme", "ana").await);
    let globex = app.as_holder_of(&token(&database, "globex", "gus").await);
    (app, acme, globex, database)
}

#[tokio::test]
async fn a_request_without_a_valid_token_is_refused() {
    let (app, _database) = spawn_authenticated_app(|_| {}).await;
    let unknown = format!("tl_{}", "0".repeat(64));
    for authorization in [
        None,
        Some("Basic YTpi"),
        Some("Bearer nonsense"),
        Some(&*format!("Bearer {unknown}")),
    ] {
        let mut request = app.client.get(app.url("/v1/tasks"));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        problem(response, StatusCode::UNAUTHORIZED).await;
    }
    // Liveness, readiness and the API document stay open.
    for path in ["/healthz", "/readyz", "/openapi.json"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn identical_queries_from_two_workspaces_never_see_each_others_tasks() {
    let (_app, acme, globex, _database) = two_workspaces().await;
    let secret_plan = acme.create(json!({"title": "acme: secret plan"})).await;
    globex.create(json!({"title": "globex: roadmap"})).await;

    // Many identical cold misses at once from both: coalescing must not cross over.
    let query = "sort=title&limit=50";
    let reads: Vec<_> = (0..16)
        .map(|n| {
            let (holder, expected) = if n % 2 == 0 {
                (&acme, "acme: secret plan")
            } else {
                (&globex, "globex: roadmap")
            };
            let request = holder.client.get(holder.url(&format!("/v1/tasks?{query}")));
            tokio::spawn(async move {
                let page: Value = request.send().await.unwrap().json().await.unwrap();
                (expected, titles(&page))
            })
        })
        .collect();
    for read in reads {
        let (expected, seen) = read.await.unwrap();
        assert_eq!(seen, [expected]);
    }

    // Acme's ETag means nothing to globex: a full answer with globex's own list.
    let acme_etag = etag(&acme.list_raw(query).await);
    let response = globex
        .client
        .get(globex.url(&format!("/v1/tasks?{query}")))
        .header("if-none-match", &acme_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        titles(&response.json::<Value>().await.unwrap()),
        ["globex: roadmap"]
    );

    // Acme's task is not there at all for globex: 404, never 403.
    let id = secret_plan["id"].as_str().unwrap();
    problem(globex.get_task(id).await, StatusCode::NOT_FOUND).await;
    problem(
        globex.patch_task(id, &json!({"title": "mine"}), None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(globex.delete_task(id, None).await, StatusCode::NOT_FOUND).await;
    assert_eq!(acme.get_task(id).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_write_in_one_workspace_leaves_the_other_workspaces_lists_current() {
    let (_app, acme, globex, _database) = two_workspaces().await;
    globex.create(json!({"title": "globex: roadmap"})).await;
    let globex_etag = etag(&globex.list_raw("").await);
    acme.create(json!({"title": "acme: launch"})).await;
    let response = globex
        .client
        .get(globex.url("/v1/tasks"))
        .header("if-none-match", &globex_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::NOT_MODIFIED,
        "globex's generation moved"
    );
}

#[tokio::test]
async fn tokens_are_issued_listed_and_revoked_within_their_workspace() {
    let (app, acme, globex, _database) = two_workspaces().await;
    let issued = acme.issue_token("bo").await;
    let bo = app.as_holder_of(issued["secret"].as_str().unwrap());
    bo.create(json!({"title": "acme: by bo"})).await;
    assert_eq!(titles(&acme.list("").await), ["acme: by bo"]);

    let listed = acme.tokens().await;
    let members: Vec<&str> = listed
        .iter()
        .map(|t| t["member"].as_str().unwrap())
        .collect();
    assert_eq!(members, ["ana", "bo"]);
    assert!(listed.iter().all(|t| t.get("secret").is_none()));
    assert_eq!(globex.tokens().await.len(), 1);

    // Globex can neither see nor revoke acme's tokens.
    let bo_id = issued["id"].as_str().unwrap();
    problem(globex.revoke_token(bo_id).await, StatusCode::NOT_FOUND).await;

    assert_eq!(
        acme.revoke_token(bo_id).await.status(),
        StatusCode::NO_CONTENT
    );
    problem(bo.list_raw("").await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(acme.list_raw("").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_token_beyond_its_rate_is_told_when_to_come_back() {
    let (app, database) = spawn_authenticated_app(|args| args.rate_limit = 5).await;
    let eager = app.as_holder_of(&token(&database, "acme", "eager").await);
    let calm = app.as_holder_of(&token(&database, "acme", "calm").await);
    let mut limited = None;
    for _ in 0..20 {
        let response = eager.list_raw("").await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(response);
            break;
        }
    }
    let response = limited.expect("20 requests at once exceed 5 a second");
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    problem(response, StatusCode::TOO_MANY_REQUESTS).await;
    // The limit is per token.
    assert_eq!(calm.list_raw("").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_server_refuses_to_serve_a_public_address_without_authentication() {
    let database = crate::common::fresh_database().await;
    let refused = spawn_refused(&database).await;
    assert!(
        refused.contains("refusing to serve 0.0.0.0:0 without authentication"),
        "{refused}"
    );
    // On loopback, no token is needed: requests act in the workspace `default`.
    let open = spawn_app_configured(&database, |_| {}).await;
    assert_eq!(open.list_raw("").await.status(), StatusCode::OK);
}

async fn spawn_refused(database: &TestDatabase) -> String {
    let command = [
        "tasklane",
        "serve",
        "--listen",
        "0.0.0.0:0",
        "--auth",
        "none",
    ];
    let command = [&command[..], &["--database-url", &database.url]].concat();
    let Command::Serve(args) = Cli::try_parse_from(command).unwrap().command else {
        unreachable!("the command is `serve`")
    };
    match Application::build(&args).await {
        Ok(_) => panic!("served a public address without authentication"),
        Err(error) => format!("{error:#}"),
    }
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let (app, database) = spawn_authenticated_app(|_| {}).await;
    let secret = token(&database, "acme", "ana").await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let response = app
            .client
            .get(app.url("/v1/tasks"))
            .header("authorization", format!("{scheme} {secret}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{scheme}");
    }
}

#[tokio::test]
async fn two_authorization_headers_are_400_naming_it() {
    let (app, database) = spawn_authenticated_app(|_| {}).await;
    let ana = token(&database, "acme", "ana").await;
    let gus = token(&database, "globex", "gus").await;
    let response = app
        .client
        .get(app.url("/v1/tasks"))
        .header("authorization", format!("Bearer {ana}"))
        .header("authorization", format!("Bearer {gus}"))
        .send()
        .await
        .unwrap();
    let body = problem(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["field"], "Authorization");
}

/// Unknown tokens cost a database lookup each: an address that keeps presenting them
/// is refused before the lookup. Failures are all it counts: a token in use goes on
/// working from the same address, however many requests it makes.
#[tokio::test]
async fn an_address_presenting_unknown_tokens_is_told_when_to_come_back() {
    let (app, database) = spawn_authenticated_app(|args| args.auth_failure_limit = 5).await;
    let valid = app.as_holder_of(&token(&database, "acme", "ana").await);
    for _ in 0..20 {
        assert_eq!(valid.list_raw("").await.status(), StatusCode::OK);
    }

    let mut limited = None;
    for n in 0..20 {
        let guess = app.as_holder_of(&format!("tl_{n:064x}"));
        let response = guess.list_raw("").await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(response);
            break;
        }
        problem(response, StatusCode::UNAUTHORIZED).await;
    }
    let response = limited.expect("20 unknown tokens exceed 5 a minute");
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    problem(response, StatusCode::TOO_MANY_REQUESTS).await;
    // Refused from now on, before any lookup...
    let guess = app.as_holder_of(&format!("tl_{:064x}", 99));
    problem(guess.list_raw("").await, StatusCode::TOO_MANY_REQUESTS).await;
    // ...but the token in use still works.
    assert_eq!(valid.list_raw("").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_issued_secret_is_never_stored_by_a_cache() {
    let (app, database) = spawn_authenticated_app(|_| {}).await;
    let ana = app.as_holder_of(&token(&database, "acme", "ana").await);
    let response = ana
        .client
        .post(ana.url("/v1/tokens"))
        .json(&json!({"member": "bo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    // Without a token: an error, not stored either.
    let refused = app.client.get(app.url("/v1/tasks")).send().await.unwrap();
    assert_eq!(refused.headers()["cache-control"], "no-store");
}
