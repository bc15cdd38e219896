-- `title_folded` and `description_folded` were lower-cased (`str::to_lowercase`), which
-- makes a word-final `Σ` a `ς` and leaves `ß` as it is; `q` now compares full Unicode
-- case folds. SQL cannot compute that fold, so this lists the tasks written before, and
-- the server folds their text again when it opens the database (`refold_text`), deleting
-- each id once done. Deleting a task deletes its entry.
CREATE TABLE refold_pending (
    id TEXT COLLATE "C" NOT NULL PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE
);

INSERT INTO refold_pending (id) SELECT id FROM tasks;
