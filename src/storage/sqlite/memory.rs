//! Agent memory on SQLite.

use async_trait::async_trait;

use super::SqliteStore;
use crate::storage::MemoryStore;

#[async_trait]
impl MemoryStore for SqliteStore {}
