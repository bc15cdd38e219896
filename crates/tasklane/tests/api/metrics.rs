//! `/metrics` as an operator's Prometheus reads it: parsed by an independent parser
//! (`prometheus-parse`), each counter moved by exactly the traffic a test drove, each
//! server in a process counting its own, Redis's outage and return visible, and every
//! metric the Grafana dashboard queries present in a real scrape.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::json;
use tasklane_server::cache::Consistency;

use crate::common::{TestRedis, fresh_database, start_redis};
use crate::helpers::{
    etag, spawn_app, spawn_app_configured, spawn_app_with, spawn_authenticated_app, token,
};
use crate::scrape::{scrape, scrape_at};

const REQUESTS: &str = "tasklane_http_requests_total";

#[tokio::test]
async fn the_counters_move_by_exactly_the_traffic_driven() {
    let app = spawn_app().await;
    let before = scrape(&app).await;

    app.create_titled("one").await; // a write
    app.list("status=todo").await; // a miss
    let listed = app.list_raw("status=todo").await; // a hit
    assert_eq!(listed.status(), StatusCode::OK);
    let not_modified = app
        .client
        .get(app.url("/v1/tasks?status=todo"))
        .header("if-none-match", etag(&listed))
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    let unknown = app.get_raw("/no/such/route?q=secret").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    let after = scrape(&app).await;
    let tasks = |method, status| {
        [
            ("route", "/v1/tasks"),
            ("method", method),
            ("status", status),
        ]
    };
    assert_eq!(after.moved(&before, REQUESTS, &tasks("POST", "2xx")), 1.0);
    assert_eq!(after.moved(&before, REQUESTS, &tasks("GET", "2xx")), 2.0);
    assert_eq!(after.moved(&before, REQUESTS, &tasks("GET", "3xx")), 1.0);
    let unmatched = [("route", "unmatched"), ("method", "GET"), ("status", "4xx")];
    assert_eq!(after.moved(&before, REQUESTS, &unmatched), 1.0);
    assert!(
        !after.samples.keys().any(|key| key.contains("/no/such")),
        "a raw path became a label"
    );
    let duration = "tasklane_http_request_duration_seconds_count";
    assert_eq!(
        after.moved(&before, duration, &[("route", "/v1/tasks")]),
        4.0
    );

    assert_eq!(after.moved(&before, "tasklane_reads_total", &[]), 3.0);
    assert_eq!(after.moved(&before, "tasklane_read_loads_total", &[]), 1.0);
    let lookups = "tasklane_cache_lookups_total";
    for (result, count) in [
        ("miss", 1.0),
        ("hit", 1.0),
        ("not_modified", 1.0),
        ("coalesced", 0.0),
    ] {
        assert_eq!(
            after.moved(&before, lookups, &[("result", result)]),
            count,
            "{result}"
        );
    }
    assert_eq!(after.total("tasklane_cache_bypasses_total"), 0.0);
    let fills = "tasklane_cache_fills_total";
    assert_eq!(after.moved(&before, fills, &[("result", "stored")]), 1.0);
    assert_eq!(
        after.moved(&before, "tasklane_generation_advances_total", &[]),
        1.0
    );
    assert_eq!(
        after.get("tasklane_generation_advance_failures_total", &[]),
        0.0
    );
    let insert = [("operation", "insert")];
    assert_eq!(
        after.moved(
            &before,
            "tasklane_store_operation_duration_seconds_count",
            &insert
        ),
        1.0
    );
    assert_eq!(
        after.get("tasklane_http_requests_in_flight", &[]),
        1.0,
        "the scrape itself"
    );
    assert!(after.total("tasklane_store_pool_connections") >= 1.0);
    let acquired = "tasklane_store_pool_acquire_duration_seconds_count";
    assert!(
        after.total(acquired) > before.total(acquired),
        "connections were acquired"
    );
    assert_eq!(after.total("tasklane_store_pool_waiting"), 0.0);
    assert!(after.total("process_resident_memory_bytes") > 0.0);
    let build = after
        .samples
        .keys()
        .find(|key| key.starts_with("tasklane_build_info{"))
        .expect("build info");
    assert!(
        build.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))),
        "{build}"
    );
}

