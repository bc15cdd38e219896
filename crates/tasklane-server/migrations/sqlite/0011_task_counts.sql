-- How many tasks each workspace holds in each (status, priority, assignee), so that a
-- list filtered on those alone answers its `total` with a sum over a few rows instead
-- of a count over the tasks. Triggers keep it in every write's own transaction, whatever
-- writes the row (the store, a bulk load, an edit by hand), and remove a group when its
-- last task leaves it; the columns hold the task columns' very values (assignee NULL for
-- none), so a filter's predicate matches a group exactly when it matches each of its
-- tasks. See `store/counts.rs`.
CREATE TABLE task_counts (
    scope    TEXT    NOT NULL,
    status   TEXT    NOT NULL,
    priority INTEGER NOT NULL,
    assignee TEXT,
    tasks    INTEGER NOT NULL
) STRICT;
-- Not UNIQUE: SQLite's unique indexes let NULLs repeat; the triggers, serialised by
-- SQLite's single writer, find a group before they add one.
CREATE INDEX task_counts_by_group ON task_counts (scope, status, priority, assignee);

CREATE TRIGGER task_counts_insert AFTER INSERT ON tasks
BEGIN
    UPDATE task_counts SET tasks = tasks + 1
     WHERE scope = NEW.scope AND status = NEW.status AND priority = NEW.priority
       AND assignee IS NEW.assignee;
    INSERT INTO task_counts (scope, status, priority, assignee, tasks)
    SELECT NEW.scope, NEW.status, NEW.priority, NEW.assignee, 1
     WHERE NOT EXISTS (SELECT 1 FROM task_counts
                        WHERE scope = NEW.scope AND status = NEW.status
                          AND priority = NEW.priority AND assignee IS NEW.assignee);
END;

CREATE TRIGGER task_counts_delete AFTER DELETE ON tasks
BEGIN
    UPDATE task_counts SET tasks = tasks - 1
     WHERE scope = OLD.scope AND status = OLD.status AND priority = OLD.priority
       AND assignee IS OLD.assignee;
    DELETE FROM task_counts
     WHERE scope = OLD.scope AND status = OLD.status AND priority = OLD.priority
       AND assignee IS OLD.assignee AND tasks = 0;
END;

CREATE TRIGGER task_counts_update AFTER UPDATE OF scope, status, priority, assignee ON tasks
WHEN OLD.scope IS NOT NEW.scope OR OLD.status IS NOT NEW.status
  OR OLD.priority IS NOT NEW.priority OR OLD.assignee IS NOT NEW.assignee
BEGIN
    UPDATE task_counts SET tasks = tasks - 1
     WHERE scope = OLD.scope AND status = OLD.status AND priority = OLD.priority
       AND assignee IS OLD.assignee;
    DELETE FROM task_counts
     WHERE scope = OLD.scope AND status = OLD.status AND priority = OLD.priority
       AND assignee IS OLD.assignee AND tasks = 0;
    UPDATE task_counts SET tasks = tasks + 1
     WHERE scope = NEW.scope AND status = NEW.status AND priority = NEW.priority
       AND assignee IS NEW.assignee;
    INSERT INTO task_counts (scope, status, priority, assignee, tasks)
    SELECT NEW.scope, NEW.status, NEW.priority, NEW.assignee, 1
     WHERE NOT EXISTS (SELECT 1 FROM task_counts
                        WHERE scope = NEW.scope AND status = NEW.status
                          AND priority = NEW.priority AND assignee IS NEW.assignee);
END;

INSERT INTO task_counts (scope, status, priority, assignee, tasks)
SELECT scope, status, priority, assignee, COUNT(*) FROM tasks
 GROUP BY scope, status, priority, assignee;
