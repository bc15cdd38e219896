//! List queries: parsing `GET /v1/tasks` parameters into one canonical, valid value, and
//! shaping the page that answers it.
//!
//! The canonical form matters twice: it is what the cache key and the list ETag are
//! hashed from (so `?status=done,todo&limit=20` and `?status=todo,done` share one entry),
//! and its fingerprint ties a cursor to the query that issued it.
//!
//! Every parameter is bounded in number and size (the `MAX_*` constants below, which
//! the API reference and the OpenAPI document state), and every text it holds is
//! checked as the matching task member is, NUL included, so that no value reaches the
//! database that it would refuse or that would cost it more than a bounded query.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::cursor::{Cursor, CursorKey, SortValue};
use super::task::parse_variant;
use super::{Assignee, Labels, Priority, Status, Task, Timestamp, UnreadableTask};

/// A query parameter that is unknown, repeated or holds a bad value (a `400`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query parameter `{parameter}`: {message}")]
pub struct QueryError {
    /// The offending parameter.
    pub parameter: String,
    /// What is wrong with it.
    pub message: String,
}

pub(super) fn invalid(parameter: &str, message: impl Into<String>) -> QueryError {
    QueryError {
        parameter: parameter.to_owned(),
        message: message.into(),
    }
}

/// Which tasks a list contains. Every condition must hold.
///
/// The members added after the first release are left out of the canonical form while
/// they are unset, so a query that does not use them keeps the cache key, the ETag and
/// the cursors it had.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Filter {
    /// `status` and `status_not`: any of these (empty: any status). `status_not` is
    /// folded in as the statuses it leaves, so both spellings of one set share a cache
    /// entry.
    pub statuses: BTreeSet<Status>,
    /// `priority`: any of these (empty: any priority).
    pub priorities: BTreeSet<Priority>,
    /// `assignee`: any of these assignees (empty: any assignee, or none).
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub assignees: BTreeSet<String>,
    /// `unassigned`: whether tasks with no assignee match. Alone, `true` lists only
    /// them and `false` only assigned tasks; beside `assignee`, `true` adds them (and
    /// `false`, which `assignee` already implies, is normalised away).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unassigned: Option<bool>,
    /// `label`: every one of these labels.
    pub labels: BTreeSet<String>,
    /// `due_before`: due strictly before this instant (tasks with no due date never match).
    pub due_before: Option<Timestamp>,
    /// `due_after`: due at or after this instant (tasks with no due date never match).
    pub due_after: Option<Timestamp>,
    /// `completed_before`: completed strictly before this instant (tasks not done never
    /// match).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_before: Option<Timestamp>,
    /// `completed_after`: completed at or after this instant (tasks not done never match).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_after: Option<Timestamp>,
    /// `q`, case-folded ([`fold_case`]): a substring of the folded title or description.
    pub text: Option<String>,
}

/// The fields a list can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// Creation time (the default).
    CreatedAt,
    /// Time of the last change.
    UpdatedAt,
    /// Due time; no due date counts as later than every date (last when ascending,
    /// first when descending).
    DueAt,
    /// Urgency: low < medium < high < urgent.
    Priority,
    /// Title, by Unicode code point.
    Title,
    /// Completion time; a task not done counts as later than every time, as for
    /// [`SortKey::DueAt`].
    CompletedAt,
}

impl SortKey {
    /// Where a task with no due date stands in the `due_at` order: as the latest time
    /// there is, after every date. The stores sort by this value (their `due_sort`
    /// column), and a cursor continues from it. A task not completed stands there in
    /// the `completed_at` order too (`completed_sort`).
    pub const NO_DUE_DATE: i64 = i64::MAX;

    /// Whether `value` is of the kind this key orders by (a title's text, or a number).
    fn holds(self, value: &SortValue) -> bool {
        matches!(
            (self, value),
            (SortKey::Title, SortValue::Text(_))
                | (
                    SortKey::CreatedAt
                        | SortKey::UpdatedAt
                        | SortKey::DueAt
                        | SortKey::Priority
                        | SortKey::CompletedAt,
                    SortValue::Int(_)
                )
        )
    }
}

/// A sort order: a key and a direction; ties are broken by id in the same direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sort {
    /// What to order by.
    pub key: SortKey,
    /// `-key` in the query.
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Sort {
            key: SortKey::CreatedAt,
            descending: false,
        }
    }
}

/// Where in the ordered list a page starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// `page=N`: skip `(N - 1) * limit` tasks.
    Page(u32),
    /// `cursor=...`: the tasks strictly after a known one (keyset pagination).
    After(Cursor),
}

