//! Storage errors: the one place where `sqlx::Error` is classified.

/// What callers need to know about a failed storage call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or the pool is exhausted: retry later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug or a corrupt store. Details are logged, never sent to clients.
    #[error("storage error: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        use sqlx::Error as E;
        match &err {
            E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::WorkerCrashed => {
                Self::Unavailable(err.to_string())
            }
            E::Database(db) => {
                let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                // PostgreSQL connection exceptions (08…), shutdown (57P01-03), too many
                // connections (53300), lock or statement timeouts (55P03, 57014); SQLite BUSY/LOCKED (5, 6).
                let transient = code.starts_with("08")
                    || matches!(
                        code.as_str(),
                        "57P01"
                            | "57P02"
                            | "57P03"
                            | "53300"
                            | "55P03"
                            | "57014"
                            | "5"
                            | "6"
                            | "517"
                            | "261"
                            | "262"
                    );
                if transient {
                    Self::Unavailable(err.to_string())
                } else {
                    Self::Internal(err.to_string())
                }
            }
            E::Protocol(_) => Self::Unavailable(err.to_string()),
            _ => Self::Internal(err.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        Self::Internal(err.to_string())
    }
}
