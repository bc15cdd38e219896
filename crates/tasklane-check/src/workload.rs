//! The operations clients send: a configurable mix of creates, updates, deletes, single
//! reads and filtered list reads (complete pages, numbered pages and keyset walks),
//! over a small shared set of tasks so that reads and writes meet often.

use std::str::FromStr;
use std::sync::Mutex;

use crate::client::Target;
use crate::history::{Filter, Outcome, Request};

const STATUSES: [&str; 4] = ["todo", "in_progress", "blocked", "done"];
const ASSIGNEES: [Option<&str>; 3] = [None, Some("ana"), Some("bo")];
/// Creates give way to updates above this many live tasks, so lists stay within one
/// complete page (the API's largest `limit` is 100).
const MAX_LIVE: usize = 40;

/// Relative weights of each kind of operation (`create=10,update=30,...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    /// `POST /v1/tasks`.
    pub create: u32,
    /// `PATCH /v1/tasks/{id}`.
    pub update: u32,
    /// `DELETE /v1/tasks/{id}`.
    pub delete: u32,
    /// `GET /v1/tasks/{id}`.
    pub get: u32,
    /// `GET /v1/tasks?...`.
    pub list: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            create: 10,
            update: 25,
            delete: 5,
            get: 20,
            list: 40,
        }
    }
}

impl std::fmt::Display for Mix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "create={},update={},delete={},get={},list={}",
            self.create, self.update, self.delete, self.get, self.list
        )
    }
}

