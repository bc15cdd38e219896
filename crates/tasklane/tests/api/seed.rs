//! `tasklane seed`: tasks spread evenly over their workspaces, in a realistic mix that
//! every filter finds part of, with each workspace's generation advanced and the query
//! planner's statistics refreshed.

use clap::Parser;
use tasklane::config::{Cli, Command};
use tasklane::domain::{ListQuery, Scope};
use tasklane::startup::open_store;

use crate::common::fresh_database;

#[tokio::test]
async fn seeded_tasks_are_spread_over_their_workspaces_in_a_realistic_mix() {
    let database = fresh_database().await;
    let command = ["tasklane", "seed", "--tasks", "1001", "--workspaces", "4"];
    let parsed = Cli::try_parse_from([&command[..], &["--database-url", &database.url]].concat());
    let Command::Seed(args) = parsed.unwrap().command else {
        unreachable!("the command is `seed`")
    };
    tasklane::seed::run(&args).await.unwrap();

    let storage = open_store(&database.url).await.unwrap();
    let mut total = 0;
    for n in 1..=4 {
        let scope = Scope::named(format!("seed-{n:04}"));
        let (_, count) = storage
            .tasks
            .list(&scope, &ListQuery::default())
            .await
            .unwrap();
        let count = count.expect("counted by default");
        assert!(count == 250 || count == 251, "{scope}: {count} tasks");
        assert!(
            storage.tasks.generation(&scope).await.unwrap() > 0,
            "{scope}: no advance"
        );
        total += count;
    }
    assert_eq!(total, 1001);
    assert!(
        planner_statistics(&database.url).await > 0,
        "the planner knows nothing of the loaded tasks"
    );

    let scope = Scope::named("seed-0001");
    for filter in [
        "status=done",
        "priority=urgent",
        "label=bug",
        "assignee=ana",
        "q=ship",
    ] {
        let query = ListQuery::parse(filter, storage.tasks.cursor_key()).unwrap();
        let (_, count) = storage.tasks.list(&scope, &query).await.unwrap();
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
