//! Message search on SQLite.

use async_trait::async_trait;

use super::SqliteStore;
use crate::storage::SearchStore;

#[async_trait]
impl SearchStore for SqliteStore {}
