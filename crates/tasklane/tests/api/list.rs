//! `GET /v1/tasks`: every filter matches exactly what it says, every sort orders as it
//! says, and page and cursor pagination walk the same list.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::common::fresh_database;
use crate::helpers::{TestApp, execute_sql, spawn_app, spawn_app_on, titles};

/// Seven tasks that tell every filter apart.
async fn seeded() -> TestApp {
    let app = spawn_app().await;
    for task in [
        json!({"title": "alpha", "status": "todo", "priority": "low", "assignee": "ana", "labels": ["bug", "ui"], "due_at": "2026-01-10T00:00:00Z", "description": "Fix the Login page"}),
        json!({"title": "bravo", "status": "in_progress", "priority": "high", "assignee": "ben", "labels": ["bug"], "due_at": "2026-01-20T00:00:00Z"}),
        json!({"title": "charlie", "status": "blocked", "priority": "urgent", "labels": ["ui"], "due_at": "2026-02-01T00:00:00Z"}),
        json!({"title": "delta", "status": "done", "priority": "medium", "assignee": "ana"}),
        json!({"title": "Échelle", "status": "todo", "priority": "high", "assignee": "Ana", "labels": ["Bug"], "description": "RÉSUMÉ of logins"}),
        json!({"title": "foxtrot", "status": "todo", "priority": "medium", "labels": ["bug", "ui", "backend"], "due_at": "2026-01-20T00:00:00Z"}),
        json!({"title": "golf 100%_done", "status": "done", "priority": "low", "due_at": "2026-03-01T00:00:00Z"}),
    ] {
        app.create(task).await;
    }
    app
}

async fn matching(app: &TestApp, query: &str) -> HashSet<String> {
    app.titles(&format!("{query}&limit=100"))
        .await
        .into_iter()
        .collect()
}

fn set(titles: &[&str]) -> HashSet<String> {
    titles.iter().map(|t| (*t).to_owned()).collect()
}

