//! Messages on SQLite: writes in the group commit's transaction on the writer, reads on the
//! readers (sessions are written once for both backends: `storage/flow_store.rs`).

use async_trait::async_trait;
use sqlx::Sqlite;

use super::writes;
use super::*;
use crate::storage::MessageStore;
use crate::storage::reads::ReadSql;
use crate::storage::rows::{message_columns, session_columns};
use crate::storage::visibility::message_read_where;

/// The per-session read, oldest first. `INDEXED BY` pins the (session_id, id) index whatever
/// `ANALYZE` has recorded: the scan seeks the session, walks ids in order and stops at the limit.
/// Binds: reader $1-$3, session $4, visibility $5, after id $6, limit $7, offset $8. Public so the
/// plan tests can read its plan.
pub const READ_MESSAGES_ASC: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages m INDEXED BY messages_session_read_idx",
    message_read_where!(),
    "ORDER BY m.id ASC LIMIT +$7 OFFSET $8"
);
/// The same read, newest first.
pub const READ_MESSAGES_DESC: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages m INDEXED BY messages_session_read_idx",
    message_read_where!(),
    "ORDER BY m.id DESC LIMIT +$7 OFFSET $8"
);
/// Open sessions newest first, through the partial index on them (binds: before seq $1, limit
/// $2).
pub const LIST_ACTIVE_SESSIONS: &str = concat!(
    "SELECT ",
    session_columns!(),
    " FROM sessions INDEXED BY sessions_active_seq_idx WHERE is_active = 1 AND seq < $1 \
     ORDER BY seq DESC LIMIT +$2"
);

#[async_trait]
impl MessageStore for SqliteStore {
    async fn add_message(&self, new: &NewMessage) -> StoreResult<InsertOutcome> {
        self.in_scoped_write_tx(async |tx, scope| writes::add_message_scoped(tx, new, scope).await)
            .await
    }

    async fn list_messages(&self, query: &MessageQuery<'_>) -> StoreResult<Vec<MessageRecord>> {
        let sql = if query.newest_first {
            READ_MESSAGES_DESC
        } else {
            READ_MESSAGES_ASC
        };
        Ok(Reads::message_page(sql, query)
            .fetch_all(&self.reader)
            .await?)
    }

    async fn count_messages(&self, query: &MessageQuery<'_>) -> StoreResult<i64> {
        Reads::count_messages(&self.reader, query).await
    }
}

impl ReadSql for Sqlite {
    const MESSAGES_BEFORE: &'static str = super::dashboard::READ_MESSAGES_BEFORE;
    const ACTIVE_SESSIONS: &'static str = LIST_ACTIVE_SESSIONS;
}
