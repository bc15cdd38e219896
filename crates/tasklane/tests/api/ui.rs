//! The web app's files at `/` and `/ui/`: their security headers, revalidation by ETag,
//! gzip, and every file the page names being served; the API and `/docs/` unaffected.
//! The app itself is driven in a browser by `ui/tests/` (scripts/test).

use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};

use crate::helpers::{problem, spawn_app};

#[tokio::test]
async fn the_page_and_its_files_carry_a_strict_policy_and_revalidate_by_etag() {
    let app = spawn_app().await;
    for (path, kind) in [
        ("/", "text/html"),
        ("/?view=board&status=todo", "text/html"),
        ("/ui/js/main.js", "text/javascript"),
        ("/ui/app.css", "text/css"),
    ] {
        let response = app.get_raw(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers().clone();
        let policy = headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "require-trusted-types-for 'script'",
        ] {
            assert!(policy.contains(directive), "{path}: {policy}");
        }
        assert!(!policy.contains("unsafe"), "{path}: {policy}");
        assert_eq!(headers[X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        assert_eq!(headers[REFERRER_POLICY], "no-referrer", "{path}");
        assert_eq!(headers[CACHE_CONTROL], "no-cache", "{path}");
        let content_type = headers[CONTENT_TYPE].to_str().unwrap();
        assert!(content_type.starts_with(kind), "{path}: {content_type}");

        let etag = headers[ETAG].clone();
        let again = app
            .client
            .get(app.url(path))
            .header(IF_NONE_MATCH, etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
    }
}

#[tokio::test]
async fn files_are_compressed_for_a_browser_that_accepts_gzip() {
    let app = spawn_app().await;
    let plain = app.get_raw("/").await;
    assert!(plain.headers().get(CONTENT_ENCODING).is_none());
    let body = plain.text().await.unwrap();
    assert!(body.starts_with("<!doctype html>"), "{body}");
    let gzip = app
        .client
        .get(app.url("/ui/js/board.js"))
        .header(ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzip.headers()[CONTENT_ENCODING], "gzip");
}

#[tokio::test]
async fn every_file_the_page_and_its_modules_name_is_served() {
    let app = spawn_app().await;
    let page = app.get_raw("/").await.text().await.unwrap();
    let mut files: Vec<String> = page
        .split('"')
        .filter(|part| part.starts_with("/ui/"))
        .map(str::to_owned)
        .collect();
    let mut scripts = vec!["/ui/js/main.js".to_owned()];
    while let Some(script) = scripts.pop() {
        let source = app.get_raw(&script).await.text().await.unwrap();
        for line in source.lines().filter(|line| line.starts_with("import ")) {
            let module = line.split('\'').nth(1).expect("an import names a module");
            let path = format!("/ui/js/{}", module.trim_start_matches("./"));
            if !files.contains(&path) {
                files.push(path.clone());
                scripts.push(path);
            }
        }
    }
    assert!(files.len() >= 8, "{files:?}");
    for file in files {
        assert_eq!(app.get_raw(&file).await.status(), StatusCode::OK, "{file}");
    }
}

#[tokio::test]
async fn an_unknown_file_is_a_404_and_the_api_and_docs_keep_their_headers() {
    let app = spawn_app().await;
    problem(app.get_raw("/ui/nothing.js").await, StatusCode::NOT_FOUND).await;
    problem(
        app.get_raw("/ui/../Cargo.toml").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    for path in ["/v1/tasks", "/docs/", "/openapi.json"] {
        let response = app.get_raw(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(
            response.headers().get(CONTENT_SECURITY_POLICY).is_none(),
            "{path}: /docs/ runs inline script, and the API serves no page"
        );
    }
}
