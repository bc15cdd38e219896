//! Webhook endpoints and their delivery state, in the same database as the tasks and
//! their change log.
//!
//! Besides what clients set (URL, events, description, status, secrets), a row holds
//! where delivery stands (`position`, failed attempts, the next attempt's time) and
//! who is delivering: a *lease* (`lease_owner` until `lease_until`). A sender takes
//! leases with one conditional statement ([`WebhookStore::claim`]: on PostgreSQL the
//! rows are locked `FOR UPDATE SKIP LOCKED`, so two instances claiming at once take
//! different endpoints and never wait for each other) and writes its progress only
//! while it still holds the lease ([`WebhookStore::progress`] matches on the owner).
//! So at most one sender delivers to an endpoint at a time, with no coordinator but
//! the database: an instance that dies holds its leases until they expire, then any
//! other takes them and continues from the position last written.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use super::StoreError;
use super::sql::{Bind, Runner, SqlStore};
use crate::domain::{
    Attempt, EventKinds, RequestedStatus, Skipped, Timestamp, Webhook, WebhookStatus, WebhookUrl,
    Workspace,
};

/// A webhook as stored: what clients see, and what only the server reads.
#[derive(Debug, Clone)]
pub struct StoredWebhook {
    /// What clients see.
    pub webhook: Webhook,
    /// Its workspace.
    pub workspace: Workspace,
    /// The signing secret as stored (sealed under the server key, or as issued).
    pub secret: String,
    /// The secret it replaced, still signing until `previous_until`.
    pub previous_secret: Option<String>,
    /// When the previous secret stops signing.
    pub previous_until: Option<Timestamp>,
    /// Grows with every change a client makes, so a sender notices one.
    pub config_version: i64,
}

/// A webhook to create.
#[derive(Debug)]
pub struct NewEndpoint {
    /// Its id.
    pub id: Uuid,
    /// Where deliveries go.
    pub url: WebhookUrl,
    /// What it is sent.
    pub events: EventKinds,
    /// What it is for.
    pub description: String,
    /// Its signing secret, in stored form.
    pub secret: String,
    /// Now.
    pub now: Timestamp,
}

/// What a client changes in a webhook.
#[derive(Debug)]
pub struct EndpointChange {
    /// A new URL.
    pub url: Option<WebhookUrl>,
    /// New events.
    pub events: Option<EventKinds>,
    /// A new description.
    pub description: Option<String>,
    /// Pause, or resume (from `paused` or `disabled`, with a fresh count of attempts).
    pub status: Option<RequestedStatus>,
    /// A new secret and the current one (which keeps signing until the instant given),
    /// both in stored form.
    pub rotation: Option<Rotation>,
    /// Now.
    pub now: Timestamp,
}

/// A new signing secret, and the one it replaces, which keeps signing until `until`.
#[derive(Debug)]
pub struct Rotation {
    /// The new secret, stored form.
    pub secret: String,
    /// The secret it replaces, stored form.
    pub previous: String,
    /// When the replaced secret stops signing.
    pub until: Timestamp,
}

/// What a sender writes after delivering (or failing to).
#[derive(Debug, Clone)]
pub struct Progress {
    /// The last change handled.
    pub position: u64,
    /// `Active`, `Retrying` or `Disabled` (a client's pause is never overwritten).
    pub status: WebhookStatus,
    /// Failed attempts at the next change.
    pub attempts: u32,
    /// Since when the next change has been failing.
    pub failing_since: Option<Timestamp>,
    /// When the next attempt is due.
    pub next_attempt_at: Option<Timestamp>,
    /// Why the sender disabled the webhook.
    pub disabled_reason: Option<String>,
    /// A gap retention left, if one was just met.
    pub skipped: Option<Skipped>,
    /// Keep the lease until then; `None` gives it up.
    pub lease_until: Option<Timestamp>,
}

