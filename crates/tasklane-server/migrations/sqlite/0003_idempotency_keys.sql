-- Idempotency-Key: the first result of each keyed write, recorded in the write's own
-- transaction, replayed to retries for 24 hours.
CREATE TABLE idempotency_keys (
    scope       TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL, -- what the request was: a retry must be the same request
    task        TEXT    NOT NULL, -- the task the first attempt returned, as JSON
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) STRICT, WITHOUT ROWID;
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
