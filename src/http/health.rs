//! `/health` (full report; 503 when the database is unreachable), `/health/live`, `/health/ready` (503 while
//! the database is unreachable or the server drains).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

use super::HttpState;

pub(super) async fn health(State(state): State<HttpState>) -> impl IntoResponse {
    let report = state.service.health().await;
    let status = if report.status == "unhealthy" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(report))
}

/// The process is up and serving HTTP.
pub(super) async fn live() -> impl IntoResponse {
    Json(json!({"status": "alive"}))
}

/// The database answers and the server is not shutting down: route traffic here.
pub(super) async fn ready(State(state): State<HttpState>) -> impl IntoResponse {
    if state.shutdown.is_cancelled() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "draining"})),
        );
    }
    match tokio::time::timeout(
        std::time::Duration::from_secs(2),
        state.service.store().ping(),
    )
    .await
    {
        Ok(Ok(())) => (StatusCode::OK, Json(json!({"status": "ready"}))),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not_ready"})),
        ),
    }
}
