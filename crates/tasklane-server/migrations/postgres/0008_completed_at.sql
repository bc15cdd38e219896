-- When a task entered `done` (microseconds, UTC), null while it is not done. Tasks done
-- before the column existed take their last change as the best time known.
ALTER TABLE tasks ADD COLUMN completed_at BIGINT;
UPDATE tasks SET completed_at = updated_at WHERE status = 'done';
-- Not completed sorts after every completed task, in both directions of the keyset, as
-- `due_sort` does for due dates.
ALTER TABLE tasks ADD COLUMN completed_sort BIGINT NOT NULL GENERATED ALWAYS AS (COALESCE(completed_at, 9223372036854775807)) STORED;
CREATE INDEX tasks_by_completed ON tasks (scope, completed_sort, id);