/// One sender's progress and the attempts it made since its last report.
#[derive(Debug, Clone)]
pub struct Report {
    /// The webhook.
    pub id: Uuid,
    /// Where its delivery stands.
    pub progress: Progress,
    /// Attempts not yet written, oldest first.
    pub attempts: Vec<Attempt>,
}

/// Where webhooks are kept.
#[async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    /// Creates a webhook positioned at its workspace's latest `seq`; `None` if the
    /// workspace already has `max` webhooks.
    async fn create(
        &self,
        workspace: &Workspace,
        new: &NewEndpoint,
        max: u32,
    ) -> Result<Option<StoredWebhook>, StoreError>;

    /// Every webhook of a workspace, oldest first.
    async fn webhooks(&self, workspace: &Workspace) -> Result<Vec<StoredWebhook>, StoreError>;

    /// One webhook of a workspace.
    async fn webhook(
        &self,
        workspace: &Workspace,
        id: Uuid,
    ) -> Result<Option<StoredWebhook>, StoreError>;

    /// Applies a client's change; `NotFound` if the workspace has no such webhook.
    async fn change(
        &self,
        workspace: &Workspace,
        id: Uuid,
        change: &EndpointChange,
    ) -> Result<StoredWebhook, StoreError>;

    /// Deletes a webhook and its attempts; `NotFound` if the workspace has no such one.
    async fn remove(&self, workspace: &Workspace, id: Uuid) -> Result<(), StoreError>;

    /// The webhook's latest `limit` attempts, newest first.
    async fn attempts(&self, id: Uuid, limit: u32) -> Result<Vec<Attempt>, StoreError>;

    /// Records an attempt that moves nothing (a test event); its id.
    async fn record(&self, id: Uuid, attempt: &Attempt) -> Result<i64, StoreError>;

    /// Takes the lease, until `until`, of up to `limit` webhooks that deliver, are due
    /// and whose lease is free or expired at `now`.
    async fn claim(
        &self,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<StoredWebhook>, StoreError>;

    /// Extends, until `until`, every lease `owner` holds on a webhook that still
    /// delivers; those webhooks. A lease `owner` held and that is not returned was
    /// lost (taken over, the webhook paused, disabled or deleted).
    async fn renew(&self, owner: &str, until: Timestamp) -> Result<Vec<StoredWebhook>, StoreError>;

    /// Writes senders' progress and attempts, in one transaction, for each webhook
    /// whose lease `owner` still holds; for each report, the webhook as it now is, or
    /// `None` if the lease was lost.
    async fn progress(
        &self,
        owner: &str,
        reports: &[Report],
    ) -> Result<Vec<Option<StoredWebhook>>, StoreError>;

    /// Every webhook whose lease `owner` holds, as it now is.
    async fn held(&self, owner: &str) -> Result<Vec<StoredWebhook>, StoreError>;

    /// Forgets all but each webhook's newest [`KEPT_ATTEMPTS`] attempts; how many it
    /// forgot.
    async fn prune_attempts(&self) -> Result<u64, StoreError>;

    /// The server key's check value (a secret sealed under the key, kept in
    /// `server_secrets`): stores `proposed` if there is none yet, and returns the one
    /// kept, so that every instance of a deployment can tell it holds the same key.
    async fn key_check(&self, proposed: Option<String>) -> Result<Option<String>, StoreError>;
}

/// How many attempts each webhook keeps.
pub const KEPT_ATTEMPTS: i64 = 100;

const COLUMNS: &str = "id, workspace, url, events, description, secret, previous_secret, \
     previous_until, status, position, attempts, failing_since, next_attempt_at, \
     disabled_reason, skipped_after, skipped_through, config_version, created_at, updated_at";

/// Rows per statement when many are written at once: within both databases' limits on
/// bound parameters (10 per row at most here).
const ROWS_PER_STATEMENT: usize = 1000;

/// The statuses a sender delivers in, as SQL.
const DELIVERING: &str = "('active', 'retrying')";

