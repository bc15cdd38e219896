//! `tasklane token list` and `tasklane token revoke` beside `token create`, on the
//! server's database; a revoked token is gone from the list.

use serde_json::Value;

use crate::support::Session;

#[tokio::test]
async fn tokens_are_listed_without_secrets_and_revoked() {
    let session = Session::start().await;
    let url = &session.database.url;
    let secret = session.ok(&[
        "token",
        "create",
        "--workspace",
        "acme",
        "--member",
        "ana",
        "--database-url",
        url,
    ]);
    let secret = secret.trim();
    session.ok(&[
        "token",
        "create",
        "--workspace",
        "other",
        "--database-url",
        url,
    ]);
    let listed = session.ok(&[
        "token",
        "list",
        "--workspace",
        "acme",
        "--ndjson",
        "--database-url",
        url,
    ]);
    let tokens: Vec<Value> = listed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(tokens.len(), 1, "only acme's: {listed}");
    assert_eq!(tokens[0]["member"], "ana");
    assert!(!listed.contains(&secret[3..]), "no secret is listed");
    let id = tokens[0]["id"].as_str().unwrap();

    // Another workspace's name does not reach it.
    let elsewhere = session.run(&[
        "token",
        "revoke",
        id,
        "--workspace",
        "other",
        "--database-url",
        url,
    ]);
    assert_eq!(elsewhere.code(), 1, "{}", elsewhere.stderr());
    assert!(
        elsewhere.stderr().contains("no token"),
        "{}",
        elsewhere.stderr()
    );
    session.ok(&[
        "token",
        "revoke",
        id,
        "--workspace",
        "acme",
        "--database-url",
        url,
    ]);
    let listed = session.ok(&[
        "token",
        "list",
        "--workspace",
        "acme",
        "--database-url",
        url,
    ]);
    assert_eq!(listed, "", "revoked tokens are not listed");
}
