//! The request log, read from the real binary's standard error in JSON: at INFO a line
//! only for what an operator should see, with the route template and the request id
//! and never the query (search text is user data); at DEBUG every request, and why
//! each read went to the database or not.

use serde_json::Value;

use crate::common::{TestDatabase, fresh_database};
use crate::helpers::{ServerProcess, token};

/// Runs the binary with `--log {filter} --log-format json`, sends it `paths` in order,
/// and returns every line it logged, parsed.
async fn logged(filter: &str, paths: &[&str]) -> Vec<Value> {
    let database = fresh_database().await;
    logged_with(&database, filter, &[], None, paths).await
}

/// As [`logged`], on `database`, with more `options`, each request carrying `bearer`
/// if given.
async fn logged_with(
    database: &TestDatabase,
    filter: &str,
    options: &[&str],
    bearer: Option<&str>,
    paths: &[&str],
) -> Vec<Value> {
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("stderr.log");
    let options: Vec<String> = ["--log-format", "json"]
        .iter()
        .chain(options)
        .map(|option| (*option).to_owned())
        .collect();
    let server = ServerProcess::start_logging(&database.url, &options, filter, &file).await;
    let client = reqwest::Client::new();
    for path in paths {
        let mut request = client.get(format!("{}{path}", server.base));
        if let Some(secret) = bearer {
            request = request.bearer_auth(secret);
        }
        request.send().await.unwrap();
    }
    drop(server);
    std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}"))
        })
        .collect()
}

/// The lines that answered a request.
fn answers(lines: &[Value]) -> Vec<&Value> {
    lines
        .iter()
        .filter(|line| line["fields"]["status"].is_u64())
        .collect()
}

#[tokio::test]
async fn at_info_only_client_errors_are_logged_with_their_route_and_never_their_query() {
    let lines = logged(
        "info",
        &[
            "/v1/tasks?q=needle-in-a-list",
            "/no/such/route?q=needle-in-a-404",
        ],
    )
    .await;
    let answered = answers(&lines);
    assert_eq!(answered.len(), 1, "only the 404 at INFO: {lines:#?}");
    let line = answered[0];
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["fields"]["status"], 404);
    let latency = line["fields"]["latency_ms"]
        .as_f64()
        .expect("numeric latency");
    assert!(latency > 0.0, "{line}");
    assert_eq!(line["span"]["route"], "unmatched");
    assert!(
        line["span"]["request_id"]
            .as_str()
            .is_some_and(|id| id.len() == 36),
        "{line}"
    );
    assert!(
        line.get("spans").is_none(),
        "the span is not repeated: {line}"
    );
    let text = serde_json::to_string(&lines).unwrap();
    assert!(
        !text.contains("needle"),
        "a query reached the INFO log: {text}"
    );
    assert!(!text.contains("\u{1b}["), "colour codes in a file: {text}");
}

#[tokio::test]
async fn at_debug_every_request_and_each_cache_decision_is_logged() {
    let lines = logged(
        "tasklane=debug",
        &["/v1/tasks?q=needle", "/v1/tasks?q=needle"],
    )
    .await;
    let answered: Vec<&Value> = answers(&lines)
        .into_iter()
        .filter(|line| line["span"]["route"] == "/v1/tasks")
        .collect();
    assert_eq!(answered.len(), 2, "{lines:#?}");
    for line in &answered {
        assert_eq!(line["level"], "DEBUG");
        assert_eq!(line["span"]["workspace"], "default", "{line}");
    }
    assert!(
        answers(&lines)
            .iter()
            .any(|line| line["span"]["route"] == "/healthz"),
        "every request at DEBUG, the start-up probe's too"
    );
    let decisions: Vec<&str> = lines
        .iter()
        .filter_map(|line| line["fields"]["cache"].as_str())
        .collect();
    assert_eq!(decisions, ["miss", "hit"], "{lines:#?}");
    let queries: Vec<&str> = lines
        .iter()
        .filter_map(|line| line["fields"]["query"].as_str())
        .collect();
    assert_eq!(
        queries,
        ["q=needle", "q=needle"],
        "the query, at DEBUG only"
    );
}

#[tokio::test]
async fn a_request_names_its_workspace_and_token_id_never_the_secret() {
    let database = fresh_database().await;
    // Created before the server starts: `serve` migrates the database first.
    drop(logged_with(&database, "warn", &[], None, &[]).await);
    let secret = token(&database, "acme", "ana").await;
    let lines = logged_with(
        &database,
        "tasklane=debug",
        &["--auth", "token"],
        Some(&secret),
        &["/v1/tasks"],
    )
    .await;
    let answered: Vec<&Value> = answers(&lines)
        .into_iter()
        .filter(|line| line["span"]["route"] == "/v1/tasks")
        .collect();
    assert_eq!(answered.len(), 1, "{lines:#?}");
    let span = &answered[0]["span"];
    assert_eq!(span["workspace"], "acme");
    let id = span["token"].as_str().expect("the token id");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{span}");
    let text = serde_json::to_string(&lines).unwrap();
    assert!(!text.contains(&secret), "the secret reached the log");
    assert!(
        !text.contains(&secret["tl_".len()..]),
        "the secret reached the log"
    );
}
