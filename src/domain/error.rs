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
    InvalidIdempotencyKey,
    IdempotencyConflict,
    ToolNotEnabled,
    UnknownArgument,
    RecipientNotFound,
    ThreadTooDeep,
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
            Self::InvalidIdempotencyKey => "INVALID_IDEMPOTENCY_KEY",
            Self::IdempotencyConflict => "IDEMPOTENCY_CONFLICT",
            Self::ToolNotEnabled => "TOOL_NOT_ENABLED",
            Self::UnknownArgument => "UNKNOWN_ARGUMENT",
            Self::RecipientNotFound => "RECIPIENT_NOT_FOUND",
            Self::ThreadTooDeep => "THREAD_TOO_DEEP",
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
            Self::RecipientNotFound => "call list_agents to see the agents that exist",
            Self::ThreadTooDeep => {
                "start a new thread (no parent_message_id) or stop replying: this looks like a loop"
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
}

impl DomainError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            suggestions: Vec::new(),
            retry_after: None,
        }
    }

    pub fn suggest(mut self, suggestion: impl Into<String>) -> Self {
        self.suggestions.push(suggestion.into());
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