impl FromStr for Mix {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut mix = Mix {
            create: 0,
            update: 0,
            delete: 0,
            get: 0,
            list: 0,
        };
        for part in text.split(',') {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}`: expected NAME=WEIGHT"))?;
            let weight: u32 = weight
                .trim()
                .parse()
                .map_err(|_| format!("`{part}`: the weight must be a whole number"))?;
            let slot = match name.trim() {
                "create" => &mut mix.create,
                "update" => &mut mix.update,
                "delete" => &mut mix.delete,
                "get" => &mut mix.get,
                "list" => &mut mix.list,
                other => {
                    return Err(format!(
                        "unknown operation `{other}` (create, update, delete, get, list)"
                    ));
                }
            };
            *slot = weight;
        }
        if mix.create + mix.update + mix.delete + mix.get + mix.list == 0 {
            return Err("every weight is 0".to_owned());
        }
        Ok(mix)
    }
}

/// The tasks whose creation was acknowledged and which no client has started to delete.
#[derive(Debug, Default)]
pub struct LiveTasks(Mutex<Vec<String>>);

impl LiveTasks {
    /// Notes the outcome of an operation: an acknowledged create adds a task.
    pub fn record(&self, outcome: &Outcome, request: &Request) {
        if let (Request::Create { .. }, Outcome::Written { task, .. }) = (request, outcome) {
            self.0.lock().expect("not poisoned").push(task.id.clone());
        }
    }

    fn len(&self) -> usize {
        self.0.lock().expect("not poisoned").len()
    }

    fn pick(&self, rng: &mut fastrand::Rng) -> Option<String> {
        let live = self.0.lock().expect("not poisoned");
        (!live.is_empty()).then(|| live[rng.usize(..live.len())].clone())
    }

    /// Takes a task out, so no other client picks it for deletion too.
    fn take(&self, rng: &mut fastrand::Rng) -> Option<String> {
        let mut live = self.0.lock().expect("not poisoned");
        if live.is_empty() {
            return None;
        }
        let index = rng.usize(..live.len());
        Some(live.swap_remove(index))
    }
}

/// What the next operation of a client is.
pub enum Step {
    /// Send this request.
    One(Request),
    /// Walk a filtered list page by page with its cursors (up to three pages).
    Walk {
        /// The first page's query; the next pages add `cursor=...`.
        query: String,
        /// Its filters.
        filter: Filter,
    },
}

/// Picks the next operation by the mix's weights.
pub fn next_step(mix: &Mix, live: &LiveTasks, target: &Target, rng: &mut fastrand::Rng) -> Step {
    let total = mix.create + mix.update + mix.delete + mix.get + mix.list;
    let mut roll = rng.u32(..total);
    let mut pick = |weight: u32| {
        let hit = roll < weight;
        roll = roll.saturating_sub(weight);
        hit
    };
    let few = live.len() < 3;
    if (pick(mix.create) && live.len() < MAX_LIVE) || (few && mix.create > 0) {
        return Step::One(Request::Create {
            status: pick_status(rng),
            assignee: pick_assignee(rng),
        });
    }
    if pick(mix.update) {
        if let Some(id) = live.pick(rng) {
            return Step::One(Request::Update {
                id,
                status: pick_status(rng),
                assignee: pick_assignee(rng),
            });
        }
    } else if pick(mix.delete) {
        if let Some(id) = live.take(rng) {
            return Step::One(Request::Delete { id });
        }
    } else if pick(mix.get)
        && let Some(id) = live.pick(rng)
    {
        return Step::One(Request::Get { id });
    }
    list_step(target, rng)
}

/// One of the list reads: complete filtered pages most of the time, sometimes a
/// numbered page or a keyset walk.
fn list_step(target: &Target, rng: &mut fastrand::Rng) -> Step {
    let marker = &target.marker;
    let (conditions, filter) = match rng.u8(..6) {
        0 => (String::new(), Filter::default()),
        1 => {
            let status = pick_status(rng);
            (
                format!("&status={status}"),
                Filter {
                    statuses: vec![status],
                    ..Filter::default()
                },
            )
        }
        2 => (
            "&status=in_progress,done".to_owned(),
            Filter {
                statuses: vec!["in_progress".to_owned(), "done".to_owned()],
                ..Filter::default()
            },
        ),
        3 => (
            "&assignee=ana".to_owned(),
            Filter {
                assignees: vec!["ana".to_owned()],
                ..Filter::default()
            },
        ),
        // Nobody's tasks, alone or beside someone's: the filter that `assignee` alone
        // can never express.
        4 => match rng.bool() {
            true => (
                "&unassigned=true".to_owned(),
                Filter {
                    unassigned: true,
                    ..Filter::default()
                },
            ),
            false => (
                "&assignee=bo&unassigned=true".to_owned(),
                Filter {
                    assignees: vec!["bo".to_owned()],
                    unassigned: true,
                    ..Filter::default()
                },
            ),
        },
        _ => (
            "&status_not=done,blocked".to_owned(),
            Filter {
                excluded: vec!["done".to_owned(), "blocked".to_owned()],
                ..Filter::default()
            },
        ),
    };
    let sort = [
        "created_at",
        "-updated_at",
        "title",
        "-priority",
        "-completed_at",
    ][rng.usize(..5)];
    let base = format!("q={marker}{conditions}&sort={sort}");
    match rng.u8(..10) {
        0 => Step::One(Request::List {
            query: format!("{base}&limit=5&page=2"),
            filter,
        }),
        1 => Step::Walk {
            query: format!("{base}&limit=5"),
            filter,
        },
        _ => Step::One(Request::List {
            query: format!("{base}&limit=100"),
            filter,
        }),
    }
}

fn pick_status(rng: &mut fastrand::Rng) -> String {
    STATUSES[rng.usize(..STATUSES.len())].to_owned()
}

fn pick_assignee(rng: &mut fastrand::Rng) -> Option<String> {
    ASSIGNEES[rng.usize(..ASSIGNEES.len())].map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mix_names_weights_and_leaves_the_rest_at_zero() {
        let mix: Mix = "list=9, update=1".parse().unwrap();
        assert_eq!((mix.list, mix.update, mix.create, mix.get), (9, 1, 0, 0));
        assert_eq!(
            Mix::default().to_string().parse::<Mix>(),
            Ok(Mix::default())
        );
    }

    #[test]
    fn a_bad_mix_says_what_is_wrong() {
        for (text, error) in [
            ("read=3", "unknown operation `read`"),
            ("list", "expected NAME=WEIGHT"),
            ("list=-1", "whole number"),
            ("list=0", "every weight is 0"),
        ] {
            let got = text.parse::<Mix>().unwrap_err();
            assert!(got.contains(error), "{text}: {got}");
        }
    }
}