/// A `webhooks` row as either database returns it.
#[derive(FromRow)]
pub(super) struct WebhookRow {
    id: String,
    workspace: String,
    url: String,
    events: String,
    description: String,
    secret: String,
    previous_secret: Option<String>,
    previous_until: Option<i64>,
    status: String,
    position: i64,
    attempts: i64,
    failing_since: Option<i64>,
    next_attempt_at: Option<i64>,
    disabled_reason: Option<String>,
    skipped_after: Option<i64>,
    skipped_through: Option<i64>,
    config_version: i64,
    created_at: i64,
    updated_at: i64,
}

fn corrupt(id: &str, what: &str) -> StoreError {
    StoreError::from(sqlx::Error::Decode(
        format!("webhook {id}: bad {what}").into(),
    ))
}

fn instant(id: &str, what: &str, micros: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_micros(micros).ok_or_else(|| corrupt(id, what))
}

fn optional_instant(
    id: &str,
    what: &str,
    micros: Option<i64>,
) -> Result<Option<Timestamp>, StoreError> {
    micros.map(|m| instant(id, what, m)).transpose()
}

impl TryFrom<WebhookRow> for StoredWebhook {
    type Error = StoreError;

    fn try_from(row: WebhookRow) -> Result<StoredWebhook, StoreError> {
        let id = row.id.as_str();
        let skipped = match (row.skipped_after, row.skipped_through) {
            (Some(after), Some(through)) => Some(Skipped {
                after: after as u64,
                through: through as u64,
            }),
            _ => None,
        };
        let webhook = Webhook {
            id: id.parse().map_err(|_| corrupt(id, "id"))?,
            url: row.url.clone(),
            events: EventKinds::from_stored(&row.events).ok_or_else(|| corrupt(id, "events"))?,
            description: row.description.clone(),
            status: WebhookStatus::parse(&row.status).ok_or_else(|| corrupt(id, "status"))?,
            position: u64::try_from(row.position).map_err(|_| corrupt(id, "position"))?,
            attempts: u32::try_from(row.attempts).map_err(|_| corrupt(id, "attempts"))?,
            failing_since: optional_instant(id, "failing_since", row.failing_since)?,
            next_attempt_at: optional_instant(id, "next_attempt_at", row.next_attempt_at)?,
            disabled_reason: row.disabled_reason.clone(),
            skipped,
            created_at: instant(id, "created_at", row.created_at)?,
            updated_at: instant(id, "updated_at", row.updated_at)?,
        };
        Ok(StoredWebhook {
            previous_until: optional_instant(id, "previous_until", row.previous_until)?,
            webhook,
            workspace: Workspace::named(row.workspace),
            secret: row.secret,
            previous_secret: row.previous_secret,
            config_version: row.config_version,
        })
    }
}

/// An `webhook_attempts` row as either database returns it.
#[derive(FromRow)]
pub(super) struct AttemptRow {
    id: i64,
    event_id: String,
    kind: String,
    seq: Option<i64>,
    attempted_at: i64,
    status_code: Option<i64>,
    latency_us: i64,
    error: Option<String>,
}

impl TryFrom<AttemptRow> for Attempt {
    type Error = StoreError;

    fn try_from(row: AttemptRow) -> Result<Attempt, StoreError> {
        let id = row.event_id.as_str();
        Ok(Attempt {
            id: row.id,
            seq: row.seq.map(|seq| seq as u64),
            attempted_at: instant(id, "attempted_at", row.attempted_at)?,
            status_code: row.status_code.and_then(|code| u16::try_from(code).ok()),
            latency_ms: row.latency_us as f64 / 1000.0,
            event_id: row.event_id,
            kind: row.kind,
            error: row.error,
        })
    }
}

