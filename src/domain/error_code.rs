//! Every error code the server answers with, in one table: its wire name and its HTTP status.
//! Tool errors travel inside a 200 answer (MCP's `isError`); the status is what the HTTP front
//! end (guards, the dashboard API, event streams) answers with the same code.

use std::fmt;

/// Declares the codes: each row is a variant, its wire name and its HTTP status, so a new code
/// cannot be added without both (the matches are generated, exhaustive, with no fallback arm).
macro_rules! error_codes {
    ($($variant:ident = $wire:literal, $status:literal;)*) => {
        /// Stable machine-readable error codes. Names follow the Python server where it had one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($variant,)*
        }

        impl ErrorCode {
            /// Every code, in table order.
            pub const ALL: &[ErrorCode] = &[$(Self::$variant),*];

            /// The name clients match on.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $wire,)*
                }
            }

            /// The HTTP status an HTTP endpoint answers with this code.
            pub const fn http_status(self) -> u16 {
                match self {
                    $(Self::$variant => $status,)*
                }
            }
        }
    };
}

error_codes! {
    InvalidInput = "INVALID_INPUT", 400;
    ContentTooLarge = "CONTENT_TOO_LARGE", 400;
    InvalidMetadataFormat = "INVALID_METADATA_FORMAT", 400;
    MetadataTooLarge = "METADATA_TOO_LARGE", 400;
    InvalidVisibility = "INVALID_VISIBILITY", 400;
    InvalidLimit = "INVALID_LIMIT", 400;
    InvalidSessionId = "INVALID_SESSION_ID", 400;
    SessionNotFound = "SESSION_NOT_FOUND", 404;
    SessionClosed = "SESSION_CLOSED", 409;
    ParentMessageNotFound = "PARENT_MESSAGE_NOT_FOUND", 404;
    PermissionDenied = "PERMISSION_DENIED", 403;
    AuthFailed = "AUTH_FAILED", 401;
    InvalidTokenFormat = "INVALID_TOKEN_FORMAT", 401;
    TokenAuthenticationFailed = "TOKEN_AUTHENTICATION_FAILED", 401;
    TokenRefreshFailed = "TOKEN_REFRESH_FAILED", 401;
    DatabaseUnavailable = "DATABASE_UNAVAILABLE", 503;
    InternalError = "INTERNAL_ERROR", 500;
    InvalidDatetime = "INVALID_DATETIME", 400;
    RateLimited = "RATE_LIMITED", 429;
    KeyExists = "KEY_EXISTS", 409;
    MemoryNotFound = "MEMORY_NOT_FOUND", 404;
    InvalidKey = "INVALID_KEY", 400;
    InvalidTtlValue = "INVALID_TTL_VALUE", 400;
    InvalidTtlFormat = "INVALID_TTL_FORMAT", 400;
    ValueTooLarge = "VALUE_TOO_LARGE", 400;
    InvalidIdempotencyKey = "INVALID_IDEMPOTENCY_KEY", 400;
    IdempotencyConflict = "IDEMPOTENCY_CONFLICT", 409;
    LeaseConflict = "LEASE_CONFLICT", 409;
    LeaseNotFound = "LEASE_NOT_FOUND", 404;
    ToolNotEnabled = "TOOL_NOT_ENABLED", 403;
    UnknownArgument = "UNKNOWN_ARGUMENT", 400;
    RecipientNotFound = "RECIPIENT_NOT_FOUND", 404;
    ThreadTooDeep = "THREAD_TOO_DEEP", 400;
    TaskNotFound = "TASK_NOT_FOUND", 404;
    TaskAlreadyClaimed = "TASK_ALREADY_CLAIMED", 409;
    InvalidTaskTransition = "INVALID_TASK_TRANSITION", 409;
    VersionConflict = "VERSION_CONFLICT", 409;
    // HTTP front end: requests refused before they reach a tool.
    HostNotAllowed = "HOST_NOT_ALLOWED", 403;
    OriginNotAllowed = "ORIGIN_NOT_ALLOWED", 403;
    OriginRequired = "ORIGIN_REQUIRED", 403;
    AuthRequired = "AUTH_REQUIRED", 401;
    CsrfCheckFailed = "CSRF_CHECK_FAILED", 403;
    TooManySessions = "TOO_MANY_SESSIONS", 503;
    NotFound = "NOT_FOUND", 404;
    // MCP calls the protocol layer refused before the tool ran (counted in the metrics).
    InvalidArguments = "INVALID_ARGUMENTS", 400;
    ProtocolError = "PROTOCOL_ERROR", 400;
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
            Self::HostNotAllowed | Self::OriginNotAllowed => {
                "connect through a host name the operator allows (ALLOWED_HOSTS, ALLOWED_ORIGINS)"
            }
            Self::AuthRequired => {
                "send the API key as X-API-Key, or an agent token as Authorization: Bearer"
            }
            Self::OriginRequired | Self::CsrfCheckFailed => "reload the dashboard page and retry",
            Self::TooManySessions => "try again later",
            Self::NotFound => "MCP is served at /mcp",
            _ => "correct the argument named in the error and call again",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn every_code_has_a_unique_wire_name_and_an_error_status() {
        let mut names = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let name = code.as_str();
            assert!(names.insert(name), "{name} appears twice");
            assert!(
                name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
                "{name} is not SCREAMING_SNAKE_CASE"
            );
            assert!(
                (400..600).contains(&code.http_status()),
                "{name} maps to {}",
                code.http_status()
            );
        }
    }
}
