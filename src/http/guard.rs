//! Request guards: Host/Origin allow-lists (DNS rebinding) and the credential gate on `/mcp`.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;

use super::HttpState;
use super::error::{error_response, refuse};
use crate::domain::{DomainError, ErrorCode};
use crate::mcp::HttpCredentials;

fn host_only(value: &str) -> &str {
    let value = value.trim();
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match value.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !host.contains(':') => {
            host
        }
        _ => value,
    }
}

fn allowed(list: &[String], host: &str) -> bool {
    list.iter()
        .any(|a| a == "*" || a.eq_ignore_ascii_case(host))
}

pub(super) async fn check_host_and_origin(
    State(state): State<HttpState>,
    request: Request,
    next: Next,
) -> Response {
    let settings = &state.settings;
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(host_only)
        .unwrap_or("");
    if !settings.allowed_hosts.is_empty() && !allowed(&settings.allowed_hosts, host) {
        return refuse(
            ErrorCode::HostNotAllowed,
            format!("Host '{host}' is not allowed; the operator can add it to ALLOWED_HOSTS"),
        );
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
        let origin_host = host_only(origin_host.split('/').next().unwrap_or(origin_host));
        let ok = if settings.allowed_origins.is_empty() {
            settings.allowed_hosts.is_empty() || allowed(&settings.allowed_hosts, origin_host)
        } else {
            settings
                .allowed_origins
                .iter()
                .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
        };
        if !ok {
            return refuse(
                ErrorCode::OriginNotAllowed,
                format!(
                    "Origin '{origin}' is not allowed; the operator can add it to ALLOWED_ORIGINS"
                ),
            );
        }
    }
    next.run(request).await
}

fn credentials(headers: &HeaderMap) -> HttpCredentials {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let bearer = text(header::AUTHORIZATION.as_str()).and_then(|v| {
        let (scheme, token) = v.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned())
    });
    HttpCredentials {
        bearer,
        api_key: text("x-api-key").map(str::to_owned),
    }
}

/// `/mcp` needs a valid API key or a valid agent token; anything else is 401.
pub(super) async fn require_credentials(
    State(state): State<HttpState>,
    mut request: Request,
    next: Next,
) -> Response {
    let creds = credentials(request.headers());
    let key_ok = creds
        .api_key
        .as_deref()
        .is_some_and(|k| state.service.keys().check(k).is_some());
    let mut unavailable = false;
    let token_ok = match (&creds.bearer, key_ok) {
        (_, true) | (None, _) => false,
        (Some(token), false) => match state.service.identity_for_token(token).await {
            Ok(_) => true,
            Err(err) => {
                unavailable = err.code == ErrorCode::DatabaseUnavailable;
                false
            }
        },
    };
    if unavailable {
        return error_response(&DomainError::unavailable());
    }
    if !key_ok && !token_ok {
        let message = match (&creds.api_key, &creds.bearer) {
            (None, None) => {
                "send the server API key as X-API-Key, or an agent token as Authorization: Bearer sct_…"
            }
            (Some(_), _) => "the X-API-Key is wrong",
            (None, Some(_)) => {
                "the bearer token is unknown, expired or revoked; call authenticate_agent with the API key"
            }
        };
        let mut response = refuse(ErrorCode::AuthRequired, message);
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        return response;
    }
    request.extensions_mut().insert(creds);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::host_only;

    #[test]
    fn host_parsing() {
        assert_eq!(host_only("localhost:23456"), "localhost");
        assert_eq!(host_only("127.0.0.1"), "127.0.0.1");
        assert_eq!(host_only("[::1]:80"), "::1");
        assert_eq!(host_only("::1"), "::1");
    }
}
