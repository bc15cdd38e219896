//! Every bound the document states on a body member or a parameter, written from the
//! constant the server enforces it with: the annotations name the members and the
//! parameters, and only this table says how long or how many (the attributes of the
//! annotations take literal numbers only, which would state each bound a second time).

use utoipa::Modify;
use utoipa::Number;
use utoipa::openapi::schema::{Array, ArrayItems, Object, Schema};
use utoipa::openapi::{OpenApi, RefOr};

use super::operations;
use crate::domain::{Assignee, Description, Labels, ListQuery, LogQuery, Member, Title};
use crate::http::idempotency::MAX_KEY_LEN;

/// Writes the bounds (see the module documentation).
pub(super) struct Bounds;

/// A text's length, in characters: `(min, max)`.
type Length = (usize, usize);

/// The bounded text members of the request bodies.
const MEMBERS: [(&[&str], &str, Length); 4] = [
    (&TASK_BODIES, "title", (Title::MIN_CHARS, Title::MAX_CHARS)),
    (
        &TASK_BODIES,
        "description",
        (Description::MIN_CHARS, Description::MAX_CHARS),
    ),
    (
        &TASK_BODIES,
        "assignee",
        (Assignee::MIN_CHARS, Assignee::MAX_CHARS),
    ),
    (
        &["NewToken"],
        "member",
        (Member::MIN_CHARS, Member::MAX_CHARS),
    ),
];

/// The bodies that hold a task's members.
const TASK_BODIES: [&str; 2] = ["NewTask", "TaskPatch"];

/// One label, as a task carries it and as the `label` filter names it.
const LABEL: Length = (1, Labels::MAX_CHARS);

/// The bounded text parameters.
const TEXT_PARAMETERS: [(&str, Length); 4] = [
    ("tz", (1, ListQuery::MAX_ZONE_CHARS)),
    ("q", (0, ListQuery::MAX_TEXT_CHARS)),
    ("cursor", (0, ListQuery::MAX_CURSOR_CHARS)),
    ("Idempotency-Key", (1, MAX_KEY_LEN)),
];

/// The task list's route.
const LIST: [&str; 1] = ["/v1/tasks"];

/// The routes that read the change log.
const LOG: [&str; 3] = [
    "/v1/changes",
    "/v1/changes/stream",
    "/v1/tasks/{id}/changes",
];

/// The bounded number parameters: `(routes, name, minimum, maximum)`. A name may mean
/// another bound on another route (a list's `limit` is not a log's).
const NUMBER_PARAMETERS: [(&[&str], &str, u64, u64); 5] = [
    (&LIST, "page", 1, ListQuery::MAX_PAGE as u64),
    (&LIST, "limit", 1, ListQuery::MAX_LIMIT as u64),
    (&LOG, "limit", 1, LogQuery::MAX_LIMIT as u64),
    (&LOG, "since", 0, LogQuery::MAX_POSITION),
    (&LOG, "before", 0, LogQuery::MAX_POSITION),
];

impl Modify for Bounds {
    fn modify(&self, openapi: &mut OpenApi) {
        if let Some(components) = &mut openapi.components {
            for (bodies, member, length) in MEMBERS {
                for body in bodies {
                    if let Some(RefOr::T(Schema::Object(body))) = components.schemas.get_mut(*body)
                        && let Some(RefOr::T(Schema::Object(text))) =
                            body.properties.get_mut(member)
                    {
                        bound_text(text, length);
                    }
                }
            }
            for body in TASK_BODIES {
                if let Some(RefOr::T(Schema::Object(task))) = components.schemas.get_mut(body)
                    && let Some(RefOr::T(Schema::Array(labels))) = task.properties.get_mut("labels")
                {
                    labels.unique_items = true;
                    bound_labels(labels, Labels::MAX_COUNT);
                }
            }
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            for operation in operations(item) {
                for parameter in operation.parameters.iter_mut().flatten() {
                    let name = parameter.name.as_str();
                    match &mut parameter.schema {
                        Some(RefOr::T(Schema::Array(labels))) if name == "label" => {
                            bound_labels(labels, ListQuery::MAX_LABELS);
                        }
                        Some(RefOr::T(Schema::Array(assignees))) if name == "assignee" => {
                            bound_items(
                                assignees,
                                ListQuery::MAX_ASSIGNEES,
                                (Assignee::MIN_CHARS, Assignee::MAX_CHARS),
                            );
                        }
                        Some(RefOr::T(Schema::Object(schema))) => {
                            if let Some((_, length)) =
                                TEXT_PARAMETERS.iter().find(|(bounded, _)| *bounded == name)
                            {
                                bound_text(schema, *length);
                            }
                            if let Some((.., min, max)) =
                                NUMBER_PARAMETERS.iter().find(|(routes, bounded, ..)| {
                                    *bounded == name && routes.contains(&path.as_str())
                                })
                            {
                                schema.minimum = Some(Number::UInt(*min as usize));
                                schema.maximum = Some(Number::UInt(*max as usize));
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

/// A text of `min` to `max` characters (no lower bound stated for 0).
fn bound_text(text: &mut Object, (min, max): Length) {
    text.min_length = (min > 0).then_some(min);
    text.max_length = Some(max);
}

/// At most `max_items` labels, each a [`LABEL`].
fn bound_labels(labels: &mut Array, max_items: usize) {
    bound_items(labels, max_items, LABEL);
}

/// At most `max_items` texts, each of `length`.
fn bound_items(items: &mut Array, max_items: usize, length: Length) {
    items.max_items = Some(max_items);
    if let ArrayItems::RefOrSchema(item) = &mut items.items
        && let RefOr::T(Schema::Object(text)) = item.as_mut()
    {
        bound_text(text, length);
    }
}
