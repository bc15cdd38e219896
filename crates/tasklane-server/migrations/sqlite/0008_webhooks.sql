-- Webhook endpoints and their delivery state. `position` is the `seq` of the last change
-- of the workspace's log the endpoint has handled (delivered, or skipped as not matching
-- its events); the sender delivers the changes after it, in order. `secret` and
-- `previous_secret` are signing secrets, sealed under the server key when one is
-- configured ('sealed:...') and stored as given otherwise ('whsec_...'). A sender holds
-- `lease_owner` until `lease_until` (microseconds); an expired lease is anyone's to take.
-- `config_version` grows with every change of the endpoint's settings, so a sender
-- notices one at its next renewal.
CREATE TABLE webhooks (
    id               TEXT    NOT NULL PRIMARY KEY,
    workspace        TEXT    NOT NULL,
    url              TEXT    NOT NULL,
    events           TEXT    NOT NULL, -- kinds, comma-separated
    description      TEXT    NOT NULL,
    secret           TEXT    NOT NULL,
    previous_secret  TEXT,
    previous_until   INTEGER,
    status           TEXT    NOT NULL, -- 'active', 'retrying', 'paused', 'disabled'
    position         INTEGER NOT NULL,
    attempts         INTEGER NOT NULL,
    failing_since    INTEGER,
    next_attempt_at  INTEGER,
    disabled_reason  TEXT,
    skipped_after    INTEGER,
    skipped_through  INTEGER,
    config_version   INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_until      INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX webhooks_by_workspace ON webhooks (workspace, created_at);
CREATE INDEX webhooks_by_lease ON webhooks (lease_until);
-- Each endpoint's recent delivery attempts (the newest are kept).
CREATE TABLE webhook_attempts (
    id           INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    webhook_id   TEXT    NOT NULL,
    event_id     TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    seq          INTEGER,
    attempted_at INTEGER NOT NULL,
    status_code  INTEGER,
    latency_us   INTEGER NOT NULL,
    error        TEXT
) STRICT;
CREATE INDEX webhook_attempts_by_webhook ON webhook_attempts (webhook_id, id);