#[tokio::test]
async fn every_filter_matches_exactly() {
    let app = seeded().await;
    let cases: [(&str, &[&str]); 19] = [
        ("status=todo", &["alpha", "Échelle", "foxtrot"]),
        (
            "status=done,blocked",
            &["charlie", "delta", "golf 100%_done"],
        ),
        ("priority=high,urgent", &["bravo", "charlie", "Échelle"]),
        ("priority=low", &["alpha", "golf 100%_done"]),
        // Exact and case-sensitive; unassigned tasks never match an assignee filter.
        ("assignee=ana", &["alpha", "delta"]),
        ("assignee=nobody", &[]),
        // Every label given must be present; labels are case-sensitive.
        ("label=bug", &["alpha", "bravo", "foxtrot"]),
        ("label=bug&label=ui", &["alpha", "foxtrot"]),
        ("label=ui&label=backend&label=bug", &["foxtrot"]),
        ("label=Bug", &["Échelle"]),
        ("label=none", &[]),
        // Strictly before / at or after; tasks with no due date match neither.
        ("due_before=2026-01-20T00:00:00Z", &["alpha"]),
        (
            "due_after=2026-01-20T00:00:00Z",
            &["bravo", "charlie", "foxtrot", "golf 100%_done"],
        ),
        (
            "due_after=2026-01-15T00:00:00Z&due_before=2026-02-01T00:00:00Z",
            &["bravo", "foxtrot"],
        ),
        // Case-insensitive (Unicode too) substring of the title or the description.
        ("q=LOGIN", &["alpha", "Échelle"]),
        ("q=%C3%A9chelle", &["Échelle"]),
        ("q=r%C3%A9sum%C3%A9", &["Échelle"]),
        // `%` and `_` are plain characters, not patterns.
        ("q=100%25_", &["golf 100%_done"]),
        (
            "status=todo&priority=high&label=Bug&assignee=Ana&q=log",
            &["Échelle"],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(matching(&app, query).await, set(expected), "{query}");
    }
    assert_eq!(matching(&app, "q=%25").await, set(&["golf 100%_done"]));
    assert_eq!(app.list("").await["total"], 7);
}

#[tokio::test]
async fn assignees_unassigned_and_excluded_statuses_match_exactly() {
    let app = seeded().await;
    let cases: [(&str, &[&str]); 9] = [
        // Nobody's tasks: what `assignee` alone can never ask for.
        ("unassigned=true", &["charlie", "foxtrot", "golf 100%_done"]),
        ("unassigned=false", &["alpha", "bravo", "delta", "Échelle"]),
        // Any of several assignees; with `unassigned=true`, nobody's too.
        ("assignee=ana&assignee=ben", &["alpha", "bravo", "delta"]),
        (
            "assignee=ben&unassigned=true",
            &["bravo", "charlie", "foxtrot", "golf 100%_done"],
        ),
        ("assignee=ana&unassigned=false", &["alpha", "delta"]),
        // None of these statuses; beside `status`, both hold.
        (
            "status_not=done",
            &["alpha", "bravo", "charlie", "Échelle", "foxtrot"],
        ),
        (
            "status_not=todo,in_progress,blocked",
            &["delta", "golf 100%_done"],
        ),
        (
            "status=todo,done&status_not=todo",
            &["delta", "golf 100%_done"],
        ),
        ("status_not=done&unassigned=true", &["charlie", "foxtrot"]),
    ];
    for (query, expected) in cases {
        assert_eq!(matching(&app, query).await, set(expected), "{query}");
        // Counted as listed.
        let total = app.list(&format!("{query}&limit=1")).await["total"].clone();
        assert_eq!(total, expected.len(), "{query}");
    }
    // A status filter that leaves nothing is refused, naming `status_not`.
    let response = app.list_raw("status=done&status_not=done").await;
    assert_eq!(response.status(), reqwest::StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn date_bounds_are_days_in_a_named_zone() {
    let app = spawn_app().await;
    // In Paris (UTC+1 in winter), 2026-01-10 starts at 2026-01-09T23:00:00Z.
    for (title, due) in [
        ("before paris midnight", "2026-01-09T22:59:59Z"),
        ("paris midnight", "2026-01-09T23:00:00Z"),
        ("utc midnight", "2026-01-10T00:00:00Z"),
    ] {
        app.create(json!({"title": title, "due_at": due})).await;
    }
    app.create(json!({"title": "no due date"})).await;
    assert_eq!(
        matching(&app, "due_before=2026-01-10&tz=Europe/Paris").await,
        set(&["before paris midnight"])
    );
    assert_eq!(
        matching(&app, "tz=Europe/Paris&due_after=2026-01-10").await,
        set(&["paris midnight", "utc midnight"])
    );
    // Without `tz`, a day is UTC's.
    assert_eq!(
        matching(&app, "due_before=2026-01-10").await,
        set(&["before paris midnight", "paris midnight"])
    );
    assert_eq!(
        matching(&app, "due_after=2026-01-10&tz=America/New_York").await,
        set(&[])
    );
    // One day, spelt as a date in its zone or as its first instant: one ETag.
    let etag = |response: &reqwest::Response| response.headers()["etag"].clone();
    let by_date = app.list_raw("due_before=2026-01-10&tz=Europe/Paris").await;
    let by_instant = app.list_raw("due_before=2026-01-09T23:00:00Z").await;
    assert_eq!(etag(&by_date), etag(&by_instant));
}

#[tokio::test]
async fn completed_at_follows_the_status_and_filters_and_sorts() {
    let app = spawn_app().await;
    let open = app.create(json!({"title": "open"})).await;
    assert_eq!(open["completed_at"], Value::Null);
    let first = app
        .create(json!({"title": "first", "status": "done"}))
        .await;
    assert!(first["completed_at"].is_string(), "{first}");
    assert_eq!(first["completed_at"], first["created_at"]);
    let second = app.create(json!({"title": "second"})).await;
    let id = second["id"].as_str().unwrap();
    let done: Value = app
        .patch_task(id, &json!({"status": "done"}), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done["completed_at"], done["updated_at"]);
    // Staying done keeps the time; leaving clears it; coming back sets it anew.
    let retitled: Value = app
        .patch_task(id, &json!({"title": "second!"}), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(retitled["completed_at"], done["completed_at"]);
    let reopened: Value = app
        .patch_task(id, &json!({"status": "todo"}), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(reopened["completed_at"], Value::Null);
    let redone: Value = app
        .patch_task(id, &json!({"status": "done", "title": "second"}), None)
        .await
        .json()
        .await
        .unwrap();
    assert!(redone["completed_at"].as_str() > done["completed_at"].as_str());
    let at = redone["completed_at"].as_str().unwrap();

    assert_eq!(
        matching(&app, &format!("completed_after={at}")).await,
        set(&["second"])
    );
    assert_eq!(
        matching(&app, &format!("completed_before={at}")).await,
        set(&["first"])
    );
    assert_eq!(
        matching(&app, "completed_after=0001-01-01").await,
        set(&["first", "second"])
    );
    // Not completed counts as later than every time, as no due date does.
    assert_eq!(
        app.titles("sort=completed_at").await,
        ["first", "second", "open"]
    );
    assert_eq!(
        app.titles("sort=-completed_at").await,
        ["open", "second", "first"]
    );
    let (walked, _) = walk_by_cursor(&app, "sort=-completed_at&limit=1").await;
    assert_eq!(walked, ["open", "second", "first"]);
}

#[tokio::test]
async fn q_compares_full_case_folds() {
    let app = spawn_app().await;
    for title in ["ΟΣΑ sigma-probe", "straße", "ΟΣ"] {
        app.create_titled(title).await;
    }
    // Lower-casing a whole word makes a final `Σ` a `ς` (but `ΟΣΑ`'s `Σ` a `σ`), and
    // leaves `ß` unlike `SS`: folding treats each alike, wherever it stands.
    assert_eq!(
        matching(&app, "q=%CE%9F%CE%A3").await,
        set(&["ΟΣΑ sigma-probe", "ΟΣ"])
    );
    assert_eq!(
        matching(&app, "q=%CE%BF%CF%82").await,
        set(&["ΟΣΑ sigma-probe", "ΟΣ"])
    );
    assert_eq!(matching(&app, "q=STRASSE").await, set(&["straße"]));
    assert_eq!(matching(&app, "q=%C3%9F").await, set(&["straße"]));
}

#[tokio::test]
async fn tasks_written_before_full_case_folding_are_folded_again() {
    let database = fresh_database().await;
    let first = spawn_app_on(&database).await;
    first.create_titled("ΟΣ straße").await;
    drop(first);
    // As an older version stored it (lower-cased), and listed by its migration.
    execute_sql(
        &database.url,
        "UPDATE tasks SET title_folded = 'ος straße'; \
         INSERT INTO refold_pending (id) SELECT id FROM tasks",
    )
    .await;
    let restarted = spawn_app_on(&database).await;
    assert_eq!(matching(&restarted, "q=STRASSE").await, set(&["ΟΣ straße"]));
    assert_eq!(
        matching(&restarted, "q=%CE%BF%CF%83").await,
        set(&["ΟΣ straße"])
    );
}

#[tokio::test]
async fn every_sort_orders_as_documented() {
    let app = seeded().await;
    let cases: [(&str, &[&str]); 8] = [
        (
            "sort=created_at",
            &[
                "alpha",
                "bravo",
                "charlie",
                "delta",
                "Échelle",
                "foxtrot",
                "golf 100%_done",
            ],
        ),
        (
            "",
            &[
                "alpha",
                "bravo",
                "charlie",
                "delta",
                "Échelle",
                "foxtrot",
                "golf 100%_done",
            ],
        ),
        (
            "sort=-created_at",
            &[
                "golf 100%_done",
                "foxtrot",
                "Échelle",
                "delta",
                "charlie",
                "bravo",
                "alpha",
            ],
        ),
        // By code point: upper-case and accented letters are not folded.
        (
            "sort=title",
            &[
                "alpha",
                "bravo",
                "charlie",
                "delta",
                "foxtrot",
                "golf 100%_done",
                "Échelle",
            ],
        ),
        // Urgency order; ties (same priority) by id in the same direction.
        (
            "sort=priority",
            &[
                "alpha",
                "golf 100%_done",
                "delta",
                "foxtrot",
                "bravo",
                "Échelle",
                "charlie",
            ],
        ),
        (
            "sort=-priority",
            &[
                "charlie",
                "Échelle",
                "bravo",
                "foxtrot",
                "delta",
                "golf 100%_done",
                "alpha",
            ],
        ),
        // No due date counts as later than every date; ties by id.
        (
            "sort=due_at",
            &[
                "alpha",
                "bravo",
                "foxtrot",
                "charlie",
                "golf 100%_done",
                "delta",
                "Échelle",
            ],
        ),
        (
            "sort=-due_at",
            &[
                "Échelle",
                "delta",
                "golf 100%_done",
                "charlie",
                "foxtrot",
                "bravo",
                "alpha",
            ],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(app.titles(query).await, expected, "{query}");
    }
    // updated_at follows the last change.
    let alpha = app.list("sort=title&limit=1").await["data"][0].clone();
    app.patch_task(
        alpha["id"].as_str().unwrap(),
        &json!({"status": "done"}),
        None,
    )
    .await;
    assert_eq!(app.titles("sort=-updated_at&limit=1").await, ["alpha"]);
}

async fn walk_by_cursor(app: &TestApp, query: &str) -> (Vec<String>, Vec<u64>) {
    let mut page: Value = app.list(query).await;
    let (mut seen, mut numbers) = (titles(&page), vec![page["page"].as_u64().unwrap()]);
    while let Some(cursor) = page["next_cursor"].as_str() {
        page = app.list(&format!("{query}&cursor={cursor}")).await;
        seen.extend(titles(&page));
        numbers.push(page["page"].as_u64().unwrap());
    }
    (seen, numbers)
}

#[tokio::test]
async fn pages_and_cursors_walk_the_same_list() {
    let app = spawn_app().await;
    for i in 0..25 {
        let priority = ["low", "medium", "high"][i % 3];
        app.create(json!({"title": format!("task {i:02}"), "priority": priority}))
            .await;
    }
    for sort in [
        "created_at",
        "-created_at",
        "priority",
        "-priority",
        "title",
        "-due_at",
        "completed_at",
        "-completed_at",
    ] {
        let query = format!("sort={sort}&limit=10");
        let mut by_page = Vec::new();
        for number in 1..=3 {
            let page = app.list(&format!("{query}&page={number}")).await;
            assert_eq!(
                (page["page"].as_u64(), page["limit"].as_u64()),
                (Some(number), Some(10))
            );
            assert_eq!(
                (page["total"].as_u64(), page["total_pages"].as_u64()),
                (Some(25), Some(3))
            );
            assert_eq!(
                page["next_cursor"].is_null(),
                number == 3,
                "only the last page lacks a cursor"
            );
            by_page.extend(titles(&page));
        }
        let (by_cursor, numbers) = walk_by_cursor(&app, &query).await;
        assert_eq!(
            by_cursor, by_page,
            "{sort}: the cursor walk and the page walk agree"
        );
        assert_eq!(numbers, [1, 2, 3]);
        let (uncounted, _) = walk_by_cursor(&app, &format!("{query}&total=false")).await;
        assert_eq!(
            uncounted, by_page,
            "{sort}: the same walk without the count"
        );
        assert_eq!(
            by_cursor.iter().collect::<HashSet<_>>().len(),
            25,
            "{sort}: no task twice, none skipped"
        );
    }
    let uncounted = app.list("limit=10&total=false").await;
    assert_eq!(titles(&uncounted).len(), 10);
    assert!(
        uncounted.get("total").is_none() && uncounted.get("total_pages").is_none(),
        "total=false leaves the count out: {uncounted}"
    );
    let beyond = app.list("limit=10&page=4").await;
    assert_eq!(
        (titles(&beyond).len(), beyond["total"].as_u64()),
        (0, Some(25))
    );
}

#[tokio::test]
async fn a_cursor_survives_writes_before_its_position() {
    let app = spawn_app().await;
    for i in 0..6 {
        app.create_titled(&format!("t{i}")).await;
    }
    let first = app.list("limit=3").await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    // Deleting a task already seen shifts offsets, never a keyset.
    app.delete_task(first["data"][0]["id"].as_str().unwrap(), None)
        .await;
    assert_eq!(
        app.titles(&format!("limit=3&cursor={cursor}")).await,
        ["t3", "t4", "t5"]
    );
    assert_eq!(app.titles("limit=3&page=2").await, ["t4", "t5"]);
}

#[tokio::test]
async fn a_cursor_continues_on_every_instance_and_after_a_restart() {
    let database = fresh_database().await;
    let first = spawn_app_on(&database).await;
    for title in ["a", "b", "c"] {
        first.create_titled(title).await;
    }
    let page = first.list("sort=title&limit=1").await;
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    // Cursors are signed with a key kept in the database, so another instance on it
    // takes them, and so does any instance started later.
    let other = spawn_app_on(&database).await;
    let next = format!("sort=title&limit=1&cursor={cursor}");
    assert_eq!(other.titles(&next).await, ["b"]);
    drop((first, other));
    let restarted = spawn_app_on(&database).await;
    assert_eq!(restarted.titles(&next).await, ["b"]);
}