/// A valid, normalised `GET /v1/tasks` query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListQuery {
    /// Which tasks.
    pub filter: Filter,
    /// In what order.
    pub sort: Sort,
    /// How many per page (1 to [`ListQuery::MAX_LIMIT`]).
    pub limit: u32,
    /// Which page.
    pub position: Position,
    /// Whether the page says how many tasks match in all (`total`, `total_pages`).
    /// Counting reads every match, so it costs far more than the page itself on a
    /// large workspace; `total=false` skips it.
    pub counts_total: bool,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            filter: Filter::default(),
            sort: Sort::default(),
            limit: ListQuery::DEFAULT_LIMIT,
            position: Position::Page(1),
            counts_total: true,
        }
    }
}

impl Filter {
    /// Narrows the statuses to those not in `excluded` (`status_not`); refuses a query
    /// that leaves none, which could never match anything.
    fn exclude(&mut self, excluded: &BTreeSet<Status>) -> Result<(), QueryError> {
        if excluded.is_empty() {
            return Ok(());
        }
        let from: BTreeSet<Status> = if self.statuses.is_empty() {
            Status::ALL.into_iter().collect()
        } else {
            std::mem::take(&mut self.statuses)
        };
        self.statuses = from.difference(excluded).copied().collect();
        if self.statuses.is_empty() {
            return Err(invalid(
                "status_not",
                "excludes every status the query allows, so nothing could match",
            ));
        }
        Ok(())
    }
}

impl ListQuery {
    /// The parameters that may be given more than once.
    const REPEATABLE: [&str; 2] = ["label", "assignee"];

    /// Every parameter `GET /v1/tasks` understands.
    pub const PARAMETERS: [&str; 17] = [
        "status",
        "status_not",
        "priority",
        "assignee",
        "unassigned",
        "label",
        "due_before",
        "due_after",
        "completed_before",
        "completed_after",
        "tz",
        "q",
        "sort",
        "page",
        "limit",
        "cursor",
        "total",
    ];
    /// Page size when `limit` is not given.
    pub const DEFAULT_LIMIT: u32 = 20;
    /// Largest page size.
    pub const MAX_LIMIT: u32 = 100;
    /// Largest page number (the largest 32-bit signed integer, as the OpenAPI document
    /// declares it).
    pub const MAX_PAGE: u32 = i32::MAX as u32;
    /// Longest `q`, in characters.
    pub const MAX_TEXT_CHARS: usize = 200;
    /// Most `label` parameters: a task carries at most [`Labels::MAX_COUNT`] labels, so a
    /// filter requiring more could never match.
    pub const MAX_LABELS: usize = Labels::MAX_COUNT;
    /// Most values in a `status` or `priority` list: as many as there are of either,
    /// so a longer list only repeats one.
    pub const MAX_CHOICES: usize = if Status::ALL.len() > Priority::BY_RANK.len() {
        Status::ALL.len()
    } else {
        Priority::BY_RANK.len()
    };
    /// Longest `cursor`, in characters (every cursor this server issues is shorter).
    pub const MAX_CURSOR_CHARS: usize = Cursor::MAX_CHARS;
    /// Most `assignee` parameters.
    pub const MAX_ASSIGNEES: usize = 20;
    /// Longest `tz`, in characters (the longest IANA time zone name has 32).
    pub const MAX_ZONE_CHARS: usize = 64;
    /// The parameters that take a date as well as an instant.
    const BOUNDS: [&str; 4] = [
        "due_before",
        "due_after",
        "completed_before",
        "completed_after",
    ];

