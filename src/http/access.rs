//! The access log (one line per request at debug, target `shared_context_server::http::access`)
//! and the `scs_http_responses_total{status}` counter. It wraps every route, so refusals by the
//! Host check and the credential gate (403, 401), body limits (413) and rate limits are counted.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::HttpState;

pub(super) async fn observe(
    State(state): State<HttpState>,
    request: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    // The path only: a query string could carry something an operator should not see in logs.
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    state.service.metrics().http_responses.record(status);
    tracing::debug!(
        %method,
        path,
        status,
        // Time to the response head; a streamed body (SSE) goes on after this.
        ms = started.elapsed().as_secs_f64() * 1000.0,
        "http"
    );
    response
}
