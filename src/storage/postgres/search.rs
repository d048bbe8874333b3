//! Message search on PostgreSQL.

use async_trait::async_trait;

use super::PgStore;
use crate::storage::SearchStore;

#[async_trait]
impl SearchStore for PgStore {}
