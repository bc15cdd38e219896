//! A list's `total`: from the `task_counts` table when the list filters only on status,
//! priority and assignee, by counting the matching tasks otherwise.
//!
//! Counting the matching tasks costs a scan of them (a filter on status or priority
//! keeps a large share of a workspace), which made an uncached counted page cost
//! some twenty uncounted ones. `task_counts` holds, for each workspace, how many tasks
//! share each (status, priority, assignee): a handful of rows, whose matching ones a
//! list sums instead.
//!
//! Why the sum is the count, exactly, always:
//!
//! - *The table is the grouping of the tasks.* The migration that made it filled it
//!   with `GROUP BY scope, status, priority, assignee` over the tasks, in the
//!   transaction that created the triggers. From then on a trigger follows every row
//!   inserted, deleted, or updated in one of those columns (whoever writes it: the
//!   store's writes, bulk loads, an upsert that meets an existing id, an edit by hand),
//!   taking the row out of its old group and into its new one in the same transaction.
//!   A group left empty is removed, so the table is exactly that `GROUP BY`.
//! - *A filter matches a group's tasks all or none.* The filters counted here test
//!   those columns only, and [`push_group_filter`] writes the same predicate text for
//!   both tables, over columns that hold the same values (`assignee` is `NULL` for no
//!   assignee in both). Any other filter (labels, dates, text) tests what no group
//!   records, so its list counts its tasks ([`grouped`] decides, and names every
//!   filter, so that a new one must be placed on one side or the other).
//! - *The page and the sum are read in one snapshot*, the list's transaction, where
//!   the triggers' changes commit with the rows they follow.
//!
//! On PostgreSQL the triggers are deferred to the commit: a store write then already
//! holds its workspace's generation row, so two writes never lock two of a workspace's
//! groups in opposite orders (see the migration).

use sqlx::{Database, QueryBuilder};

use super::sql::{Bind, push_filter, push_group_filter};
use crate::domain::{Filter, ListQuery, Workspace};

/// How many tasks `query` matches, as one integer.
pub(super) fn count<'args, DB: Database>(
    workspace: &Workspace,
    query: &ListQuery,
) -> QueryBuilder<'args, DB>
where
    String: Bind<DB>,
    i64: Bind<DB>,
{
    if !grouped(&query.filter) {
        let mut sql = QueryBuilder::new("SELECT COUNT(*) FROM tasks");
        push_filter(&mut sql, workspace, query);
        return sql;
    }
    // The cast: PostgreSQL sums `BIGINT`s into a `NUMERIC`.
    let mut sql = QueryBuilder::new(
        "SELECT CAST(COALESCE(SUM(tasks), 0) AS BIGINT) FROM task_counts WHERE scope = ",
    );
    sql.push_bind(workspace.as_str().to_owned());
    push_group_filter(&mut sql, &query.filter);
    sql
}

/// Whether `filter` tests only what `task_counts` groups tasks by.
fn grouped(filter: &Filter) -> bool {
    let Filter {
        statuses: _,
        priorities: _,
        assignees: _,
        unassigned: _,
        labels,
        due_before,
        due_after,
        completed_before,
        completed_after,
        text,
    } = filter;
    labels.is_empty()
        && due_before.is_none()
        && due_after.is_none()
        && completed_before.is_none()
        && completed_after.is_none()
        && text.is_none()
}
