//! `tasklane seed`: tasks spread evenly over their workspaces, in a realistic mix that
//! every filter finds part of, with each workspace's generation advanced and the query
//! planner's statistics refreshed; seeding the same workspaces again only with
//! `--append`.

use crate::common::open_store;
use clap::Parser;
use tasklane::cli::{Cli, Command};
use tasklane_server::domain::{ChangeKind, ListQuery, NewTask, StoredPage, Timestamp, Workspace};
use tasklane_server::store::Storage;

use crate::common::fresh_database;

/// Runs `tasklane seed` with these options on `url`.
async fn seed(url: &str, options: &[&str]) -> anyhow::Result<()> {
    let command = [&["tasklane", "seed", "--database-url", url], options].concat();
    let Command::Seed(args) = Cli::try_parse_from(command).unwrap().command else {
        unreachable!("the command is `seed`")
    };
    tasklane::seed::run(&args).await
}

/// How many tasks each workspace `seed-0001`, `seed-0002`, ... holds.
async fn counts(storage: &Storage, workspaces: u64) -> Vec<u64> {
    let mut counts = Vec::new();
    for n in 1..=workspaces {
        let workspace = Workspace::named(format!("seed-{n:04}"));
        let StoredPage { total: count, .. } = storage
            .tasks
            .list(&workspace, &ListQuery::default())
            .await
            .unwrap();
        counts.push(count.expect("counted by default"));
    }
    counts
}

#[tokio::test]
async fn seeded_tasks_are_spread_over_their_workspaces_in_a_realistic_mix() {
    let database = fresh_database().await;
    // As `tasklane serve` creates it: seed refuses a database that was never created.
    let storage = open_store(&database.url).await.unwrap();
    seed(&database.url, &["--tasks", "1001", "--workspaces", "4"])
        .await
        .unwrap();

    let mut total = 0;
    for n in 1..=4 {
        let workspace = Workspace::named(format!("seed-{n:04}"));
        let StoredPage { total: count, .. } = storage
            .tasks
            .list(&workspace, &ListQuery::default())
            .await
            .unwrap();
        let count = count.expect("counted by default");
        assert!(count == 250 || count == 251, "{workspace}: {count} tasks");
        assert!(
            storage.tasks.generation(&workspace).await.unwrap().counter > 0,
            "{workspace}: no advance"
        );
        total += count;
    }
    assert_eq!(total, 1001);
    assert!(
        planner_statistics(&database.url).await > 0,
        "the planner knows nothing of the loaded tasks"
    );

    let workspace = Workspace::named("seed-0001");
    for filter in [
        "status=done",
        "priority=urgent",
        "label=bug",
        "assignee=ana",
        "q=ship",
    ] {
        let query = ListQuery::parse(filter, storage.tasks.cursor_key()).unwrap();
        let StoredPage { total: count, .. } = storage.tasks.list(&workspace, &query).await.unwrap();
        let count = count.expect("counted by default");
        assert!(0 < count && count < 250, "{filter}: {count} of 251");
    }
}

/// How many statistics the query planner has about the tasks table.
async fn planner_statistics(url: &str) -> i64 {
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'tasks'")
            .fetch_one(&pool)
            .await
            .unwrap()
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stats \
             WHERE schemaname = current_schema() AND tablename = 'tasks'",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    }
}

#[tokio::test]
async fn each_seeded_task_appends_its_creation_to_its_workspaces_log() {
    let database = fresh_database().await;
    let storage = open_store(&database.url).await.unwrap();
    seed(&database.url, &["--tasks", "30", "--workspaces", "3"])
        .await
        .unwrap();
    for n in 1..=3 {
        let workspace = Workspace::named(format!("seed-{n:04}"));
        let log = storage.tasks.changes(&workspace, 0, 100).await.unwrap();
        assert_eq!(log.head, 10, "{workspace}");
        let seqs: Vec<u64> = log.changes.iter().map(|change| change.seq).collect();
        assert_eq!(seqs, (1..=10).collect::<Vec<_>>(), "{workspace}");
        let page = storage
            .tasks
            .list(&workspace, &ListQuery::default())
            .await
            .unwrap();
        let mut listed: Vec<_> = page.rows.into_iter().map(|row| row.task.unwrap()).collect();
        let mut logged: Vec<_> = log
            .changes
            .into_iter()
            .map(|change| {
                assert_eq!(change.kind, ChangeKind::Created);
                let task = change.task.expect("a creation carries its task");
                assert_eq!(change.version, task.version);
                task
            })
            .collect();
        listed.sort_by_key(|task| task.id);
        logged.sort_by_key(|task| task.id);
        assert_eq!(
            logged, listed,
            "{workspace}: one creation per task, as stored"
        );
    }
}

#[tokio::test]
async fn seeding_the_same_workspaces_again_needs_append() {
    let database = fresh_database().await;
    let storage = open_store(&database.url).await.unwrap();
    let options = ["--tasks", "30", "--workspaces", "3"];
    seed(&database.url, &options).await.unwrap();

    let again = seed(&database.url, &options).await.unwrap_err().to_string();
    assert!(
        again.contains("workspace `seed-0001` already has tasks") && again.contains("--append"),
        "{again}"
    );
    assert_eq!(
        counts(&storage, 3).await,
        [10, 10, 10],
        "the refusal added nothing"
    );

    // A workspace in use far down a long list is found too (past the first few
    // hundred names the database is asked about at once).
    let task: NewTask = serde_json::from_value(serde_json::json!({"title": "mine"})).unwrap();
    let task = task.into_task(Timestamp::now());
    let workspace = Workspace::named("wide-0700");
    storage
        .tasks
        .insert(&workspace, &task, None, &())
        .await
        .unwrap();
    let wide = [
        "--tasks",
        "10",
        "--workspaces",
        "1000",
        "--workspace-prefix",
        "wide",
    ];
    let refused = seed(&database.url, &wide).await.unwrap_err().to_string();
    assert!(refused.contains("workspace `wide-0700`"), "{refused}");

    seed(&database.url, &[&options[..], &["--append"]].concat())
        .await
        .unwrap();
    assert_eq!(counts(&storage, 3).await, [20, 20, 20]);
    // Another prefix is another set of workspaces.
    seed(
        &database.url,
        &[&options[..], &["--workspace-prefix", "other"]].concat(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn seeding_a_database_no_server_created_needs_new() {
    let database = fresh_database().await;
    let refused = seed(&database.url, &["--tasks", "10", "--workspaces", "1"]).await;
    assert!(refused.is_err(), "seeded a database no server created");
    seed(
        &database.url,
        &["--tasks", "10", "--workspaces", "1", "--new"],
    )
    .await
    .unwrap();
    let storage = open_store(&database.url).await.unwrap();
    assert_eq!(counts(&storage, 1).await, [10]);
}
