//! Agent memory on PostgreSQL.

use async_trait::async_trait;

use super::PgStore;
use crate::storage::MemoryStore;

#[async_trait]
impl MemoryStore for PgStore {}
