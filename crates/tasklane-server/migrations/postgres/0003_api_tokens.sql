-- API tokens: each names the workspace its requests act in (the scope of its tasks) and
-- the member it was issued to. Only the SHA-256 digest of the secret is kept.
CREATE TABLE api_tokens (
    id            TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    workspace     TEXT COLLATE "C" NOT NULL,
    member        TEXT   NOT NULL,
    secret_digest TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL
);
CREATE INDEX api_tokens_by_workspace ON api_tokens (workspace, created_at);
