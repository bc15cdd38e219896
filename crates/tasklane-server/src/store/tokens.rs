//! API tokens in the same database as the tasks: issued, looked up by the digest of
//! their secret, listed per workspace and revoked (deleted: a revoked token is gone).

use async_trait::async_trait;
use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use super::StoreError;
use super::sql::{Bind, Runner, SqlStore};
use crate::domain::{ApiToken, Member, Timestamp, TokenSecret, Workspace};

/// Where API tokens are kept.
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// Stores a newly issued token under the digest of its secret (see [`issue`]).
    async fn insert(&self, token: &ApiToken, secret_digest: &str) -> Result<(), StoreError>;

    /// The token whose secret has this digest, if it exists (and so is not revoked).
    async fn find(&self, secret_digest: &str) -> Result<Option<ApiToken>, StoreError>;

    /// Every token of a workspace, oldest first.
    async fn list(&self, workspace: &Workspace) -> Result<Vec<ApiToken>, StoreError>;

    /// Revokes a token of this workspace; `NotFound` if it has none with that id.
    async fn revoke(&self, workspace: &Workspace, id: Uuid) -> Result<(), StoreError>;
}

/// Issues a token to `member` of `workspace`: a new secret, of which only the digest is
/// stored. Returns the token and its secret, to be shown once.
pub async fn issue(
    tokens: &dyn TokenStore,
    workspace: &Workspace,
    member: Member,
) -> Result<(ApiToken, TokenSecret), StoreError> {
    let token = ApiToken::issue(workspace, member);
    let secret = TokenSecret::generate();
    tokens.insert(&token, &secret.digest()).await?;
    Ok((token, secret))
}

const COLUMNS: &str = "SELECT id, workspace, member, created_at FROM api_tokens";

/// An `api_tokens` row as either database returns it.
#[derive(FromRow)]
pub(super) struct TokenRow {
    id: String,
    workspace: String,
    member: String,
    created_at: i64,
}

impl TryFrom<TokenRow> for ApiToken {
    type Error = StoreError;

    fn try_from(row: TokenRow) -> Result<ApiToken, StoreError> {
        let corrupt = |what: &str| {
            StoreError::from(sqlx::Error::Decode(
                format!("token {}: bad {what}", row.id).into(),
            ))
        };
        Ok(ApiToken {
            id: row.id.parse().map_err(|_| corrupt("id"))?,
            created_at: Timestamp::from_micros(row.created_at)
                .ok_or_else(|| corrupt("created_at"))?,
            workspace: row.workspace,
            member: row.member,
        })
    }
}

#[async_trait]
impl<DB> TokenStore for SqlStore<DB>
where
    DB: Runner,
    String: Bind<DB>,
    i64: Bind<DB>,
{
    async fn insert(&self, token: &ApiToken, secret_digest: &str) -> Result<(), StoreError> {
        let mut sql = QueryBuilder::<DB>::new(
            "INSERT INTO api_tokens (id, workspace, member, secret_digest, created_at) ",
        );
        sql.push_values([token], |mut row, token| {
            row.push_bind(token.id.to_string())
                .push_bind(token.workspace.clone())
                .push_bind(token.member.clone())
                .push_bind(secret_digest.to_owned())
                .push_bind(token.created_at.as_micros());
        });
        DB::execute(&mut *self.writer.acquire().await?, sql).await
    }

    async fn find(&self, secret_digest: &str) -> Result<Option<ApiToken>, StoreError> {
        let mut sql = QueryBuilder::<DB>::new(format!("{COLUMNS} WHERE secret_digest = "));
        sql.push_bind(secret_digest.to_owned());
        let rows = DB::fetch_tokens(&mut *self.readers.acquire().await?, sql).await?;
        Ok(rows.into_iter().next())
    }

    async fn list(&self, workspace: &Workspace) -> Result<Vec<ApiToken>, StoreError> {
        let mut sql = QueryBuilder::<DB>::new(format!("{COLUMNS} WHERE workspace = "));
        sql.push_bind(workspace.as_str().to_owned())
            .push(" ORDER BY created_at, id");
        DB::fetch_tokens(&mut *self.readers.acquire().await?, sql).await
    }

    async fn revoke(&self, workspace: &Workspace, id: Uuid) -> Result<(), StoreError> {
        let mut tx = self.writer.begin_with(self.dialect.begin_write).await?;
        let mut exists = QueryBuilder::<DB>::new("SELECT COUNT(*) FROM api_tokens WHERE id = ");
        exists
            .push_bind(id.to_string())
            .push(" AND workspace = ")
            .push_bind(workspace.as_str().to_owned());
        if DB::fetch_integer(&mut tx, exists).await? != Some(1) {
            return Err(StoreError::NotFound);
        }
        let mut delete = QueryBuilder::<DB>::new("DELETE FROM api_tokens WHERE id = ");
        delete.push_bind(id.to_string());
        DB::execute(&mut *tx, delete).await?;
        tx.commit().await?;
        Ok(())
    }
}
