-- Each workspace's change log: one row per write, appended in the write's own
-- transaction. `seq` is the value the write advanced the workspace's generation row to,
-- so it is gap-free and follows commit order (writes of one workspace serialise on that
-- row). `task` is the task as the write left it, as JSON; for a delete, the task as it
-- was deleted if it read back (kept for restore; the feed shows none). Pruned by age and count.
CREATE TABLE task_changes (
    scope   TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    kind    TEXT    NOT NULL, -- 'task.created', 'task.updated', 'task.deleted'
    task_id TEXT    NOT NULL,
    version INTEGER NOT NULL,
    task    TEXT,
    at      INTEGER NOT NULL,
    PRIMARY KEY (scope, seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX task_changes_by_task ON task_changes (scope, task_id, seq);
CREATE INDEX task_changes_by_age  ON task_changes (at);