    /// Parses a raw query string (`status=todo,done&label=a&label=b&sort=-due_at`); a
    /// `cursor` is taken only if `key` signed it.
    ///
    /// Unknown parameters, repeated parameters (but `label`), empty values and bad values
    /// are all refused, naming the parameter: a typo must not silently widen a filter.
    pub fn parse(raw: &str, key: &CursorKey) -> Result<ListQuery, QueryError> {
        let mut query = ListQuery::default();
        let mut seen = BTreeSet::new();
        let mut page = None;
        let mut cursor = None;
        let mut labels = 0;
        let mut assignees = 0;
        let mut excluded = BTreeSet::new();
        let mut zone = None;
        // Bounds are resolved once the whole query is read: a date needs `tz`, which
        // may come after it.
        let mut bounds: Vec<(String, String)> = Vec::new();
        for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
            let name = name.as_ref();
            if !Self::PARAMETERS.contains(&name) {
                return Err(invalid(
                    name,
                    format!("unknown parameter; known: {}", Self::PARAMETERS.join(", ")),
                ));
            }
            if !Self::REPEATABLE.contains(&name) && !seen.insert(name.to_owned()) {
                return Err(invalid(name, "given more than once"));
            }
            if value.is_empty() {
                return Err(invalid(name, "must not be empty"));
            }
            let value = value.into_owned();
            let filter = &mut query.filter;
            match name {
                "status" => filter.statuses = parse_list(name, &value)?,
                "status_not" => excluded = parse_list(name, &value)?,
                "priority" => filter.priorities = parse_list(name, &value)?,
                "assignee" => {
                    // Counted as given, like labels: the documented bound is on the
                    // parameter's repetitions, whether or not they repeat a name.
                    assignees += 1;
                    if assignees > Self::MAX_ASSIGNEES {
                        return Err(invalid(
                            name,
                            format!("at most {} assignees", Self::MAX_ASSIGNEES),
                        ));
                    }
                    let assignee = Assignee::try_from(value).map_err(|m| invalid(name, m))?;
                    filter.assignees.insert(assignee.into_inner());
                }
                "unassigned" => filter.unassigned = Some(parse_bool(name, &value)?),
                "tz" => zone = Some(parse_zone(name, &value)?),
                "label" => {
                    labels += 1;
                    if labels > Self::MAX_LABELS {
                        return Err(invalid(
                            name,
                            format!(
                                "at most {} labels (a task carries no more, so more could never match)",
                                Self::MAX_LABELS
                            ),
                        ));
                    }
                    let label = Labels::check_one(value).map_err(|m| invalid(name, m))?;
                    filter.labels.insert(label);
                }
                name if Self::BOUNDS.contains(&name) => bounds.push((name.to_owned(), value)),
                "q" => filter.text = Some(parse_text(name, &value)?),
                "sort" => query.sort = parse_sort(name, &value)?,
                "page" => page = Some(parse_number(name, &value, 1, Self::MAX_PAGE)?),
                "limit" => query.limit = parse_number(name, &value, 1, Self::MAX_LIMIT)?,
                "cursor" if value.chars().count() > Self::MAX_CURSOR_CHARS => {
                    return Err(invalid(
                        name,
                        format!(
                            "longer than any cursor this server issues (at most {} characters)",
                            Self::MAX_CURSOR_CHARS
                        ),
                    ));
                }
                "cursor" => cursor = Some(value),
                "total" => query.counts_total = parse_bool(name, &value)?,
                _ => unreachable!("every known parameter is matched above"),
            }
        }
        let zone = zone.unwrap_or(jiff::tz::TimeZone::UTC);
        for (name, value) in bounds {
            let at = Some(parse_bound(&name, &value, &zone)?);
            let filter = &mut query.filter;
            match name.as_str() {
                "due_before" => filter.due_before = at,
                "due_after" => filter.due_after = at,
                "completed_before" => filter.completed_before = at,
                "completed_after" => filter.completed_after = at,
                _ => unreachable!("every bound is matched above"),
            }
        }
        query.filter.exclude(&excluded)?;
        if !query.filter.assignees.is_empty() && query.filter.unassigned == Some(false) {
            query.filter.unassigned = None;
        }
        query.position = match (page, cursor) {
            (Some(_), Some(_)) => return Err(invalid("cursor", "cannot be combined with `page`")),
            (Some(page), None) => Position::Page(page),
            (None, None) => Position::Page(1),
            (None, Some(text)) => Position::After(query.continued(&text, key)?),
        };
        Ok(query)
    }

    /// The cursor `text` holds, if `key` signed it for this query and each of its values
    /// is one the database takes for this query's sort.
    fn continued(&self, text: &str, key: &CursorKey) -> Result<Cursor, QueryError> {
        let foreign = || invalid("cursor", "not a cursor this server issued");
        let cursor = Cursor::decode(text, key).ok_or_else(foreign)?;
        if cursor.fingerprint != self.fingerprint() {
            return Err(invalid(
                "cursor",
                "belongs to a different query; keep the filters, sort and limit that issued it",
            ));
        }
        let nul_free = |text: &str| !text.contains('\0');
        let text_ok = match &cursor.key {
            SortValue::Text(title) => nul_free(title),
            SortValue::Int(_) => true,
        };
        if !self.sort.key.holds(&cursor.key) || !text_ok || !nul_free(&cursor.id) || cursor.page < 2
        {
            return Err(foreign());
        }
        Ok(cursor)
    }

    /// The canonical text of this query: equal for every spelling of the same query.
    /// Cache keys and ETags are derived from it.
    pub fn canonical(&self) -> String {
        serde_json::to_string(self).expect("a query always serialises")
    }

    /// The page number this query asks for.
    pub fn page(&self) -> u32 {
        match &self.position {
            Position::Page(page) => *page,
            Position::After(cursor) => cursor.page,
        }
    }

    /// Identifies what a cursor may continue: the filters, sort and limit (not the page).
    fn fingerprint(&self) -> String {
        let basis =
            serde_json::to_vec(&(&self.filter, &self.sort, self.limit)).expect("serialises");
        hex::encode(&Sha256::digest(basis)[..8])
    }
}

