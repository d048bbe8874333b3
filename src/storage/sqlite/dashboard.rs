//! The dashboard's reads on SQLite (see `storage::dashboard`).

use async_trait::async_trait;

use super::*;
use crate::storage::dashboard::DashboardStore;
use crate::storage::rows::message_columns;
use crate::storage::visibility::visible_to_reader;

/// Newest first below an id, the session's read index pinned (as `READ_MESSAGES_DESC`). Binds:
/// reader $1-$3, session $4, ids below $5, limit $6. Public so the plan tests can check it.
pub const READ_MESSAGES_BEFORE: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages m INDEXED BY messages_session_read_idx WHERE m.session_id = $4 AND ",
    visible_to_reader!(),
    " AND m.id < $5 ORDER BY m.id DESC LIMIT +$6"
);

#[async_trait]
impl DashboardStore for SqliteStore {
    async fn messages_before(
        &self,
        read: &SessionRead<'_, i64>,
    ) -> StoreResult<Vec<MessageRecord>> {
        Reads::messages_before(&self.reader, read).await
    }
}