/// `INSERT`s each webhook's attempts.
fn insert_attempts<'a, 'args, DB: sqlx::Database>(
    attempts: impl IntoIterator<Item = (Uuid, &'a Attempt)>,
) -> QueryBuilder<'args, DB>
where
    String: Bind<DB>,
    i64: Bind<DB>,
    Option<i64>: Bind<DB>,
    Option<String>: Bind<DB>,
{
    let mut sql = QueryBuilder::new(
        "INSERT INTO webhook_attempts \
         (webhook_id, event_id, kind, seq, attempted_at, status_code, latency_us, error) ",
    );
    sql.push_values(attempts, |mut row, (id, attempt)| {
        row.push_bind(id.to_string())
            .push_bind(attempt.event_id.clone())
            .push_bind(attempt.kind.clone())
            .push_bind(attempt.seq.map(|seq| seq as i64))
            .push_bind(attempt.attempted_at.as_micros())
            .push_bind(attempt.status_code.map(i64::from))
            .push_bind((attempt.latency_ms * 1000.0) as i64)
            .push_bind(attempt.error.clone());
    });
    sql
}

/// Forgets all but the webhook's newest [`KEPT_ATTEMPTS`] attempts.
fn prune_attempts_of<'args, DB: sqlx::Database>(id: Uuid) -> QueryBuilder<'args, DB>
where
    String: Bind<DB>,
    i64: Bind<DB>,
{
    let mut sql = QueryBuilder::new("DELETE FROM webhook_attempts WHERE webhook_id = ");
    sql.push_bind(id.to_string())
        .push(" AND id <= (SELECT id FROM webhook_attempts WHERE webhook_id = ")
        .push_bind(id.to_string())
        .push(" ORDER BY id DESC LIMIT 1 OFFSET ")
        .push_bind(KEPT_ATTEMPTS)
        .push(")");
    sql
}

/// One `UPDATE` of every report's webhook whose lease `owner` still holds, returning
/// the rows it changed. The reports are a table of values (`r_*` columns) joined on
/// the id; a client's pause, or its resume, is never overwritten.
fn progress_update<'args, DB: sqlx::Database>(
    owner: &str,
    reports: &[Report],
) -> QueryBuilder<'args, DB>
where
    String: Bind<DB>,
    i64: Bind<DB>,
    Option<i64>: Bind<DB>,
    Option<String>: Bind<DB>,
{
    let mut sql = QueryBuilder::<DB>::new(
        "WITH r (r_id, r_position, r_attempts, r_status, r_failing_since, r_next_attempt_at, \
         r_disabled_reason, r_skipped_after, r_skipped_through, r_lease_until) AS (",
    );
    sql.push_values(reports, |mut row, report| {
        let progress = &report.progress;
        let skipped = progress.skipped.as_ref();
        row.push_bind(report.id.to_string())
            .push_bind(progress.position as i64)
            .push_bind(i64::from(progress.attempts))
            .push_bind(progress.status.as_str().to_owned())
            .push_bind(progress.failing_since.map(Timestamp::as_micros))
            .push_bind(progress.next_attempt_at.map(Timestamp::as_micros))
            .push_bind(progress.disabled_reason.clone())
            .push_bind(skipped.map(|s| s.after as i64))
            .push_bind(skipped.map(|s| s.through as i64))
            .push_bind(progress.lease_until.map(Timestamp::as_micros));
    });
    sql.push(format!(
        ") UPDATE webhooks SET position = r_position, attempts = r_attempts, \
         status = CASE WHEN status IN {DELIVERING} THEN r_status ELSE status END, \
         failing_since = r_failing_since, next_attempt_at = r_next_attempt_at, \
         disabled_reason = CASE WHEN status IN {DELIVERING} THEN r_disabled_reason \
         ELSE disabled_reason END, \
         skipped_after = COALESCE(r_skipped_after, skipped_after), \
         skipped_through = COALESCE(r_skipped_through, skipped_through), \
         lease_owner = CASE WHEN r_lease_until IS NULL THEN NULL ELSE lease_owner END, \
         lease_until = r_lease_until \
         FROM r WHERE id = r_id AND lease_owner = "
    ))
    .push_bind(owner.to_owned())
    .push(format!(" RETURNING {}", qualified("webhooks")));
    sql
}

