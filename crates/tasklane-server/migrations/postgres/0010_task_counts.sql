-- How many tasks each workspace holds in each (status, priority, assignee), so that a
-- list filtered on those alone answers its `total` with a sum over a few rows instead
-- of a count over the tasks. Triggers keep it in every write's own transaction, whatever
-- writes the row (the store, a bulk load, an edit by hand), and remove a group when its
-- last task leaves it; the columns hold the task columns' very values (assignee NULL for
-- none), so a filter's predicate matches a group exactly when it matches each of its
-- tasks. See `store/counts.rs`.
CREATE TABLE task_counts (
    scope    TEXT COLLATE "C" NOT NULL,
    status   TEXT   NOT NULL,
    priority BIGINT NOT NULL,
    assignee TEXT,
    tasks    BIGINT NOT NULL,
    CONSTRAINT task_counts_group UNIQUE NULLS NOT DISTINCT (scope, status, priority, assignee)
);

-- One task leaves its old group (update, delete) and joins its new one (insert, update).
CREATE FUNCTION task_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE task_counts SET tasks = tasks - 1
         WHERE scope = OLD.scope AND status = OLD.status AND priority = OLD.priority
           AND assignee IS NOT DISTINCT FROM OLD.assignee;
        DELETE FROM task_counts
         WHERE scope = OLD.scope AND status = OLD.status AND priority = OLD.priority
           AND assignee IS NOT DISTINCT FROM OLD.assignee AND tasks = 0;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO task_counts (scope, status, priority, assignee, tasks)
        VALUES (NEW.scope, NEW.status, NEW.priority, NEW.assignee, 1)
        ON CONFLICT (scope, status, priority, assignee)
        DO UPDATE SET tasks = task_counts.tasks + 1;
    END IF;
    RETURN NULL;
END
$$;

-- Deferred to the commit: by then a store write holds its workspace's generation row
-- (every write advances it), so the workspace's groups are only ever locked under that
-- row's lock and two writes cannot take two groups in opposite orders (a deadlock).
CREATE CONSTRAINT TRIGGER task_counts_insert AFTER INSERT ON tasks
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION task_counts_follow();
CREATE CONSTRAINT TRIGGER task_counts_delete AFTER DELETE ON tasks
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION task_counts_follow();
CREATE CONSTRAINT TRIGGER task_counts_update AFTER UPDATE OF scope, status, priority, assignee ON tasks
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN ((OLD.scope, OLD.status, OLD.priority, OLD.assignee)
          IS DISTINCT FROM (NEW.scope, NEW.status, NEW.priority, NEW.assignee))
    EXECUTE FUNCTION task_counts_follow();

-- After the triggers: creating them locked the table against writes until this
-- migration commits, so no write falls between the count and the triggers.
INSERT INTO task_counts (scope, status, priority, assignee, tasks)
SELECT scope, status, priority, assignee, COUNT(*) FROM tasks
 GROUP BY scope, status, priority, assignee;
