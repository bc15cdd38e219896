//! What a first-time user meets, through the real binary: a mistake in the options or
//! the environment is refused before anything is created, with a message that names
//! the fix; the start-up lines say where the server is and how it is set up; tools
//! other than `serve` refuse a database that `serve` never created.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{closed_port, fresh_database};

/// What one run of the binary did.
struct Ran {
    status: Option<i32>,
    stderr: String,
}

/// Runs `tasklane` in `dir` with these arguments and no environment but `env`. One
/// that is still running after 30 seconds (a server that started where it should
/// have refused) is killed, and has no status.
fn tasklane(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Ran {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tasklane"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..300 {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let ran = Ran {
        status: output.status.code(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    println!(
        "tasklane {}: {:?}\n{}",
        args.join(" "),
        ran.status,
        ran.stderr
    );
    ran
}

/// Runs `tasklane serve` with these options in a fresh directory, which must fail with
/// `status` and leave the directory empty: nothing was created or migrated. It listens
/// on a free port unless told otherwise, so that a server already on the default port
/// does not stop it before what the test is about.
fn refused(args: &[&str], env: &[(&str, &str)], status: i32) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut env = env.to_vec();
    if !env.iter().any(|(name, _)| *name == "TASKLANE_LISTEN") {
        env.push(("TASKLANE_LISTEN", "127.0.0.1:0"));
    }
    let ran = tasklane(dir.path(), &[&["serve"], args].concat(), &env);
    assert_eq!(ran.status, Some(status), "{}", ran.stderr);
    let created: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(created.is_empty(), "refused, yet created {created:?}");
    ran.stderr
}

#[test]
fn a_listen_address_that_is_only_a_port_is_answered_with_the_form_expected() {
    let stderr = refused(&["--listen", "9000"], &[], 2);
    assert!(stderr.contains("such as `127.0.0.1:9000`"), "{stderr}");
    let stderr = refused(&["--listen", "example.com:9000"], &[], 2);
    assert!(stderr.contains("such as `127.0.0.1:8080`"), "{stderr}");
}

#[test]
fn port_points_to_listen() {
    let stderr = refused(&["--port", "9000"], &[], 2);
    assert!(
        stderr.contains("tip: the port is part of --listen"),
        "{stderr}"
    );
}

#[test]
fn a_bad_value_from_the_environment_names_the_variable() {
    let stderr = refused(&[], &[("TASKLANE_LISTEN", "9000")], 2);
    assert!(
        stderr.contains("for 'TASKLANE_LISTEN, which sets --listen'"),
        "{stderr}"
    );
    let stderr = refused(&[], &[("TASKLANE_DATABASE_URL", "sqlite://")], 2);
    assert!(
        stderr.contains("'TASKLANE_DATABASE_URL, which sets --database-url'"),
        "{stderr}"
    );
    // The same value on the command line is the option's fault, and named so.
    let stderr = refused(&["--listen", "9000"], &[("TASKLANE_LISTEN", "9000")], 2);
    assert!(stderr.contains("for '--listen <ADDR>'"), "{stderr}");
}

#[test]
fn a_change_log_retention_that_keeps_nothing_is_refused() {
    let stderr = refused(&[], &[("TASKLANE_CHANGES_RETENTION_COUNT", "0")], 2);
    assert!(
        stderr.contains("'TASKLANE_CHANGES_RETENTION_COUNT, which sets --changes-retention-count'")
            && stderr.contains("give at least 1"),
        "{stderr}"
    );
    let stderr = refused(&["--changes-retention", "0s"], &[], 2);
    assert!(stderr.contains("give at least `1s`"), "{stderr}");
    let stderr = refused(&[], &[("TASKLANE_CHANGES_RETENTION", "a week")], 2);
    assert!(
        stderr.contains("'TASKLANE_CHANGES_RETENTION, which sets --changes-retention'")
            && stderr.contains("such as `7d`"),
        "{stderr}"
    );
}

#[test]
fn database_urls_that_would_lose_every_write_are_refused_at_start() {
    for url in [
        "sqlite://",
        "sqlite::memory:",
        "sqlite://:memory:",
        "sqlite://tasks.db?mode=memory",
    ] {
        let stderr = refused(&["--database-url", url], &[], 2);
        assert!(stderr.contains("names no database file"), "{url}: {stderr}");
    }
}

#[test]
fn a_database_path_without_a_scheme_is_answered_with_the_url_it_meant() {
    let stderr = refused(&["--database-url", "./foo.db"], &[], 2);
    assert!(stderr.contains("`sqlite://./foo.db`"), "{stderr}");
}

#[test]
fn a_sqlite_file_in_a_missing_directory_names_the_directory_once() {
    let stderr = refused(&["--database-url", "sqlite://missing/tasks.db"], &[], 1);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("missing does not exist"), "{stderr}");
    assert_eq!(stderr.matches("does not exist").count(), 1, "{stderr}");
}

