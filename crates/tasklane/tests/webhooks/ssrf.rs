//! Without `--webhook-allow-private`, a webhook may not point into the server's own
//! network: loopback, private, link-local (the cloud metadata address), unspecified
//! and shared addresses, in every spelling, and names that resolve to them, are
//! refused with a problem naming `url`, on creation and on a change of URL. A public
//! address is accepted.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::fresh_database;
use crate::helpers::{ServerProcess, TestApp};
use crate::support::{create_raw, fast_retries, patch_raw, refused};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_targets_are_refused_without_the_allowance() {
    let database = fresh_database().await;
    let server = ServerProcess::start(&database.url, &fast_retries()).await;
    let app = TestApp::of(&server.base);
    let private = [
        "http://127.0.0.1/hook",
        "http://127.0.0.1:8080/hook",
        "https://127.255.255.254/hook",
        "http://10.0.0.1/hook",
        "http://172.16.0.1/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
        "http://[::1]/hook",
        "http://[::1]:8080/hook",
        "http://[::]/hook",
        "http://[fc00::1]/hook",
        "http://[fe80::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::ffff:169.254.169.254]/hook",
        "http://2130706433/hook",
        "http://0x7f000001/hook",
        "http://127.1/hook",
        "http://localhost/hook",
        "http://localhost:8080/hook",
        "http://LOCALHOST./hook",
    ];
    for url in private {
        refused(create_raw(&app, &json!({ "url": url })).await, "url", url).await;
    }
    // A public address is not refused (nothing is sent to it: nothing is written).
    let public = create_raw(&app, &json!({ "url": "https://93.184.215.14/hook" })).await;
    assert_eq!(public.status(), StatusCode::CREATED);
    let created: serde_json::Value = public.json().await.unwrap();
    for url in [
        "http://127.0.0.1/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
    ] {
        let response = patch_raw(&app, &created["id"], &json!({ "url": url })).await;
        refused(response, "url", url).await;
    }
    let listed = app.get_ok("/v1/webhooks").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["url"], "https://93.184.215.14/hook");
}