#[tokio::test]
async fn each_server_in_a_process_counts_only_its_own_traffic() {
    let (busy, idle) = (spawn_app().await, spawn_app().await);
    busy.create_titled("one").await;
    busy.list("").await;
    let (busy, idle) = (scrape(&busy).await, scrape(&idle).await);
    let created = [
        ("route", "/v1/tasks"),
        ("method", "POST"),
        ("status", "2xx"),
    ];
    assert_eq!(busy.get(REQUESTS, &created), 1.0);
    assert_eq!(idle.get(REQUESTS, &created), 0.0);
    assert_eq!(busy.get("tasklane_reads_total", &[]), 1.0);
    assert_eq!(idle.get("tasklane_reads_total", &[]), 0.0);
}

#[tokio::test]
async fn refusals_are_counted_by_reason() {
    let (app, database) = spawn_authenticated_app(|args| args.rate_limit = 1).await;
    let holder = app.as_holder_of(&token(&database, "acme", "ana").await);
    let before = scrape(&app).await;
    let unknown = format!("Bearer tl_{}", "0".repeat(64));
    for authorization in [None, Some("Bearer nonsense"), Some(&*unknown)] {
        let mut request = app.client.get(app.url("/v1/tasks"));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        assert_eq!(
            request.send().await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // One request a second: the burst is spent at the first, so a 429 follows at once
    // (or after a few more, on a slow machine); count them.
    let mut limited = 0.0;
    for _ in 0..50 {
        if holder.list_raw("").await.status() == StatusCode::TOO_MANY_REQUESTS {
            limited += 1.0;
            break;
        }
    }
    assert_eq!(limited, 1.0, "no request was limited");

    let after = scrape(&app).await;
    let refusals = "tasklane_auth_refusals_total";
    for (status, reason, count) in [
        ("401", "missing", 1.0),
        ("401", "malformed", 1.0),
        ("401", "unknown", 1.0),
        ("429", "rate_limited", limited),
        ("429", "too_many_failures", 0.0),
    ] {
        let labels = [("status", status), ("reason", reason)];
        assert_eq!(after.moved(&before, refusals, &labels), count, "{reason}");
    }
    let limited_requests = [("route", "/v1/tasks"), ("method", "GET"), ("status", "4xx")];
    assert_eq!(
        after.moved(&before, REQUESTS, &limited_requests),
        3.0 + limited
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_going_away_and_coming_back_shows_in_the_metrics() {
    // A redis-server of the test's own, to kill.
    let mut redis = start_redis().await;
    let database = fresh_database().await;
    let app = spawn_app_configured(&database, |args| {
        TestRedis::on(&redis).apply(args);
        args.consistency = Some(Consistency::Redis);
    })
    .await;
    app.create_titled("one").await;
    app.list("").await;
    let before = scrape(&app).await;
    assert_eq!(before.get("tasklane_redis_up", &[]), 1.0);
    assert!(before.total("tasklane_redis_call_duration_seconds_count") > 0.0);

    redis.kill();
    assert_eq!(app.list("").await["total"], 1, "served from the database");
    let refused = app.post_task(&json!({"title": "during"})).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let during = scrape(&app).await;
    assert_eq!(during.get("tasklane_redis_up", &[]), 0.0);
    let bypasses = "tasklane_cache_bypasses_total";
    assert_eq!(
        during.moved(&before, bypasses, &[("reason", "redis_down")]),
        1.0
    );
    assert!(
        during.total("tasklane_redis_errors_total") > before.total("tasklane_redis_errors_total")
    );
    // The announcement that failed may have landed: its withdrawal is owed.
    assert_eq!(during.get("tasklane_generation_owed_workspaces", &[]), 1.0);
    let failed = [
        ("route", "/v1/tasks"),
        ("method", "POST"),
        ("status", "5xx"),
    ];
    assert_eq!(during.moved(&before, REQUESTS, &failed), 1.0);

    redis.restart().await.unwrap();
    let mut ready = false;
    for _ in 0..100 {
        let probe = app
            .get_raw("/readyz")
            .await
            .json::<serde_json::Value>()
            .await;
        if probe.is_ok_and(|body| body["status"] == "ready") {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "the instance trusts Redis again");
    let after = scrape(&app).await;
    assert_eq!(after.get("tasklane_redis_up", &[]), 1.0);
    assert_eq!(after.get("tasklane_redis_down_seconds", &[]), 0.0);
    assert_eq!(after.get("tasklane_generation_owed_workspaces", &[]), 0.0);
    let repairs = "tasklane_generation_repair_advances_total";
    assert_eq!(after.moved(&before, repairs, &[]), 1.0);
    assert_eq!(
        after.moved(&before, bypasses, &[("reason", "redis_down")]),
        1.0
    );
}

#[tokio::test]
async fn metrics_listen_serves_the_metrics_alone_on_an_address_of_their_own() {
    let app =
        spawn_app_with(|args| args.metrics_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    app.create_titled("one").await;
    let base = app.metrics_base.clone().expect("--metrics-listen bound");
    let private = scrape_at(&app.client, &base).await;
    let created = [
        ("route", "/v1/tasks"),
        ("method", "POST"),
        ("status", "2xx"),
    ];
    assert_eq!(private.get(REQUESTS, &created), 1.0);
    let elsewhere = app
        .client
        .get(format!("{base}/v1/tasks"))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);
    // The main listener keeps its /metrics, counting the same application.
    assert_eq!(scrape(&app).await.get(REQUESTS, &created), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_dashboard_queries_is_in_a_real_scrape() {
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/grafana/tasklane.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut expressions = Vec::new();
    collect_expressions(&dashboard, &mut expressions);
    let queried: BTreeSet<String> = expressions
        .iter()
        .flat_map(|expr| metric_names(expr))
        .collect();
    assert!(
        queried.len() >= 10,
        "the dashboard queries little: {queried:?}"
    );

    // Redis, so that its metrics exist; one request, so that a route's do.
    let redis = start_redis().await;
    let database = fresh_database().await;
    let app = spawn_app_configured(&database, |args| TestRedis::on(&redis).apply(args)).await;
    app.create_titled("one").await;
    let scraped = scrape(&app).await;
    let missing: Vec<&String> = queried
        .iter()
        .filter(|name| {
            let base = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(name);
            !scraped.names.contains(*name) && !scraped.names.contains(base)
        })
        .collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries metrics no scrape has: {missing:?}"
    );
}

/// Every `expr` in a Grafana dashboard.
fn collect_expressions(value: &serde_json::Value, into: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(fields) => {
            for (key, value) in fields {
                match (key.as_str(), value) {
                    ("expr", serde_json::Value::String(expr)) => into.push(expr.clone()),
                    _ => collect_expressions(value, into),
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                collect_expressions(item, into);
            }
        }
        _ => {}
    }
}

/// The metric names a PromQL expression uses: Tasklane's and the process's.
fn metric_names(expr: &str) -> Vec<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("tasklane_") || word.starts_with("process_"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_redis_that_does_not_answer_at_start_is_down_before_any_request() {
    let database = fresh_database().await;
    let port = crate::common::closed_port();
    let app = spawn_app_configured(&database, |args| {
        args.redis_url = Some(format!("redis://127.0.0.1:{port}/0").parse().unwrap());
        args.consistency = Some(Consistency::Redis);
    })
    .await;
    // No request has called Redis: the start-up's own call found it down.
    let metrics = scrape(&app).await;
    assert_eq!(metrics.get("tasklane_redis_up", &[]), 0.0);
}

#[tokio::test]
async fn a_client_request_id_is_kept_only_when_it_is_short() {
    let app = spawn_app().await;
    let echoed = |id: String| {
        let app = &app;
        async move {
            let response = app
                .client
                .get(app.url("/healthz"))
                .header("x-request-id", id)
                .send()
                .await
                .unwrap();
            response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_owned()
        }
    };
    assert_eq!(echoed("trace-42".to_owned()).await, "trace-42");
    // A hundred kilobytes would be repeated in every log line of the request.
    let generated = echoed("B".repeat(100_000)).await;
    assert_eq!(generated.len(), 36, "the client's id was kept");
}
