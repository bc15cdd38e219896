-- Each workspace's change log: one row per write, appended in the write's own
-- transaction. `seq` is the value the write advanced the workspace's generation row to,
-- so it is gap-free and follows commit order (writes of one workspace serialise on that
-- row's lock, held to commit). `task` is the task as the write left it, as JSON; for a
-- delete, the task as it was deleted (kept for restore; the feed shows none). Pruned by
-- age and count.
CREATE TABLE task_changes (
    scope   TEXT COLLATE "C" NOT NULL,
    seq     BIGINT NOT NULL,
    kind    TEXT   NOT NULL, -- 'task.created', 'task.updated', 'task.deleted'
    task_id TEXT COLLATE "C" NOT NULL,
    version BIGINT NOT NULL,
    task    TEXT,
    at      BIGINT NOT NULL,
    PRIMARY KEY (scope, seq)
);
CREATE INDEX task_changes_by_task ON task_changes (scope, task_id, seq);
CREATE INDEX task_changes_by_age  ON task_changes (at);
