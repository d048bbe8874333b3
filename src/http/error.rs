//! The one HTTP error answer: the code's status from the wire-error table
//! (`ErrorCode::http_status`), the error body every front end sends (`DomainError::body`), and
//! `Retry-After` when the error says when to retry.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::domain::{DomainError, ErrorCode};

pub(crate) fn error_response(err: &DomainError) -> Response {
    let status =
        StatusCode::from_u16(err.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, axum::Json(err.body())).into_response();
    if let Some(seconds) = err.retry_after
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// `error_response` for a code and its sentence.
pub(crate) fn refuse(code: ErrorCode, message: impl Into<String>) -> Response {
    error_response(&DomainError::new(code, message))
}