fn parse_list<T: Ord + for<'de> Deserialize<'de>>(
    name: &str,
    value: &str,
) -> Result<BTreeSet<T>, QueryError> {
    if value.split(',').count() > ListQuery::MAX_CHOICES {
        return Err(invalid(
            name,
            format!("at most {} values", ListQuery::MAX_CHOICES),
        ));
    }
    value
        .split(',')
        .map(|item| parse_variant(item).map_err(|m| invalid(name, m)))
        .collect()
}

/// A bound on a time: an RFC 3339 instant, or a date (`2026-12-01`) meaning the first
/// instant of that day in `zone` (midnight, or the first time that exists when a
/// transition skips midnight).
fn parse_bound(
    name: &str,
    value: &str,
    zone: &jiff::tz::TimeZone,
) -> Result<Timestamp, QueryError> {
    if value.len() > 10 || value.contains('T') || value.contains('t') {
        return Timestamp::parse(value).map_err(|m| invalid(name, m));
    }
    let date: jiff::civil::Date = value.parse().map_err(|_| {
        invalid(
            name,
            format!("`{value}` is neither an RFC 3339 timestamp nor a date (YYYY-MM-DD)"),
        )
    })?;
    let out_of_range = || {
        invalid(
            name,
            format!(
                "the start of {value} in this time zone is outside the range {} to {}",
                Timestamp::MIN,
                Timestamp::MAX
            ),
        )
    };
    let start = match date.to_zoned(zone.clone()) {
        Ok(start) => start.timestamp().as_microsecond(),
        // jiff's instants end on 9999-12-30 at 22:00 UTC (leaving room for any offset),
        // before the last days a task may be due: those start at the zone's offset from
        // then on (no rule of any zone changes it later).
        Err(_) => {
            let offset = zone.to_offset(jiff::Timestamp::MAX).seconds();
            let since_epoch = date.duration_since(jiff::civil::date(1970, 1, 1));
            (since_epoch.as_secs() - i64::from(offset)) * 1_000_000
        }
    };
    Timestamp::from_micros(start).ok_or_else(out_of_range)
}

/// `tz`: an IANA time zone name (`Europe/Paris`), or `UTC`.
fn parse_zone(name: &str, value: &str) -> Result<jiff::tz::TimeZone, QueryError> {
    if value.chars().count() > ListQuery::MAX_ZONE_CHARS || value.contains('\0') {
        return Err(invalid(
            name,
            format!(
                "not a time zone name (at most {} characters, no NUL)",
                ListQuery::MAX_ZONE_CHARS
            ),
        ));
    }
    jiff::tz::TimeZone::get(value)
        .map_err(|_| invalid(name, format!("`{value}` is not an IANA time zone name")))
}

fn parse_text(name: &str, value: &str) -> Result<String, QueryError> {
    if value.chars().count() > ListQuery::MAX_TEXT_CHARS {
        return Err(invalid(
            name,
            format!("must be at most {} characters", ListQuery::MAX_TEXT_CHARS),
        ));
    }
    if value.contains('\0') {
        return Err(invalid(name, "must not contain NUL characters"));
    }
    Ok(fold_case(value))
}

/// The form `q` and the text it searches are compared in: full Unicode case folding
/// (`CaseFolding.txt`, statuses C and F), one character at a time. Unlike
/// `str::to_lowercase` it has no context-dependent rule, so `Σ` folds to `σ` wherever
/// it stands (lower-casing makes a word-final `Σ` a `ς`), `ς` folds to `σ` too, and
/// `ß` folds to `ss`. Folding a string is linear in its length, and the substring of a
/// folded text is found by folding the query: both stores compare these forms only.
pub fn fold_case(text: &str) -> String {
    unicase::UniCase::new(text).to_folded_case()
}

fn parse_bool(name: &str, value: &str) -> Result<bool, QueryError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(name, "must be `true` or `false`")),
    }
}

fn parse_sort(name: &str, value: &str) -> Result<Sort, QueryError> {
    let (descending, key) = match value.strip_prefix('-') {
        Some(key) => (true, key),
        None => (false, value),
    };
    let key = parse_variant(key).map_err(|m| invalid(name, m))?;
    Ok(Sort { key, descending })
}

fn parse_number(name: &str, value: &str, min: u32, max: u32) -> Result<u32, QueryError> {
    value
        .parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| invalid(name, format!("must be a whole number from {min} to {max}")))
}

/// One row of a list page, as the store read it.
#[derive(Debug, Clone)]
pub struct PageRow {
    /// Its sort value, as stored: a cursor after this row continues from here.
    pub key: SortValue,
    /// Its id, as stored.
    pub id: String,
    /// The task, or why the row does not read back as one.
    pub task: Result<Task, UnreadableTask>,
}

