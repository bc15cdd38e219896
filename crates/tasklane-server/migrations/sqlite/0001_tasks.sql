-- Tasks, one row each. Times are microseconds since the Unix epoch (UTC); priority is
-- its rank (0 = low .. 3 = urgent) so that ORDER BY sorts by urgency.
CREATE TABLE tasks (
    id                 TEXT    NOT NULL PRIMARY KEY,
    scope              TEXT    NOT NULL,
    title              TEXT    NOT NULL,
    description        TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    priority           INTEGER NOT NULL,
    assignee           TEXT,
    labels             TEXT    NOT NULL, -- JSON array, in the order given
    due_at             INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    version            INTEGER NOT NULL,
    -- Lower-cased (Unicode) title and description for `q`, folded by the server so both
    -- stores match exactly the same tasks.
    title_folded       TEXT    NOT NULL,
    description_folded TEXT    NOT NULL,
    -- No due date sorts after every dated task, in both directions of the keyset.
    due_sort           INTEGER NOT NULL GENERATED ALWAYS AS (COALESCE(due_at, 9223372036854775807)) VIRTUAL
) STRICT;

-- One index per sort order, each led by the scope and ending with the id tie-breaker so
-- a keyset page is one index range scan.
CREATE INDEX tasks_by_created  ON tasks (scope, created_at, id);
CREATE INDEX tasks_by_updated  ON tasks (scope, updated_at, id);
CREATE INDEX tasks_by_due      ON tasks (scope, due_sort, id);
CREATE INDEX tasks_by_priority ON tasks (scope, priority, id);
CREATE INDEX tasks_by_title    ON tasks (scope, title, id);
CREATE INDEX tasks_by_status   ON tasks (scope, status);
CREATE INDEX tasks_by_assignee ON tasks (scope, assignee);

-- Labels again, one row per (task, label), for the `label` filter.
CREATE TABLE task_labels (
    scope   TEXT NOT NULL,
    label   TEXT NOT NULL,
    task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    PRIMARY KEY (scope, label, task_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX task_labels_by_task ON task_labels (task_id);
