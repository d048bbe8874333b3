//! The application error (a `DomainError`) and how storage failures become one.

pub use crate::domain::{DomainError as AppError, ErrorCode};
use crate::storage::StoreError;

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "database unavailable");
                AppError::unavailable()
            }
            StoreError::Internal(detail) => {
                let reference = crate::util::hex(&rand::random::<[u8; 6]>());
                tracing::error!(%detail, %reference, "internal storage error");
                AppError::new(
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