/// What a store reads for one list query, from one snapshot.
#[derive(Debug, Clone)]
pub struct StoredPage {
    /// Up to `query.limit + 1` matching rows in order from the query's position.
    pub rows: Vec<PageRow>,
    /// How many tasks match in all, if the query asked for the count.
    pub total: Option<u64>,
    /// The workspace's log position the rows reflect.
    pub seq: u64,
}

/// One page of a task list: the `PaginatedResponse` of `GET /v1/tasks`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TaskList {
    /// The tasks on this page, in order.
    pub data: Vec<Task>,
    /// Ids of the tasks on this page that are stored in a form the server cannot read
    /// back (a row edited by hand, or written by an older version): left out of `data`,
    /// counted in `total`. `GET` one for the reason; `DELETE` removes it. Absent when
    /// there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
    /// This page's number (1-based).
    pub page: u32,
    /// Page size.
    pub limit: u32,
    /// How many tasks match the filters in all; left out with `total=false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// `ceil(total / limit)`; left out with `total=false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_pages: Option<u64>,
    /// Pass as `cursor` (with the same filters, sort and limit) for the next page;
    /// null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
    /// The workspace's log position this page reflects: every change up to it, none
    /// after it (read in the same snapshot as the rows). Follow `/v1/changes` from here.
    pub seq: u64,
}

