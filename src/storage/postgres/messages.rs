//! Messages on PostgreSQL (sessions are written once for both backends: `storage/flow_store.rs`).

use async_trait::async_trait;
use sqlx::Postgres;

use super::*;
use crate::storage::MessageStore;
use crate::storage::reads::ReadSql;
use crate::storage::rows::{message_columns, session_columns};

/// The per-session read through `read_messages` (migration 0007), whose plan walks the session's
/// index in order and stops at the limit whatever the statistics say. Binds: reader $1-$3,
/// session $4, visibility $5, after id $6, limit $7, offset $8, newest first $9. Public so the plan
/// tests can run it.
pub const READ_MESSAGES: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM read_messages($1, $2, $3, $4, $5, $6, $7, $8, $9) m"
);
/// Open sessions, newest first, through the partial index. Binds: before seq $1, limit $2.
/// Public so tests can check its plan.
pub const LIST_ACTIVE_SESSIONS: &str = concat!(
    "SELECT ",
    session_columns!(),
    " FROM sessions WHERE is_active AND seq < $1 ORDER BY seq DESC LIMIT $2"
);
pub use crate::storage::visibility::COUNT_SESSION_MESSAGES;

#[async_trait]
impl MessageStore for PgStore {
    async fn add_message(&self, new: &NewMessage) -> StoreResult<InsertOutcome> {
        let outcome = self
            .combiner
            .add_message(&self.pool, &self.guard, new)
            .await?;
        if let InsertOutcome::Inserted(record) = &outcome {
            self.publisher.announce(record);
        }
        Ok(outcome)
    }

    async fn list_messages(&self, query: &MessageQuery<'_>) -> StoreResult<Vec<MessageRecord>> {
        let read = Reads::message_page(READ_MESSAGES, query).bind(query.newest_first);
        self.with_conn(async |conn| Ok(read.fetch_all(conn).await?))
            .await
    }

    async fn count_messages(&self, query: &MessageQuery<'_>) -> StoreResult<i64> {
        self.with_conn(async |conn| Reads::count_messages(conn, query).await)
            .await
    }
}

impl ReadSql for Postgres {
    const MESSAGES_BEFORE: &'static str = super::dashboard::READ_MESSAGES_BEFORE;
    const ACTIVE_SESSIONS: &'static str = LIST_ACTIVE_SESSIONS;
}
