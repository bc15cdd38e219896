//! Everyday commands, and how they answer scripts: ids by prefix, tables and JSON,
//! exit statuses, the stored login.

use serde_json::{Value, json};

use crate::support::Session;

/// The full ids of every task, as the API lists them.
async fn ids(session: &Session) -> Vec<String> {
    let page = session.app.list("limit=100").await;
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn add_prints_a_short_id_that_names_the_task() {
    let session = Session::start().await;
    let short = session.ok(&[
        "task",
        "add",
        "Write the release notes",
        "--priority",
        "high",
        "--label",
        "docs",
        "--label",
        "release",
        "--assignee",
        "ana",
    ]);
    let short = short.trim();
    let all = ids(&session).await;
    assert_eq!(all.len(), 1);
    assert!(
        all[0].starts_with(short) && short.len() >= 8,
        "{short} of {}",
        all[0]
    );
    let shown: Value =
        serde_json::from_str(&session.ok(&["task", "show", short, "--json"])).unwrap();
    assert_eq!(shown["title"], "Write the release notes");
    assert_eq!(shown["priority"], "high");
    assert_eq!(shown["labels"], json!(["docs", "release"]));
    assert_eq!(shown["assignee"], "ana");
}

#[tokio::test]
async fn due_is_read_in_the_local_zone_and_a_day_means_its_end() {
    let session = Session::start().await;
    let short = session
        .command(&["task", "add", "pay the invoice", "--due", "2026-12-01"])
        .env("TZ", "Europe/Paris")
        .output()
        .unwrap();
    assert!(short.status.success(), "{:?}", short);
    let page = session.app.list("").await;
    assert_eq!(page["data"][0]["due_at"], "2026-12-01T22:59:59.999999Z");
    let refused = session.run(&["task", "add", "x", "--due", "someday"]);
    assert_eq!(refused.code(), 2, "{}", refused.stderr());
    assert!(refused.stderr().contains("someday"), "{}", refused.stderr());
    assert_eq!(session.app.list("").await["total"], 1, "nothing sent");
}

#[tokio::test]
async fn ls_prints_a_table_that_fits_or_json_for_scripts() {
    let session = Session::start().await;
    for (title, status) in [
        (
            "Write the winter release notes and send them to everyone",
            "todo",
        ),
        ("Fix login", "done"),
        ("Plan", "in_progress"),
    ] {
        session
            .app
            .create(json!({"title": title, "status": status}))
            .await;
    }
    let table = session.ok(&["task", "ls"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "a header and three rows: {table}");
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("TITLE"),
        "{table}"
    );
    // Aligned: each row's status starts where the header's STATUS does.
    let column = lines[0].find("STATUS").unwrap();
    for line in &lines[1..] {
        assert!(
            ["todo", "done", "in_progress"]
                .iter()
                .any(|s| line[column..].starts_with(s)),
            "{table}"
        );
    }
    // Piped, nothing is cut and nothing is coloured.
    assert!(table.contains("send them to everyone"), "{table}");
    assert!(!table.contains('\u{1b}'), "{table}");
    let narrow = session
        .command(&["task", "ls"])
        .env("COLUMNS", "60")
        .output()
        .unwrap();
    let narrow = String::from_utf8(narrow.stdout).unwrap();
    for line in narrow.lines() {
        assert!(line.chars().count() <= 60, "{line:?}");
    }
    assert!(narrow.contains('…'), "{narrow}");

    let array: Vec<Value> = serde_json::from_str(&session.ok(&["task", "ls", "--json"])).unwrap();
    assert_eq!(array.len(), 3);
    assert!(
        array
            .iter()
            .all(|t| t["version"] == 1 && t.get("completed_at").is_some())
    );
    let lines = session.ok(&["task", "ls", "--ndjson", "--not-status", "done"]);
    let open: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(open.len(), 2, "{lines}");
    assert_eq!(
        session.ok(&["task", "ls", "--fields", "title", "--status", "done"]),
        "TITLE\nFix login\n"
    );
}

#[tokio::test]
async fn ls_all_walks_every_page() {
    let session = Session::start().await;
    for n in 0..130 {
        session
            .app
            .create(json!({"title": format!("task {n:03}"), "assignee": if n % 2 == 0 { Value::Null } else { json!("bo") }}))
            .await;
    }
    let first = session.run(&["task", "ls", "--ndjson"]);
    assert_eq!(first.stdout().lines().count(), 100);
    assert!(first.stderr().contains("--all"), "{}", first.stderr());
    let all = session.ok(&["task", "ls", "--all", "--ndjson", "--sort", "-title"]);
    let titles: Vec<String> = all
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["title"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(titles.len(), 130);
    assert_eq!(titles[0], "task 129");
    let unassigned = session.ok(&["task", "ls", "--all", "--ndjson", "--unassigned"]);
    assert_eq!(unassigned.lines().count(), 65);
}

#[tokio::test]
async fn ids_may_be_any_unique_prefix_and_an_ambiguous_one_lists_the_candidates() {
    let session = Session::start().await;
    let a = session.app.create(json!({"title": "first"})).await;
    let b = session.app.create(json!({"title": "second"})).await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let shared = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    assert!(shared >= 1, "{a} {b}");
    let ambiguous = session.run(&["task", "show", &a[..shared]]);
    assert_eq!(ambiguous.code(), 2, "{}", ambiguous.stderr());
    assert!(
        ambiguous.stderr().contains("first") && ambiguous.stderr().contains("second"),
        "{}",
        ambiguous.stderr()
    );
    // One character more names one task; so does the id without hyphens.
    let unique = &a[..shared + 1];
    assert!(
        session
            .ok(&["task", "show", unique])
            .contains("title:     first")
    );
    let bare: String = b.chars().filter(|c| *c != '-').collect();
    assert!(
        session
            .ok(&["task", "show", &bare[..bare.len() - 3]])
            .contains("second")
    );
    let unknown = session.run(&["task", "show", "ffffffff"]);
    assert_eq!(unknown.code(), 3, "{}", unknown.stderr());
}

#[tokio::test]
async fn done_start_rm_and_restore_write_the_task() {
    let session = Session::start().await;
    let id = session.app.create(json!({"title": "ship"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let prefix = &id[..id.len() - 4];
    assert_eq!(session.ok(&["task", "start", prefix]), "");
    let task: Value = session.app.get_ok(&format!("/v1/tasks/{id}")).await;
    assert_eq!(
        (task["status"].as_str(), task["version"].as_i64()),
        (Some("in_progress"), Some(2))
    );
    session.ok(&["task", "done", prefix]);
    let task: Value = session.app.get_ok(&format!("/v1/tasks/{id}")).await;
    assert_eq!(task["status"], "done");
    assert!(task["completed_at"].is_string());
    session.ok(&[
        "task",
        "edit",
        prefix,
        "--title",
        "ship it",
        "--no-labels",
        "--unassign",
    ]);
    let task: Value = session.app.get_ok(&format!("/v1/tasks/{id}")).await;
    assert_eq!(task["title"], "ship it");
    session.ok(&["task", "rm", prefix]);
    assert_eq!(session.app.get_task(&id).await.status(), 404);
    // A deleted task is found by prefix among the deletes the log keeps.
    session.ok(&["task", "restore", prefix]);
    let task: Value = session.app.get_ok(&format!("/v1/tasks/{id}")).await;
    assert_eq!(task["title"], "ship it");
}

#[tokio::test]
async fn exit_statuses_tell_usage_refusals_and_unreachable_servers_apart() {
    let session = Session::start().await;
    let usage = session.run(&["task", "add"]);
    assert_eq!(usage.code(), 2, "{}", usage.stderr());
    // Values the client can check are usage errors, named, and nothing is sent.
    for (args, named) in [
        (
            &["task", "add", "t", "--priority", "asap"][..],
            ["--priority", "asap"],
        ),
        (
            &["task", "add", "t", "--status", "doing"],
            ["--status", "doing"],
        ),
        (&["task", "ls", "--status", "doing"], ["--status", "doing"]),
        (
            &["task", "ls", "--not-status", "todo,doing"],
            ["--not-status", "doing"],
        ),
        (&["task", "ls", "--sort", "colour"], ["--sort", "colour"]),
    ] {
        let usage = session.run(args);
        assert_eq!(usage.code(), 2, "{args:?}: {}", usage.stderr());
        for word in named {
            assert!(
                usage.stderr().contains(word),
                "{args:?}: {}",
                usage.stderr()
            );
        }
    }
    assert_eq!(session.app.list("").await["total"], 0, "nothing sent");
    // What only the server checks is its refusal: the problem's title and detail.
    let long = "x".repeat(5_000);
    let refused = session.run(&["task", "add", &long]);
    assert_eq!(refused.code(), 3, "{}", refused.stderr());
    assert!(
        refused.stderr().contains("Unprocessable Entity"),
        "{}",
        refused.stderr()
    );
    assert!(refused.stderr().contains("title"), "{}", refused.stderr());
    let port = crate::common::closed_port();
    let unreachable = session
        .command(&["task", "ls"])
        .env("TASKLANE_URL", format!("http://127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert_eq!(unreachable.status.code(), Some(4), "{unreachable:?}");
    let nothing = session.run(&["task", "edit", "ffffffff-0000-7000-8000-000000000000"]);
    assert_eq!(nothing.code(), 2, "{}", nothing.stderr());
}

#[tokio::test]
async fn login_stores_the_server_for_later_commands_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let session = Session::start().await;
    let port = crate::common::closed_port();
    let refused = session
        .command(&["login", "--url", &format!("http://127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert_eq!(
        refused.status.code(),
        Some(4),
        "checked before it is stored"
    );
    let stored = session.config.path().join("tasklane").join("login.json");
    assert!(!stored.exists());
    session.ok(&["login", "--url", &session.server.base]);
    let mode = std::fs::metadata(&stored).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    session
        .app
        .create(json!({"title": "from the stored login"}))
        .await;
    let listed = session
        .command(&["task", "ls", "--fields", "title"])
        .env_remove("TASKLANE_URL")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(listed.stdout).unwrap(),
        "TITLE\nfrom the stored login\n"
    );
}

#[tokio::test]
async fn colour_only_on_a_terminal_and_never_with_no_color() {
    let session = Session::start().await;
    session.app.create(json!({"title": "coloured"})).await;
    // `script` runs the command on a pseudo-terminal of its own.
    let on_a_terminal = |no_color: Option<&str>| {
        let mut command = std::process::Command::new("script");
        command
            .args(["-q", "-e", "-c"])
            .arg(format!("{} task ls", env!("CARGO_BIN_EXE_tasklane")))
            .arg("/dev/null")
            .env("TASKLANE_URL", &session.server.base)
            .env("XDG_CONFIG_HOME", session.config.path())
            .env("COLUMNS", "100")
            .env_remove("NO_COLOR");
        if let Some(value) = no_color {
            command.env("NO_COLOR", value);
        }
        let output = command.output().unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let coloured = on_a_terminal(None);
    assert!(
        coloured.contains("coloured") && coloured.contains("\u{1b}["),
        "{coloured:?}"
    );
    let plain = on_a_terminal(Some("1"));
    assert!(
        plain.contains("coloured") && !plain.contains("\u{1b}["),
        "{plain:?}"
    );
    // An empty NO_COLOR does not count (no-color.org).
    assert!(on_a_terminal(Some("")).contains("\u{1b}["));
}

#[tokio::test]
async fn a_stored_token_goes_only_to_the_server_it_was_stored_for() {
    use tokio::io::AsyncReadExt;
    let session = Session::start().await;
    let token = format!("tl_{}", "ab".repeat(32));
    session.ok(&["login", "--url", &session.server.base, "--token", &token]);
    // Another server, which only records what it is sent.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = format!("http://{}", listener.local_addr().unwrap());
    let head = tokio::spawn(async move {
        let (mut connection, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buffer = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let read = connection.read(&mut buffer).await.unwrap();
            if read == 0 {
                break;
            }
            head.extend_from_slice(&buffer[..read]);
        }
        String::from_utf8_lossy(&head).to_lowercase()
    });
    let mut command = session.command(&["task", "ls", "--url", &other]);
    let listed = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let head = head.await.unwrap();
    assert!(head.starts_with("get /v1/tasks"), "{head}");
    assert!(
        !head.contains("authorization") && !head.contains(&token),
        "the stored token went to another server: {head}"
    );
    assert_ne!(listed.status.code(), Some(0));
}

#[tokio::test]
async fn a_closed_output_ends_quietly_and_a_full_disk_is_an_error() {
    let session = Session::start().await;
    for n in 0..50 {
        session
            .app
            .create(json!({"title": format!("task {n}")}))
            .await;
    }
    // `tasklane task ls --ndjson | head -1`: the reader goes away.
    let mut closed = session
        .command(&["task", "ls", "--ndjson"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(closed.stdout.take());
    let closed = closed.wait_with_output().unwrap();
    assert_eq!(closed.status.code(), Some(0), "{closed:?}");
    assert!(closed.stderr.is_empty(), "{closed:?}");
    let full = session
        .command(&["task", "ls"])
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_eq!(full.status.code(), Some(1), "{full:?}");
    assert!(
        String::from_utf8_lossy(&full.stderr).contains("writing to standard output"),
        "{full:?}"
    );
}

#[tokio::test]
async fn a_refusal_quoting_hostile_text_cannot_drive_the_terminal() {
    let session = Session::start().await;
    let label = "\u{1b}]0;pwned\u{7}";
    let refused = session.run(&["task", "add", "x", "-l", label, "-l", label]);
    assert_eq!(refused.code(), 3, "{}", refused.stderr());
    assert!(
        refused.stderr().contains("distinct"),
        "{}",
        refused.stderr()
    );
    assert!(
        !refused.stderr().contains('\u{1b}') && !refused.stderr().contains('\u{7}'),
        "{:?}",
        refused.stderr()
    );
}
