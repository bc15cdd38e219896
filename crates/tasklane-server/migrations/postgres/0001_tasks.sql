-- The same tables as the SQLite store (see migrations/sqlite), so the shared SQL runs
-- unchanged. Times are microseconds since the Unix epoch (UTC); priority is its rank
-- (0 = low .. 3 = urgent). Identifiers and titles use the "C" collation: they sort by
-- code point, exactly as in SQLite, whatever the database's locale.
CREATE TABLE tasks (
    id                 TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    scope              TEXT COLLATE "C" NOT NULL,
    title              TEXT COLLATE "C" NOT NULL,
    description        TEXT   NOT NULL,
    status             TEXT   NOT NULL,
    priority           BIGINT NOT NULL,
    assignee           TEXT,
    labels             TEXT   NOT NULL, -- JSON array, in the order given
    due_at             BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    version            BIGINT NOT NULL,
    title_folded       TEXT   NOT NULL,
    description_folded TEXT   NOT NULL,
    due_sort           BIGINT NOT NULL GENERATED ALWAYS AS (COALESCE(due_at, 9223372036854775807)) STORED
);

CREATE INDEX tasks_by_created  ON tasks (scope, created_at, id);
CREATE INDEX tasks_by_updated  ON tasks (scope, updated_at, id);
CREATE INDEX tasks_by_due      ON tasks (scope, due_sort, id);
CREATE INDEX tasks_by_priority ON tasks (scope, priority, id);
CREATE INDEX tasks_by_title    ON tasks (scope, title, id);
CREATE INDEX tasks_by_status   ON tasks (scope, status);
CREATE INDEX tasks_by_assignee ON tasks (scope, assignee);

CREATE TABLE task_labels (
    scope   TEXT COLLATE "C" NOT NULL,
    label   TEXT COLLATE "C" NOT NULL,
    task_id TEXT COLLATE "C" NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    PRIMARY KEY (scope, label, task_id)
);
CREATE INDEX task_labels_by_task ON task_labels (task_id);

-- Each scope's generation, advanced inside every write transaction (strict consistency
-- reads it before each query).
CREATE TABLE scope_generations (
    scope      TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    generation BIGINT NOT NULL
);
