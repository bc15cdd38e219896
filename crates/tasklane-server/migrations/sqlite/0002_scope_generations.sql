-- Each scope's generation, advanced inside every write transaction. In strict
-- consistency it is the generation the cache keys embed: it commits atomically with
-- the write it counts, so it can never run ahead of or behind the data.
CREATE TABLE scope_generations (
    scope      TEXT    NOT NULL PRIMARY KEY,
    generation INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
