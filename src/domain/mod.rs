//! Domain types and rules: identities, permissions, visibility, validated inputs. No I/O here.

pub mod error;
pub mod error_code;
pub mod fuzzy;
pub mod glob;
#[cfg(test)]
mod glob_props;
pub mod idempotency;
pub mod identity;
pub mod inbox;
pub mod input;
pub mod lease;
pub mod memory;
#[cfg(test)]
mod prop_gen;
pub mod retention;
pub mod search;
pub mod shared_memory;
pub mod tasks;
pub mod visibility;

pub use error::{DomainError, ErrorCode};
pub use idempotency::IdempotencyKey;
pub use identity::{AgentId, AgentType, Identity, Permission, PermissionTable, Permissions};
pub use input::{Content, Limit, Metadata, Purpose, SessionId};
pub use memory::{MemoryKey, MemoryLimits, MemoryScope, MemoryValue, ScopeFilter, Ttl};
pub use visibility::{Reader, Visibility, VisibilityFilter};
