-- Webhook endpoints and their delivery state. `position` is the `seq` of the last change
-- of the workspace's log the endpoint has handled (delivered, or skipped as not matching
-- its events); the sender delivers the changes after it, in order. `secret` and
-- `previous_secret` are signing secrets, sealed under the server key when one is
-- configured ('sealed:...') and stored as given otherwise ('whsec_...'). A sender holds
-- `lease_owner` until `lease_until` (microseconds); an expired lease is anyone's to take.
-- `config_version` grows with every change of the endpoint's settings, so a sender
-- notices one at its next renewal.
CREATE TABLE webhooks (
    id               TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    workspace        TEXT COLLATE "C" NOT NULL,
    url              TEXT    NOT NULL,
    events           TEXT    NOT NULL, -- kinds, comma-separated
    description      TEXT    NOT NULL,
    secret           TEXT    NOT NULL,
    previous_secret  TEXT,
    previous_until   BIGINT,
    status           TEXT    NOT NULL, -- 'active', 'retrying', 'paused', 'disabled'
    position         BIGINT NOT NULL,
    attempts         BIGINT NOT NULL,
    failing_since    BIGINT,
    next_attempt_at  BIGINT,
    disabled_reason  TEXT,
    skipped_after    BIGINT,
    skipped_through  BIGINT,
    config_version   BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_until      BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX webhooks_by_workspace ON webhooks (workspace, created_at);
CREATE INDEX webhooks_by_lease ON webhooks (lease_until);
-- Each endpoint's recent delivery attempts (the newest are kept).
CREATE TABLE webhook_attempts (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id   TEXT COLLATE "C" NOT NULL,
    event_id     TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    seq          BIGINT,
    attempted_at BIGINT NOT NULL,
    status_code  BIGINT,
    latency_us   BIGINT NOT NULL,
    error        TEXT
);
CREATE INDEX webhook_attempts_by_webhook ON webhook_attempts (webhook_id, id);
