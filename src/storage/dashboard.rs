//! Reads only the dashboard needs: a session's messages newest first below a cursor, so paging
//! back through 100,000 messages costs one ordered index walk per page instead of a growing OFFSET.

use async_trait::async_trait;

use super::{MessageRecord, StoreResult};
use crate::domain::{Reader, SessionId};

#[async_trait]
pub trait DashboardStore: Send + Sync + 'static {
    /// Newest first: up to `limit` messages the reader may read with an id below `before_id`.
    async fn messages_before(
        &self,
        session_id: &SessionId,
        reader: &Reader,
        before_id: i64,
        limit: u32,
    ) -> StoreResult<Vec<MessageRecord>>;
}
