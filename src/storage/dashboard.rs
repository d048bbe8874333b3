//! Reads only the dashboard needs: a session's messages newest first below a cursor, so paging
//! back through 100,000 messages costs one ordered index walk per page instead of a growing OFFSET.

use async_trait::async_trait;

use super::{MessageRecord, SessionRead, StoreResult};

#[async_trait]
pub trait DashboardStore: Send + Sync + 'static {
    /// Newest first: up to `read.limit` messages the reader may read with an id below `read.by`.
    async fn messages_before(&self, read: &SessionRead<'_, i64>)
    -> StoreResult<Vec<MessageRecord>>;
}
