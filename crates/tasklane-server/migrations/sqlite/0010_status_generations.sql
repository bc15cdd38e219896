-- Each workspace's generation partitioned by status: for every status, the row's
-- generation after the last change whose task left or entered it (0 before the first).
-- A list restricted to some statuses is cached under their partitions only, so a write
-- that moves a task between two statuses leaves the other statuses' lists warm.
ALTER TABLE scope_generations ADD COLUMN todo_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE scope_generations ADD COLUMN in_progress_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE scope_generations ADD COLUMN blocked_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE scope_generations ADD COLUMN done_generation INTEGER NOT NULL DEFAULT 0;
