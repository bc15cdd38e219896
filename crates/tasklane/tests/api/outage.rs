//! PostgreSQL going away under a running server (a proxy between them is cut): requests
//! answer `503` problem details, nothing half-written is left, and the server serves
//! again by itself once the database is back.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{Proxy, TestDatabase, fresh_database};
use crate::helpers::{problem, spawn_app_on};

/// Where `host:port` sits in a `postgres://user@host:port/database...` URL.
fn host_port(url: &str) -> std::ops::Range<usize> {
    let start = url.find('@').expect("a user in the test URL") + 1;
    start..start + url[start..].find('/').expect("a database in the test URL")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_is_503_and_heals_by_itself() {
    if std::env::var("TASKLANE_TEST_STORE").as_deref() != Ok("postgres") {
        eprintln!("postgres_outage_is_503_and_heals_by_itself: a PostgreSQL leg runs this test");
        return;
    }
    let database = fresh_database().await;
    let address = host_port(&database.url);
    let proxy = Proxy::start(database.url[address.clone()].parse().unwrap()).await;
    let mut proxied = database.url.clone();
    proxied.replace_range(address, &format!("127.0.0.1:{}", proxy.port));
    let app = spawn_app_on(&TestDatabase::with_url(proxied, &database)).await;
    app.create_titled("before").await;

    proxy.cut();
    let during = app.post_task(&json!({"title": "during"})).await;
    let body = problem(during, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(
        body["detail"].as_str().unwrap().contains("database"),
        "{body}"
    );
    let list = app.list_raw("").await;
    problem(list, StatusCode::SERVICE_UNAVAILABLE).await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);

    proxy.restore();
    let mut healed = false;
    for _ in 0..50 {
        if app.list_raw("").await.status() == StatusCode::OK {
            healed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(healed, "the server serves again without a restart");
    assert_eq!(
        app.titles("").await,
        ["before"],
        "the write sent during the outage left nothing"
    );
    app.create_titled("after").await;
}
