//! How storage failures become the agent-facing `DomainError` (re-exported here with its codes).

pub use crate::domain::{DomainError, ErrorCode};
use crate::storage::StoreError;

impl From<StoreError> for DomainError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "database unavailable");
                DomainError::unavailable()
            }
            StoreError::Internal(detail) => {
                let reference = crate::util::hex(&rand::random::<[u8; 6]>());
                tracing::error!(%detail, %reference, "internal storage error");
                DomainError::new(
                    ErrorCode::InternalError,
                    format!("internal error (reference {reference})"),
                )
                .suggest(
                    "report this reference to the server operator; the server log has the details",
                )
            }
        }
    }
}