impl TaskList {
    /// Shapes a page from what the store read: up to `limit + 1` matching rows (the extra
    /// one only says that a next page exists), the total count if the query asked for
    /// it, and the log position; the next page's cursor is signed with `key`.
    ///
    /// A row that does not read back as a task is left out of `data` and named in
    /// `unreadable`: one damaged row must not take its whole workspace's lists down with
    /// it, nor vanish without a trace (a client that counts `data` against `total` would
    /// otherwise never learn why they differ). The cursor still continues after it.
    pub fn new(query: &ListQuery, stored: StoredPage, key: &CursorKey) -> TaskList {
        let StoredPage {
            mut rows,
            total,
            seq,
        } = stored;
        let limit = query.limit as usize;
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = rows.last().filter(|_| has_more).map(|last| {
            Cursor {
                page: query.page().saturating_add(1),
                key: last.key.clone(),
                id: last.id.clone(),
                fingerprint: query.fingerprint(),
            }
            .encode(key)
        });
        let (mut tasks, mut unreadable) = (Vec::new(), Vec::new());
        for row in rows {
            match row.task {
                Ok(task) => tasks.push(task),
                Err(_) => unreadable.push(row.id),
            }
        }
        TaskList {
            data: tasks,
            unreadable,
            page: query.page(),
            limit: query.limit,
            total,
            total_pages: total.map(|total| total.div_ceil(u64::from(query.limit))),
            next_cursor,
            seq,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TaskId;

    fn key() -> &'static CursorKey {
        static KEY: std::sync::OnceLock<CursorKey> = std::sync::OnceLock::new();
        KEY.get_or_init(CursorKey::generate)
    }

    fn parse(raw: &str) -> Result<ListQuery, QueryError> {
        ListQuery::parse(raw, key())
    }

    fn err(raw: &str) -> QueryError {
        parse(raw).unwrap_err()
    }

    #[test]
    fn page_numbers_stop_where_the_api_document_says() {
        assert_eq!(parse("page=2147483647").unwrap().page(), 2_147_483_647);
        assert_eq!(err("page=2147483648").parameter, "page");
    }

    #[test]
    fn defaults() {
        assert_eq!(parse("").unwrap(), ListQuery::default());
    }

    #[test]
    fn spelling_does_not_split_the_canonical_form() {
        let a = parse("status=done,todo&label=b&label=a&limit=20&sort=created_at").unwrap();
        let b = parse("label=a&status=todo,done,todo&label=b").unwrap();
        assert_eq!(a.canonical(), b.canonical());
        let c = parse("label=a&status=todo").unwrap();
        assert_ne!(a.canonical(), c.canonical());
    }

    #[test]
    fn every_parameter_is_parsed() {
        let q = parse(
            "status=in_progress&priority=high,urgent&assignee=ann&label=x&due_before=2026-02-01T00:00:00Z\
             &due_after=2026-01-01T00:00:00Z&q=R%C3%89PORT&sort=-due_at&page=3&limit=50&total=false",
        )
        .unwrap();
        assert_eq!(q.filter.statuses, BTreeSet::from([Status::InProgress]));
        assert_eq!(
            q.filter.priorities,
            BTreeSet::from([Priority::High, Priority::Urgent])
        );
        assert_eq!(q.filter.assignees, BTreeSet::from(["ann".to_owned()]));
        assert_eq!(q.filter.labels, BTreeSet::from(["x".to_owned()]));
        assert!(q.filter.due_before.is_some() && q.filter.due_after.is_some());
        assert_eq!(q.filter.text.as_deref(), Some("réport"));
        // One fold for every position: a final sigma, and `ß` against `SS`.
        assert_eq!(fold_case("ΟΣΑ ΟΣ ος"), "οσα οσ οσ");
        assert_eq!(fold_case("STRASSE Straße"), "strasse strasse");
        assert_eq!(
            q.sort,
            Sort {
                key: SortKey::DueAt,
                descending: true
            }
        );
        assert_eq!((q.page(), q.limit, q.counts_total), (3, 50, false));
    }

    #[test]
    fn status_not_is_the_statuses_it_leaves() {
        let excluded = parse("status_not=done").unwrap();
        let listed = parse("status=todo,in_progress,blocked").unwrap();
        assert_eq!(excluded.canonical(), listed.canonical(), "one cache entry");
        let both = parse("status=todo,done&status_not=done").unwrap();
        assert_eq!(both.filter.statuses, BTreeSet::from([Status::Todo]));
        let error = err("status=done&status_not=done,todo");
        assert_eq!(error.parameter, "status_not");
        assert_eq!(err("status_not=doing").parameter, "status_not");
    }

    #[test]
    fn assignees_repeat_and_unassigned_adds_or_selects() {
        let q = parse("assignee=bo&assignee=ann&unassigned=true").unwrap();
        assert_eq!(
            q.filter.assignees,
            BTreeSet::from(["ann".to_owned(), "bo".to_owned()])
        );
        assert_eq!(q.filter.unassigned, Some(true));
        // `false` beside assignees says what they already say.
        assert_eq!(
            parse("assignee=ann&unassigned=false").unwrap().canonical(),
            parse("assignee=ann").unwrap().canonical()
        );
        assert_ne!(
            parse("unassigned=false").unwrap().canonical(),
            parse("").unwrap().canonical()
        );
        // A query without the new members keeps the canonical form it always had.
        assert!(
            !parse("status=todo")
                .unwrap()
                .canonical()
                .contains("unassigned")
        );
        let many = (0..=ListQuery::MAX_ASSIGNEES)
            .map(|n| format!("assignee=a{n}"))
            .collect::<Vec<_>>();
        assert!(parse(&many[1..].join("&")).is_ok());
        assert_eq!(err(&many.join("&")).parameter, "assignee");
        let same = vec!["assignee=a"; ListQuery::MAX_ASSIGNEES + 1];
        assert!(parse(&same[1..].join("&")).is_ok());
        assert_eq!(err(&same.join("&")).parameter, "assignee");
        assert_eq!(err("unassigned=yes").parameter, "unassigned");
    }

    #[test]
    fn a_date_bound_is_the_start_of_that_day_in_the_zone() {
        let at = |raw: &str| parse(raw).unwrap().filter;
        assert_eq!(
            at("due_before=2026-12-01").due_before.unwrap().to_string(),
            "2026-12-01T00:00:00Z"
        );
        // `tz` may come after the date it applies to.
        assert_eq!(
            at("due_after=2026-12-01&tz=Europe/Paris")
                .due_after
                .unwrap()
                .to_string(),
            "2026-11-30T23:00:00Z"
        );
        // A transition that skips midnight: the day starts at 01:00 (-02:00).
        assert_eq!(
            at("tz=America/Sao_Paulo&completed_after=2015-10-18")
                .completed_after
                .unwrap()
                .to_string(),
            "2015-10-18T03:00:00Z"
        );
        assert_eq!(
            at("completed_before=2026-01-01T00:00:00%2B01:00")
                .completed_before
                .unwrap()
                .to_string(),
            "2025-12-31T23:00:00Z"
        );
        // The same instant spelt two ways is one query.
        assert_eq!(
            parse("due_before=2026-12-01&tz=Europe/Paris")
                .unwrap()
                .canonical(),
            parse("due_before=2026-11-30T23:00:00Z")
                .unwrap()
                .canonical()
        );
        assert_eq!(err("tz=Mars/Olympus").parameter, "tz");
        assert_eq!(err(&format!("tz={}", "a".repeat(65))).parameter, "tz");
        assert_eq!(err("due_before=2026-02-30").parameter, "due_before");
        assert_eq!(err("completed_after=tomorrow").parameter, "completed_after");
        // The first day in a zone ahead of UTC starts before the first instant kept.
        assert_eq!(
            err("due_after=0001-01-01&tz=Asia/Tokyo").parameter,
            "due_after"
        );
        assert!(parse("due_after=0001-01-01&tz=America/New_York").is_ok());
        // Past the instants jiff computes with, the zone's last offset still applies.
        assert_eq!(
            at("due_before=9999-12-31&tz=Etc/GMT%2B12")
                .due_before
                .unwrap()
                .to_string(),
            "9999-12-31T12:00:00Z"
        );
        assert_eq!(
            parse("sort=-completed_at").unwrap().sort,
            Sort {
                key: SortKey::CompletedAt,
                descending: true
            }
        );
    }

    #[test]
    fn bad_input_names_the_parameter() {
        assert_eq!(err("colour=red").parameter, "colour");
        assert_eq!(err("status=todo&status=done").parameter, "status");
        assert_eq!(err("status=todo,,done").parameter, "status");
        assert_eq!(err("status=doing").parameter, "status");
        assert_eq!(err("priority=").parameter, "priority");
        assert_eq!(err("limit=0").parameter, "limit");
        assert_eq!(err("limit=101").parameter, "limit");
        assert_eq!(err("page=0").parameter, "page");
        assert_eq!(err("page=-1").parameter, "page");
        assert_eq!(err("sort=colour").parameter, "sort");
        assert_eq!(err("due_before=soon").parameter, "due_before");
        assert_eq!(err(&format!("q={}", "x".repeat(201))).parameter, "q");
        assert_eq!(err("cursor=garbage").parameter, "cursor");
        assert_eq!(err("page=2&cursor=abc").parameter, "cursor");
        assert_eq!(err("total=no").parameter, "total");
    }

    #[test]
    fn every_parameter_is_bounded() {
        let labels = |n: usize| {
            (0..n)
                .map(|i| format!("label=l{i}"))
                .collect::<Vec<_>>()
                .join("&")
        };
        let q = parse(&labels(ListQuery::MAX_LABELS)).unwrap();
        assert_eq!(q.filter.labels.len(), ListQuery::MAX_LABELS);
        let error = err(&labels(ListQuery::MAX_LABELS + 1));
        assert_eq!(error.parameter, "label");
        assert!(error.message.contains(&ListQuery::MAX_LABELS.to_string()));

        assert!(parse("status=todo,in_progress,blocked,done").is_ok());
        assert!(parse("priority=low,low,low,low").is_ok());
        assert_eq!(err("status=todo,todo,todo,todo,todo").parameter, "status");
        assert_eq!(
            err("priority=low,medium,high,urgent,low").parameter,
            "priority"
        );

        let longest = "a".repeat(Assignee::MAX_CHARS);
        assert!(parse(&format!("assignee={longest}")).is_ok());
        assert_eq!(err(&format!("assignee={longest}a")).parameter, "assignee");
        assert_eq!(
            err(&format!("label={}", "a".repeat(Labels::MAX_CHARS + 1))).parameter,
            "label"
        );

        let cursor = "a".repeat(ListQuery::MAX_CURSOR_CHARS + 1);
        let error = err(&format!("cursor={cursor}"));
        assert!(error.message.contains("longer"), "{error}");
    }

    #[test]
    fn nul_is_refused_in_every_text() {
        for name in ["assignee", "label", "q"] {
            assert_eq!(err(&format!("{name}=a%00b")).parameter, name);
        }
        assert_eq!(
            err("assignee=%20").parameter,
            "assignee",
            "blank, as in a task"
        );
    }

    #[test]
    fn timestamps_are_bounded_in_utc() {
        assert!(parse("due_before=9999-12-31T23:59:59Z").is_ok());
        assert_eq!(
            err("due_before=9999-12-31T23:59:59-23:59").parameter,
            "due_before"
        );
        assert_eq!(
            err("due_after=0001-01-01T00:00:00%2B00:01").parameter,
            "due_after"
        );
    }

    fn task(title: &str, micros: i64) -> Task {
        let at = Timestamp::from_micros(micros).unwrap();
        Task {
            id: TaskId::generate(),
            title: title.to_owned(),
            description: String::new(),
            status: Status::Todo,
            priority: Priority::Medium,
            assignee: None,
            labels: vec![],
            due_at: None,
            created_at: at,
            updated_at: at,
            completed_at: None,
            version: 1,
        }
    }

    /// What a store reads: `rows`, and `total` if counted.
    fn stored(rows: Vec<PageRow>, total: Option<u64>) -> StoredPage {
        StoredPage {
            rows,
            total,
            seq: 7,
        }
    }

    /// A row as a store reads it under `sort=title`.
    fn row(task: Task) -> PageRow {
        PageRow {
            key: SortValue::Text(task.title.clone()),
            id: task.id.to_string(),
            task: Ok(task),
        }
    }

    #[test]
    fn a_cursor_continues_only_the_query_that_issued_it() {
        let query = parse("limit=2&sort=-title").unwrap();
        let rows = vec![row(task("c", 1)), row(task("b", 2)), row(task("a", 3))];
        let page = TaskList::new(&query, stored(rows, Some(3)), key());
        assert_eq!((page.data.len(), page.total_pages), (2, Some(2)));
        let cursor = page.next_cursor.expect("a third task exists");

        let next = parse(&format!("limit=2&sort=-title&cursor={cursor}")).unwrap();
        let Position::After(after) = &next.position else {
            panic!("a cursor position")
        };
        assert_eq!(
            (after.page, &after.key),
            (2, &SortValue::Text("b".to_owned()))
        );

        assert_eq!(
            err(&format!("limit=3&sort=-title&cursor={cursor}")).parameter,
            "cursor"
        );
        assert_eq!(err(&format!("limit=2&cursor={cursor}")).parameter, "cursor");
        let other_key = ListQuery::parse(
            &format!("limit=2&sort=-title&cursor={cursor}"),
            &CursorKey::generate(),
        );
        assert_eq!(other_key.unwrap_err().parameter, "cursor");
    }

    /// A cursor the server signed, for `query`, holding `key` and `id`.
    fn signed(query: &ListQuery, value: SortValue, id: &str) -> String {
        Cursor {
            page: 2,
            key: value,
            id: id.to_owned(),
            fingerprint: query.fingerprint(),
        }
        .encode(key())
    }

    #[test]
    fn even_a_signed_cursor_must_hold_values_the_database_takes() {
        let by_title = parse("sort=title").unwrap();
        let id = TaskId::generate().to_string();
        let text = |t: &str| SortValue::Text(t.to_owned());
        for (query, cursor) in [
            ("sort=title", signed(&by_title, SortValue::Int(5), &id)),
            ("sort=title", signed(&by_title, text("a\0b"), &id)),
            ("sort=title", signed(&by_title, text("a"), "x\0")),
            ("", signed(&parse("").unwrap(), text("a"), &id)),
        ] {
            let error = err(&format!("{query}&cursor={cursor}"));
            assert_eq!(error.parameter, "cursor", "{query}");
        }
        let fine = signed(&by_title, text("a"), &id);
        assert!(parse(&format!("sort=title&cursor={fine}")).is_ok());
    }

    #[test]
    fn the_last_page_has_no_cursor() {
        let query = parse("limit=2&sort=title").unwrap();
        let page = TaskList::new(
            &query,
            stored(vec![row(task("a", 1)), row(task("b", 2))], Some(2)),
            key(),
        );
        assert_eq!((page.next_cursor, page.total_pages), (None, Some(1)));
        let empty = TaskList::new(&query, stored(vec![], Some(0)), key());
        assert_eq!((empty.total_pages, empty.data.len()), (Some(0), 0));
    }

    #[test]
    fn a_cursor_continues_with_or_without_the_total() {
        let query = parse("limit=1&sort=title").unwrap();
        let rows = vec![row(task("a", 1)), row(task("b", 2))];
        let page = TaskList::new(&query, stored(rows, Some(2)), key());
        let cursor = page.next_cursor.expect("a second task exists");
        let next = parse(&format!("limit=1&sort=title&total=false&cursor={cursor}")).unwrap();
        assert_ne!(
            next.canonical(),
            query.canonical(),
            "a cache entry of its own"
        );
        let uncounted = TaskList::new(&next, stored(vec![row(task("b", 2))], None), key());
        let body = serde_json::to_value(&uncounted).unwrap();
        assert!(body.get("total").is_none() && body.get("total_pages").is_none());
    }

    #[test]
    fn an_unreadable_row_is_named_and_the_cursor_continues_after_it() {
        let query = parse("limit=2&sort=title").unwrap();
        let damaged = PageRow {
            key: SortValue::Text("b".to_owned()),
            id: "damaged-id".to_owned(),
            task: Err(UnreadableTask {
                id: "damaged-id".to_owned(),
                field: "due_at",
                reason: "is out of range".to_owned(),
            }),
        };
        let rows = vec![row(task("a", 1)), damaged, row(task("c", 3))];
        let page = TaskList::new(&query, stored(rows, Some(3)), key());
        assert_eq!(titles(&page), ["a"]);
        assert_eq!(page.unreadable, ["damaged-id"]);
        let cursor = page.next_cursor.expect("a third row exists");
        let next = parse(&format!("limit=2&sort=title&cursor={cursor}")).unwrap();
        let Position::After(after) = &next.position else {
            panic!("a cursor position")
        };
        assert_eq!(
            (after.id.as_str(), &after.key),
            ("damaged-id", &SortValue::Text("b".to_owned()))
        );

        let clean = TaskList::new(&query, stored(vec![row(task("a", 1))], Some(1)), key());
        let body = serde_json::to_value(&clean).unwrap();
        assert!(
            body.get("unreadable").is_none(),
            "absent when there are none"
        );
    }

    fn titles(page: &TaskList) -> Vec<&str> {
        page.data.iter().map(|t| t.title.as_str()).collect()
    }
}
