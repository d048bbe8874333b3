//! The error every rule speaks: a stable code, one sentence, and what to call next.

use std::fmt;

/// Stable machine-readable error codes. Names follow the Python server where it had one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidInput,
    ContentTooLarge,
    InvalidMetadataFormat,
    MetadataTooLarge,
    InvalidVisibility,
    InvalidLimit,
    InvalidSessionId,
    SessionNotFound,
    SessionClosed,
    ParentMessageNotFound,
    PermissionDenied,
    AuthFailed,
    InvalidTokenFormat,
    TokenAuthenticationFailed,
    TokenRefreshFailed,
    DatabaseUnavailable,
    InternalError,
    InvalidDatetime,
    RateLimited,
    KeyExists,
    MemoryNotFound,
    InvalidKey,
    InvalidTtlValue,
    InvalidTtlFormat,
    ValueTooLarge,
    LeaseConflict,
    LeaseNotFound,
    InvalidIdempotencyKey,
    IdempotencyConflict,
    ToolNotEnabled,
    UnknownArgument,
    RecipientNotFound,
    ThreadTooDeep,
    TaskNotFound,
    TaskAlreadyClaimed,
    InvalidTaskTransition,
    VersionConflict,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidInput => "INVALID_INPUT",
            Self::ContentTooLarge => "CONTENT_TOO_LARGE",
            Self::InvalidMetadataFormat => "INVALID_METADATA_FORMAT",
            Self::MetadataTooLarge => "METADATA_TOO_LARGE",
            Self::InvalidVisibility => "INVALID_VISIBILITY",
            Self::InvalidLimit => "INVALID_LIMIT",
            Self::InvalidSessionId => "INVALID_SESSION_ID",
            Self::SessionNotFound => "SESSION_NOT_FOUND",
            Self::SessionClosed => "SESSION_CLOSED",
            Self::ParentMessageNotFound => "PARENT_MESSAGE_NOT_FOUND",
            Self::PermissionDenied => "PERMISSION_DENIED",
            Self::AuthFailed => "AUTH_FAILED",
            Self::InvalidTokenFormat => "INVALID_TOKEN_FORMAT",
            Self::TokenAuthenticationFailed => "TOKEN_AUTHENTICATION_FAILED",
            Self::TokenRefreshFailed => "TOKEN_REFRESH_FAILED",
            Self::DatabaseUnavailable => "DATABASE_UNAVAILABLE",
            Self::InternalError => "INTERNAL_ERROR",
            Self::InvalidDatetime => "INVALID_DATETIME",
            Self::RateLimited => "RATE_LIMITED",
            Self::KeyExists => "KEY_EXISTS",
            Self::MemoryNotFound => "MEMORY_NOT_FOUND",
            Self::InvalidKey => "INVALID_KEY",
            Self::InvalidTtlValue => "INVALID_TTL_VALUE",
            Self::InvalidTtlFormat => "INVALID_TTL_FORMAT",
            Self::ValueTooLarge => "VALUE_TOO_LARGE",
            Self::LeaseConflict => "LEASE_CONFLICT",
            Self::LeaseNotFound => "LEASE_NOT_FOUND",
            Self::InvalidIdempotencyKey => "INVALID_IDEMPOTENCY_KEY",
            Self::IdempotencyConflict => "IDEMPOTENCY_CONFLICT",
            Self::ToolNotEnabled => "TOOL_NOT_ENABLED",
            Self::UnknownArgument => "UNKNOWN_ARGUMENT",
            Self::RecipientNotFound => "RECIPIENT_NOT_FOUND",
            Self::ThreadTooDeep => "THREAD_TOO_DEEP",
            Self::TaskNotFound => "TASK_NOT_FOUND",
            Self::TaskAlreadyClaimed => "TASK_ALREADY_CLAIMED",
            Self::InvalidTaskTransition => "INVALID_TASK_TRANSITION",
            Self::VersionConflict => "VERSION_CONFLICT",
        }
    }
}

impl ErrorCode {
    /// What to do next, for errors raised without a more specific suggestion.
    pub const fn default_suggestion(self) -> &'static str {
        match self {
            Self::InvalidVisibility => "use one of: public, private, agent_only, admin_only",
            Self::TokenAuthenticationFailed | Self::InvalidTokenFormat => {
                "call authenticate_agent to get a token, then pass it as auth_token"
            }
            Self::PermissionDenied => {
                "call authenticate_agent with an agent_type that has the needed permission"
            }
            Self::DatabaseUnavailable => {
                "retry after retry_after seconds; call health to see the database status"
            }
            Self::InternalError => "report the reference in the error to the server operator",
            Self::IdempotencyConflict => "use a new idempotency_key for a new request",
            Self::LeaseConflict => {
                "work on something else, ask held_by to release, or retry after expires_at"
            }
            Self::LeaseNotFound => "acquire_lease without lease_id to take a new lease",
            Self::RecipientNotFound => "call list_agents to see the agents that exist",
            Self::ThreadTooDeep => {
                "start a new thread (no parent_message_id) or stop replying: this looks like a loop"
            }
            Self::TaskNotFound => "call list_tasks with the session_id to see its tasks",
            Self::TaskAlreadyClaimed => {
                "call claim_task without task_id to take the next claimable task"
            }
            Self::VersionConflict => {
                "read current_version and current_value, merge, and call again with expected_version = current_version"
            }
            _ => "correct the argument named in the error and call again",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule was broken. Carries everything a client needs to correct the call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct DomainError {
    pub code: ErrorCode,
    pub message: String,
    pub suggestions: Vec<String>,
    /// Seconds after which retrying may succeed; only for transient failures.
    pub retry_after: Option<u32>,
    /// Extra fields of the error body (e.g. `current_version` of a `VERSION_CONFLICT`), so the
    /// caller can act without another read.
    pub details: serde_json::Map<String, serde_json::Value>,
}

impl DomainError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            suggestions: Vec::new(),
            retry_after: None,
            details: serde_json::Map::new(),
        }
    }

    pub fn suggest(mut self, suggestion: impl Into<String>) -> Self {
        self.suggestions.push(suggestion.into());
        self
    }

    /// Adds a field to the error body.
    pub fn detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    pub fn retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }

    pub fn session_not_found(id: &str) -> Self {
        Self::new(
            ErrorCode::SessionNotFound,
            format!("no session '{id}' exists"),
        )
        .suggest("call list_sessions to find an existing session, or create_session to make one")
    }

    pub fn unavailable() -> Self {
        Self::new(
            ErrorCode::DatabaseUnavailable,
            "the database is temporarily unavailable",
        )
        .suggest("retry after retry_after seconds; call health to see the database status")
        .retry_after(2)
    }
}