/// [`COLUMNS`], each qualified by `table`.
fn qualified(table: &str) -> String {
    COLUMNS
        .split(", ")
        .map(|column| format!("{table}.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// ` WHERE id = ? AND workspace = ?`.
fn push_one<DB: sqlx::Database>(sql: &mut QueryBuilder<'_, DB>, workspace: &Workspace, id: Uuid)
where
    String: Bind<DB>,
{
    sql.push(" WHERE id = ")
        .push_bind(id.to_string())
        .push(" AND workspace = ")
        .push_bind(workspace.as_str().to_owned());
}

#[async_trait]
impl<DB> WebhookStore for SqlStore<DB>
where
    DB: Runner,
    String: Bind<DB>,
    i64: Bind<DB>,
    Option<i64>: Bind<DB>,
    Option<String>: Bind<DB>,
{
    async fn create(
        &self,
        workspace: &Workspace,
        new: &NewEndpoint,
        max: u32,
    ) -> Result<Option<StoredWebhook>, StoreError> {
        let mut sql = QueryBuilder::<DB>::new(
            "INSERT INTO webhooks (id, workspace, url, events, description, secret, status, \
             position, attempts, config_version, created_at, updated_at) SELECT ",
        );
        let mut values = sql.separated(", ");
        values
            .push_bind(new.id.to_string())
            .push_bind(workspace.as_str().to_owned())
            .push_bind(new.url.as_str().to_owned())
            .push_bind(new.events.to_stored())
            .push_bind(new.description.clone())
            .push_bind(new.secret.clone())
            .push("'active'")
            .push("COALESCE((SELECT generation FROM scope_generations WHERE scope = ")
            .push_bind_unseparated(workspace.as_str().to_owned())
            .push_unseparated("), 0)")
            .push("0")
            .push("1")
            .push_bind(new.now.as_micros())
            .push_bind(new.now.as_micros());
        sql.push(" WHERE (SELECT COUNT(*) FROM webhooks WHERE workspace = ")
            .push_bind(workspace.as_str().to_owned())
            .push(") < ")
            .push_bind(i64::from(max))
            .push(format!(" RETURNING {COLUMNS}"));
        // Creates in one workspace wait for each other here (SQLite's writes already
        // do), so that the count each one checks includes the others.
        let mut tx = self.writer.begin_with(self.dialect.begin_write).await?;
        let mut lock = QueryBuilder::<DB>::new("SELECT id FROM webhooks WHERE workspace = ");
        lock.push_bind(workspace.as_str().to_owned())
            .push(self.dialect.lock_for_write);
        DB::execute(&mut tx, lock).await?;
        let rows = DB::fetch_webhooks(&mut tx, sql).await?;
        tx.commit().await?;
        Ok(rows.into_iter().next())
    }

    async fn webhooks(&self, workspace: &Workspace) -> Result<Vec<StoredWebhook>, StoreError> {
        let mut sql =
            QueryBuilder::<DB>::new(format!("SELECT {COLUMNS} FROM webhooks WHERE workspace = "));
        sql.push_bind(workspace.as_str().to_owned())
            .push(" ORDER BY created_at, id");
        DB::fetch_webhooks(&mut *self.readers.acquire().await?, sql).await
    }

    async fn webhook(
        &self,
        workspace: &Workspace,
        id: Uuid,
    ) -> Result<Option<StoredWebhook>, StoreError> {
        let mut sql = QueryBuilder::<DB>::new(format!("SELECT {COLUMNS} FROM webhooks"));
        push_one(&mut sql, workspace, id);
        let rows = DB::fetch_webhooks(&mut *self.readers.acquire().await?, sql).await?;
        Ok(rows.into_iter().next())
    }

    async fn change(
        &self,
        workspace: &Workspace,
        id: Uuid,
        change: &EndpointChange,
    ) -> Result<StoredWebhook, StoreError> {
        let mut sql = QueryBuilder::<DB>::new(
            "UPDATE webhooks SET config_version = config_version + 1, updated_at = ",
        );
        sql.push_bind(change.now.as_micros());
        if let Some(url) = &change.url {
            sql.push(", url = ").push_bind(url.as_str().to_owned());
        }
        if let Some(events) = &change.events {
            sql.push(", events = ").push_bind(events.to_stored());
        }
        if let Some(description) = &change.description {
            sql.push(", description = ").push_bind(description.clone());
        }
        match change.status {
            Some(RequestedStatus::Paused) => {
                sql.push(", status = 'paused'");
            }
            // A resume starts afresh: the next change gets every attempt again.
            Some(RequestedStatus::Active) => {
                sql.push(format!(
                    ", status = CASE WHEN status IN {DELIVERING} THEN status ELSE 'active' END, \
                     attempts = CASE WHEN status IN {DELIVERING} THEN attempts ELSE 0 END, \
                     failing_since = CASE WHEN status IN {DELIVERING} THEN failing_since END, \
                     next_attempt_at = CASE WHEN status IN {DELIVERING} THEN next_attempt_at END, \
                     disabled_reason = NULL"
                ));
            }
            None => {}
        }
        if let Some(rotation) = &change.rotation {
            sql.push(", previous_secret = ")
                .push_bind(rotation.previous.clone())
                .push(", previous_until = ")
                .push_bind(rotation.until.as_micros())
                .push(", secret = ")
                .push_bind(rotation.secret.clone());
        }
        push_one(&mut sql, workspace, id);
        sql.push(format!(" RETURNING {COLUMNS}"));
        let rows = DB::fetch_webhooks(&mut *self.writer.acquire().await?, sql).await?;
        rows.into_iter().next().ok_or(StoreError::NotFound)
    }

    async fn remove(&self, workspace: &Workspace, id: Uuid) -> Result<(), StoreError> {
        let mut tx = self.writer.begin_with(self.dialect.begin_write).await?;
        let mut delete = QueryBuilder::<DB>::new("DELETE FROM webhooks");
        push_one(&mut delete, workspace, id);
        if DB::execute_counted(&mut tx, delete).await? == 0 {
            return Err(StoreError::NotFound);
        }
        let mut attempts =
            QueryBuilder::<DB>::new("DELETE FROM webhook_attempts WHERE webhook_id = ");
        attempts.push_bind(id.to_string());
        DB::execute(&mut tx, attempts).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn attempts(&self, id: Uuid, limit: u32) -> Result<Vec<Attempt>, StoreError> {
        let mut sql = QueryBuilder::<DB>::new(
            "SELECT id, event_id, kind, seq, attempted_at, status_code, latency_us, error \
             FROM webhook_attempts WHERE webhook_id = ",
        );
        sql.push_bind(id.to_string())
            .push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(limit));
        DB::fetch_attempts(&mut *self.readers.acquire().await?, sql).await
    }

    async fn record(&self, id: Uuid, attempt: &Attempt) -> Result<i64, StoreError> {
        let mut tx = self.writer.begin_with(self.dialect.begin_write).await?;
        let mut insert = insert_attempts([(id, attempt)]);
        insert.push(" RETURNING id");
        let recorded = DB::fetch_integer(&mut tx, insert).await?;
        DB::execute(&mut tx, prune_attempts_of(id)).await?;
        tx.commit().await?;
        recorded.ok_or_else(|| StoreError::from(sqlx::Error::RowNotFound))
    }

    async fn claim(
        &self,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<StoredWebhook>, StoreError> {
        let mut sql = QueryBuilder::<DB>::new("UPDATE webhooks SET lease_owner = ");
        sql.push_bind(owner.to_owned())
            .push(", lease_until = ")
            .push_bind(until.as_micros())
            .push(format!(
                " WHERE id IN (SELECT id FROM webhooks WHERE status IN {DELIVERING} \
                 AND (lease_until IS NULL OR lease_until < "
            ))
            .push_bind(now.as_micros())
            .push(") AND (next_attempt_at IS NULL OR next_attempt_at <= ")
            .push_bind(now.as_micros())
            .push(") ORDER BY id LIMIT ")
            .push_bind(i64::from(limit))
            .push(self.dialect.skip_locked)
            .push(format!(") RETURNING {COLUMNS}"));
        DB::fetch_webhooks(&mut *self.writer.acquire().await?, sql).await
    }

    async fn renew(&self, owner: &str, until: Timestamp) -> Result<Vec<StoredWebhook>, StoreError> {
        let mut sql = QueryBuilder::<DB>::new("UPDATE webhooks SET lease_until = ");
        sql.push_bind(until.as_micros())
            .push(" WHERE lease_owner = ")
            .push_bind(owner.to_owned())
            .push(format!(" AND status IN {DELIVERING} RETURNING {COLUMNS}"));
        DB::fetch_webhooks(&mut *self.writer.acquire().await?, sql).await
    }

    async fn progress(
        &self,
        owner: &str,
        reports: &[Report],
    ) -> Result<Vec<Option<StoredWebhook>>, StoreError> {
        let mut tx = self.writer.begin_with(self.dialect.begin_write).await?;
        let mut written: HashMap<Uuid, StoredWebhook> = HashMap::with_capacity(reports.len());
        for chunk in reports.chunks(ROWS_PER_STATEMENT) {
            let rows = DB::fetch_webhooks(&mut tx, progress_update(owner, chunk)).await?;
            written.extend(rows.into_iter().map(|row| (row.webhook.id, row)));
        }
        let attempts: Vec<(Uuid, &Attempt)> = reports
            .iter()
            .filter(|report| written.contains_key(&report.id))
            .flat_map(|report| report.attempts.iter().map(|attempt| (report.id, attempt)))
            .collect();
        for chunk in attempts.chunks(ROWS_PER_STATEMENT) {
            DB::execute(&mut tx, insert_attempts(chunk.iter().copied())).await?;
        }
        tx.commit().await?;
        Ok(reports
            .iter()
            .map(|report| written.remove(&report.id))
            .collect())
    }

    async fn held(&self, owner: &str) -> Result<Vec<StoredWebhook>, StoreError> {
        let mut sql = QueryBuilder::<DB>::new(format!(
            "SELECT {COLUMNS} FROM webhooks WHERE lease_owner = "
        ));
        sql.push_bind(owner.to_owned());
        DB::fetch_webhooks(&mut *self.readers.acquire().await?, sql).await
    }

    async fn prune_attempts(&self) -> Result<u64, StoreError> {
        let sql = QueryBuilder::<DB>::new(format!(
            "DELETE FROM webhook_attempts WHERE id IN (SELECT id FROM (SELECT id, \
             ROW_NUMBER() OVER (PARTITION BY webhook_id ORDER BY id DESC) AS newer \
             FROM webhook_attempts) AS ranked WHERE newer > {KEPT_ATTEMPTS})"
        ));
        DB::execute_counted(&mut *self.writer.acquire().await?, sql).await
    }

    async fn key_check(&self, proposed: Option<String>) -> Result<Option<String>, StoreError> {
        let mut conn = self.writer.acquire().await?;
        if let Some(proposed) = proposed {
            let mut insert = QueryBuilder::<DB>::new(
                "INSERT INTO server_secrets (name, secret) VALUES ('webhook-key', ",
            );
            insert
                .push_bind(proposed)
                .push(") ON CONFLICT (name) DO NOTHING");
            DB::execute(&mut conn, insert).await?;
        }
        let select =
            QueryBuilder::<DB>::new("SELECT secret FROM server_secrets WHERE name = 'webhook-key'");
        DB::fetch_text(&mut conn, select).await
    }
}
