//! Task ids as people type them: any unique prefix of the id (hyphens optional, any
//! case), as git takes commits; and the short ids the client prints.
//!
//! The API has no prefix search, so resolving a prefix reads the workspace's tasks, a
//! page of 100 per request (a whole id is used as it is, without a read). Ids are
//! UUIDv7: their first twelve digits are their creation time in milliseconds, so the
//! tasks whose ids share a long prefix are those created at about the same time, and a
//! short id only needs to differ from its neighbours in time.

use tasklane_client::Api;
use tasklane_server::domain::{Task, TaskId};

use super::Failure;
use super::output::printable;

/// No short id is shorter than this many characters: the twelve digits of the creation
/// time and their hyphen, so that a short id printed once stays unique (only a task
/// created in the same millisecond could share it later).
const MIN_SHORT: usize = 13;

/// The most candidates an ambiguous id lists.
const MAX_CANDIDATES: usize = 10;

/// The query that reads every task, by the order ids are in.
pub const EVERY_TASK: &str = "sort=created_at&limit=100&total=false";

/// An id's comparable form: hex digits only, lower case.
fn digits(text: &str) -> String {
    text.chars()
        .filter(|c| *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The task `given` names, among `tasks`: the one whose id starts with it.
pub fn pick<'t>(
    given: &str,
    tasks: impl IntoIterator<Item = &'t Task>,
) -> Result<&'t Task, Failure> {
    let wanted = digits(given);
    if wanted.is_empty() || wanted.len() > 32 || !wanted.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Failure::Usage(format!(
            "`{given}` is not a task id or the start of one (up to 32 hexadecimal digits)"
        )));
    }
    let matches: Vec<&Task> = tasks
        .into_iter()
        .filter(|task| digits(&task.id.to_string()).starts_with(&wanted))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(Failure::Refused(format!(
            "no task has an id starting with `{given}`"
        ))),
        many => {
            let ids: Vec<String> = many.iter().map(|t| t.id.to_string()).collect();
            let short = shortest(&ids);
            let mut candidates: Vec<String> = many
                .iter()
                .zip(short)
                .take(MAX_CANDIDATES)
                .map(|(task, short)| format!("  {short}  {}", printable(&task.title)))
                .collect();
            if many.len() > MAX_CANDIDATES {
                candidates.push(format!("  ... and {} more", many.len() - MAX_CANDIDATES));
            }
            Err(Failure::Usage(format!(
                "`{given}` is ambiguous: {} tasks have ids starting with it:\n{}",
                many.len(),
                candidates.join("\n")
            )))
        }
    }
}

/// The id of the task `given` names: a whole id as it is, else the one task whose id
/// starts with it.
pub async fn resolve(api: &Api, given: &str) -> Result<TaskId, Failure> {
    if let Ok(id) = given.parse::<TaskId>() {
        return Ok(id);
    }
    let tasks = api.list_all(EVERY_TASK).await?;
    Ok(pick(given, &tasks)?.id)
}

/// The shortest prefix of each id (at least [`MIN_SHORT`] characters, never cut at a
/// hyphen) that none of the others starts with.
pub fn shortest(ids: &[String]) -> Vec<String> {
    let mut sorted: Vec<&str> = ids.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    ids.iter()
        .map(|id| {
            // The closest ids in order are the ones it shares the longest prefix with.
            let at = sorted.binary_search(&id.as_str()).unwrap_or(0);
            let shared = [at.checked_sub(1), Some(at + 1)]
                .into_iter()
                .flatten()
                .filter_map(|n| sorted.get(n))
                .filter(|other| **other != id)
                .map(|other| common(id, other))
                .max()
                .unwrap_or(0);
            let mut length = (shared + 1).max(MIN_SHORT).min(id.len());
            if id[..length].ends_with('-') {
                length += 1;
            }
            id[..length.min(id.len())].to_owned()
        })
        .collect()
}

/// How many leading characters two texts share.
fn common(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_are_unique_prefixes_of_at_least_the_creation_time() {
        let ids = [
            "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
            "0193a1b2-c3d4-7e5f-8a9c-0c1d2e3f4a5b",
            "0193a1b9-0000-7000-8000-000000000000",
            "ffffffff-0000-7000-8000-000000000000",
        ]
        .map(str::to_owned);
        assert_eq!(
            shortest(&ids),
            [
                "0193a1b2-c3d4-7e5f-8a9b",
                "0193a1b2-c3d4-7e5f-8a9c",
                "0193a1b9-0000",
                "ffffffff-0000"
            ]
        );
        assert_eq!(shortest(&ids[3..]), ["ffffffff-0000"]);
    }

    fn task(id: &str) -> Task {
        serde_json::from_value(serde_json::json!({
            "id": id, "title": format!("task {id}"), "description": "", "status": "todo",
            "priority": "medium", "assignee": null, "labels": [], "due_at": null,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
            "completed_at": null, "version": 1
        }))
        .unwrap()
    }

    #[test]
    fn a_prefix_names_one_task_or_says_which_it_could_be() {
        let tasks = [
            task("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
            task("0193a1b2-c3d4-7e5f-8a9c-0c1d2e3f4a5b"),
        ];
        assert_eq!(
            pick("0193A1B2C3D47E5F8A9B", &tasks).unwrap().id,
            tasks[0].id
        );
        let ambiguous = pick("0193a1b2-c3", &tasks).unwrap_err();
        assert_eq!(ambiguous.exit_status(), super::super::EXIT_USAGE);
        let message = ambiguous.to_string();
        assert!(message.contains("0193a1b2-c3d4-7e5f-8a9b"), "{message}");
        assert!(message.contains("0193a1b2-c3d4-7e5f-8a9c"), "{message}");
        assert!(pick("abc", &tasks).is_err());
        assert_eq!(pick("xyz", &tasks).unwrap_err().exit_status(), 2);
    }
}