#[test]
fn postgresql_refusing_connections_is_said_as_such() {
    let url = format!(
        "postgres://tasklane:secret@127.0.0.1:{}/tasklane",
        closed_port()
    );
    let stderr = refused(&["--database-url", &url], &[], 1);
    assert!(
        stderr.to_lowercase().contains("connection refused"),
        "{stderr}"
    );
    assert!(!stderr.contains("timed out"), "{stderr}");
    assert!(
        !stderr.contains("secret"),
        "the password was shown: {stderr}"
    );
    assert_eq!(
        stderr.to_lowercase().matches("connection refused").count(),
        1,
        "said once: {stderr}"
    );
}

#[test]
fn a_redis_url_that_does_not_parse_says_the_form_expected() {
    let stderr = refused(&["--redis-url", "127.0.0.1:6379"], &[], 2);
    assert!(stderr.contains("expected redis://HOST:PORT/DB"), "{stderr}");
}

#[test]
fn the_options_are_checked_before_the_database_is_created() {
    let stderr = refused(
        &[
            "--consistency",
            "local",
            "--redis-url",
            "redis://127.0.0.1:1/0",
        ],
        &[],
        1,
    );
    assert!(
        stderr.contains("consistency `local` cannot be combined with a Redis"),
        "{stderr}"
    );
    let stderr = refused(&["--listen", "0.0.0.0:0", "--auth", "none"], &[], 1);
    assert!(
        stderr.contains("`--auth none` is only for loopback"),
        "{stderr}"
    );
    // A port already taken is found before the database is touched.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let stderr = refused(&["--listen", &address], &[], 1);
    assert!(
        stderr.contains(&format!("cannot listen on {address}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("choose another port with --listen"),
        "{stderr}"
    );
}

/// `tasklane serve` on `listen`, in `dir` with the database `tasks.db` there, no
/// environment, and its log piped back.
fn serve_in(dir: &Path, listen: &str, options: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_tasklane"))
        .args([
            "serve",
            "--listen",
            listen,
            "--database-url",
            "sqlite://tasks.db",
        ])
        .args(options)
        .env_clear()
        .current_dir(dir)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn the_start_up_lines_say_where_to_go_and_how_the_server_is_set_up() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let mut server = serve_in(
        dir.path(),
        &format!("localhost:{port}"),
        &["--log-format", "json"],
    );
    let url = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..200 {
        if let Ok(response) = reqwest::get(format!("{url}/healthz")).await {
            up = response.status().is_success();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    server.kill().unwrap();
    let output = server.wait_with_output().unwrap();
    assert!(up, "`--listen localhost:{port}` serves on {url}");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let message = |start: &str| {
        lines
            .iter()
            .map(|line| &line["fields"])
            .find(|fields| fields["message"].as_str().unwrap().starts_with(start))
            .unwrap_or_else(|| panic!("no `{start}` line in {lines:?}"))
            .clone()
    };
    let serving = message("Tasklane ");
    assert_eq!(
        serving["message"],
        format!(
            "Tasklane {} serving {url}: the web app at {url}/, API documentation at {url}/docs/",
            env!("CARGO_PKG_VERSION")
        )
    );
    let configuration = message("configuration");
    let database = dir.path().canonicalize().unwrap().join("tasks.db");
    assert_eq!(
        configuration["database"],
        format!("sqlite://{}", database.display())
    );
    assert_eq!(
        configuration["consistency"], "local",
        "as spelled on the command line"
    );
    assert_eq!(configuration["auth"], "none");
    assert_eq!(configuration["cache_mib"], 64);
    assert_eq!(configuration["redis"], "none");
}

/// A client that sends a token to a server without authentication expects its own
/// workspace and sees `default`; the log says so, once, and in plain text (no colour
/// codes when it goes to a file or a pipe).
#[tokio::test]
async fn a_token_sent_to_a_server_without_authentication_is_said_to_be_ignored_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let mut server = serve_in(dir.path(), &format!("127.0.0.1:{port}"), &[]);
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut answered = 0;
    for _ in 0..200 {
        if client.get(format!("{url}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for _ in 0..3 {
        let response = client
            .get(format!("{url}/v1/tasks"))
            .bearer_auth(format!("tl_{}", "0".repeat(64)))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "acts in `default`");
        answered += 1;
    }
    server.kill().unwrap();
    let output = server.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(answered, 3);
    assert_eq!(
        stderr
            .matches("presented a token, but this server runs with `--auth none`")
            .count(),
        1,
        "{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "no colour codes into a pipe: {stderr}"
    );
}

/// What `token create` and `seed` answer on `url`: refused, saying why and how to
/// create it.
fn tools_refuse(dir: &Path, url: &str, why: &str) {
    for args in [
        &["token", "create", "--workspace", "acme"][..],
        &["seed", "--tasks", "10"][..],
    ] {
        let ran = tasklane(dir, &[args, &["--database-url", url]].concat(), &[]);
        assert_eq!(ran.status, Some(1), "{}", ran.stderr);
        assert!(ran.stderr.contains(why), "{}", ran.stderr);
        assert!(
            ran.stderr
                .contains("run `tasklane serve` once with this --database-url"),
            "{}",
            ran.stderr
        );
    }
}

#[test]
fn tools_refuse_a_sqlite_file_that_serve_never_created() {
    let dir = tempfile::tempdir().unwrap();
    tools_refuse(dir.path(), "sqlite://typo.db", "typo.db does not exist");
    assert!(
        !dir.path().join("typo.db").exists(),
        "a new database was created"
    );
    std::fs::File::create(dir.path().join("empty.db")).unwrap();
    tools_refuse(dir.path(), "sqlite://empty.db", "it was never migrated");
}

#[test]
fn a_tool_names_the_variable_that_gave_it_a_missing_database() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["token", "create", "--workspace", "acme"][..],
        &["seed", "--tasks", "10"][..],
    ] {
        let ran = tasklane(
            dir.path(),
            args,
            &[("TASKLANE_DATABASE_URL", "sqlite://typo.db")],
        );
        assert_eq!(ran.status, Some(1), "{}", ran.stderr);
        assert!(
            ran.stderr
                .contains("TASKLANE_DATABASE_URL, which sets --database-url"),
            "{}",
            ran.stderr
        );
    }
}

#[tokio::test]
async fn tools_refuse_a_database_without_tasklane_tables() {
    // A fresh database of this run's store (a fresh schema on PostgreSQL), never served.
    let database = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    if database.url.starts_with("sqlite:") {
        tools_refuse(dir.path(), &database.url, "does not exist");
    } else {
        tools_refuse(dir.path(), &database.url, "it was never migrated");
    }
}
