//! The dashboard's reads on PostgreSQL (see `storage::dashboard`).

use async_trait::async_trait;

use super::*;
use crate::storage::dashboard::DashboardStore;
use crate::storage::rows::message_columns;

/// Newest first below an id, through `read_messages_before` (migration 0010), whose plan walks
/// the session's index in order and stops at the limit whatever the statistics say. Binds: reader
/// $1-$3, session $4, ids below $5, limit $6. Public so the plan tests can run it.
pub const READ_MESSAGES_BEFORE: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM read_messages_before($1, $2, $3, $4, $5, $6) m"
);

#[async_trait]
impl DashboardStore for PgStore {
    async fn messages_before(
        &self,
        read: &SessionRead<'_, i64>,
    ) -> StoreResult<Vec<MessageRecord>> {
        self.with_conn(async |conn| Reads::messages_before(conn, read).await)
            .await
    }
}
