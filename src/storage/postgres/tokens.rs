//! Agent tokens and the audit log on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::*;
use crate::storage::TokenStore;

#[async_trait]
impl TokenStore for PgStore {
    async fn insert_token(&self, t: &TokenRecord) -> StoreResult<()> {
        self.with_conn(async |conn| Reads::insert_token(conn, t).await)
            .await
    }

    async fn find_token(&self, token_hash: &str) -> StoreResult<Option<TokenRecord>> {
        self.with_conn(async |conn| Reads::token(conn, token_hash).await)
            .await
    }

    async fn revoke_token(&self, token_hash: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        self.with_conn(async |conn| Reads::revoke_token(conn, token_hash, at).await)
            .await
    }

    async fn rotate_token(&self, rotation: &TokenRotation<'_>) -> StoreResult<bool> {
        let TokenRotation { old_hash, new, at } = *rotation;
        self.with_conn(async |conn| {
            let row: Option<(String,)> = sqlx::query_as(
                "WITH old AS (UPDATE agent_tokens SET revoked_at = $7 \
                   WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $7 RETURNING token_hash) \
                 INSERT INTO agent_tokens (token_hash, agent_id, agent_type, permissions, issued_at, expires_at) \
                 SELECT $2, $3, $4, $5, $6, $8 FROM old RETURNING token_hash",
            )
            .bind(old_hash)
            .bind(&new.token_hash)
            .bind(&new.agent_id)
            .bind(&new.agent_type)
            .bind(new.permissions.join(","))
            .bind(new.issued_at)
            .bind(at)
            .bind(new.expires_at)
            .fetch_optional(conn)
            .await?;
            Ok(row.is_some())
        })
        .await
    }

    async fn audit(&self, e: &AuditEvent) -> StoreResult<()> {
        self.with_conn(async |conn| {
            sqlx::query("INSERT INTO audit_log (created_at, event, actor, session_id, details) VALUES ($1, $2, $3, $4, $5)")
                .bind(e.at)
                .bind(e.event)
                .bind(&e.actor)
                .bind(&e.session_id)
                .bind(Json(&e.details))
                .execute(conn)
                .await?;
            Ok(())
        })
        .await
    }

    async fn recent_audit(&self, limit: u32) -> StoreResult<Vec<AuditRecord>> {
        self.with_conn(async |conn| Reads::recent_audit(conn, limit).await)
            .await
    }
}
