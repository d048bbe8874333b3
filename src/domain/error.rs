//! The error every rule speaks: a stable code, one sentence, and what to call next; and the one
//! body every front end sends for it.

use serde_json::{Map, Value};

pub use super::error_code::ErrorCode;

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
    pub details: Map<String, Value>,
}

impl DomainError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            suggestions: Vec::new(),
            retry_after: None,
            details: Map::new(),
        }
    }

    pub fn suggest(mut self, suggestion: impl Into<String>) -> Self {
        self.suggestions.push(suggestion.into());
        self
    }

    /// Adds a field to the error body.
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
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

    /// The error body every front end sends (a tool's `structuredContent`, an HTTP error's
    /// JSON): `success: false`, the code, the sentence, what to do next (the code's default when
    /// none was given), `retry_after` for transient failures, and the code's extra fields.
    pub fn body(&self) -> Value {
        let suggestions = if self.suggestions.is_empty() {
            vec![Value::from(self.code.default_suggestion())]
        } else {
            self.suggestions
                .iter()
                .map(|s| Value::from(s.as_str()))
                .collect()
        };
        let mut body = Map::with_capacity(5 + self.details.len());
        body.insert("success".into(), false.into());
        body.insert("code".into(), self.code.as_str().into());
        body.insert("error".into(), self.message.as_str().into());
        body.insert("suggestions".into(), Value::Array(suggestions));
        if let Some(seconds) = self.retry_after {
            body.insert("retry_after".into(), seconds.into());
        }
        for (key, value) in &self.details {
            body.entry(key.clone()).or_insert_with(|| value.clone());
        }
        Value::Object(body)
    }
}
