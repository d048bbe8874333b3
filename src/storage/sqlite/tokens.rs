//! Agent tokens and the audit log on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::*;
use crate::storage::TokenStore;

#[async_trait]
impl TokenStore for SqliteStore {
    async fn insert_token(&self, t: &TokenRecord) -> StoreResult<()> {
        Reads::insert_token(&self.writer, t).await
    }

    async fn find_token(&self, token_hash: &str) -> StoreResult<Option<TokenRecord>> {
        Reads::token(&self.reader, token_hash).await
    }

    async fn revoke_token(&self, token_hash: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        Reads::revoke_token(&self.writer, token_hash, at).await
    }

    async fn rotate_token(&self, rotation: &TokenRotation<'_>) -> StoreResult<bool> {
        let TokenRotation { old_hash, new, at } = *rotation;
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let at = rfc3339(at);
        let done = sqlx::query(
            "UPDATE agent_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(old_hash)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        Reads::insert_token(&mut *tx, new).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn audit(&self, event: &AuditEvent) -> StoreResult<()> {
        insert_audit(&self.writer, event).await
    }

    async fn recent_audit(&self, limit: u32) -> StoreResult<Vec<AuditRecord>> {
        Reads::recent_audit(&self.reader, limit).await
    }
}
