//! One agent's whole memory, for the `agent://{agent_id}/memory` resource: the agent itself or an
//! admin may read it, nobody else.

use super::Service;
use crate::domain::{AgentId, DomainError, ErrorCode, Identity};
use crate::storage::{MemoryAddress, MemoryListQuery, MemoryRecord};

/// At most this many entries are returned by one resource read.
pub const MEMORY_VIEW_LIMIT: u32 = 200;

impl Service {
    pub async fn agent_memory(
        &self,
        who: &Identity,
        agent_id: &str,
    ) -> Result<Vec<MemoryRecord>, DomainError> {
        let target = AgentId::parse(agent_id)?;
        let own = who.agent_id().is_some_and(|a| a == &target);
        if !own && !who.is_admin() {
            return Err(DomainError::new(
                ErrorCode::PermissionDenied,
                format!("only '{target}' itself or an admin may read its memory"),
            )
            .suggest("read agent://<your agent_id>/memory with your own token"));
        }
        let now = self.now();
        let entries = self
            .store()
            .list_memory(&MemoryListQuery {
                agent_id: target.as_str(),
                scope: None,
                prefix: "",
                after: None,
                limit: MEMORY_VIEW_LIMIT,
                now,
            })
            .await?;
        let mut records = Vec::with_capacity(entries.len());
        for e in entries {
            let address = MemoryAddress {
                agent_id: target.as_str(),
                session_id: e.session_id.as_deref(),
                key: &e.key,
                now,
            };
            // An entry that expired between the list and the read is simply left out.
            if let Some(record) = self.store().get_memory(&address).await? {
                records.push(record);
            }
        }
        Ok(records)
    }
}
