//! The web dashboard at `/ui/`: embedded assets (no CDN, no build step), cookie sign-in, and the
//! JSON and event stream the page reads. Assets live in `assets/` beside this code so the page and
//! the endpoints it calls change together; `include_str!` puts them in the binary.

mod api;
mod assets;
mod auth;
mod cookie;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Redirect;
use axum::routing::{get, post};

pub(crate) use cookie::UiSessions;

use super::HttpState;

/// No inline script or style, nothing from elsewhere, never framed.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

async fn security_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

pub(super) fn routes(state: HttpState) -> Router<HttpState> {
    let data = Router::new()
        .route("/me", get(api::me))
        .route("/sessions", get(api::sessions))
        .route("/sessions/{id}", get(api::session))
        .route(
            "/sessions/{id}/messages",
            get(api::messages).post(api::post),
        )
        .route("/sessions/{id}/events", get(api::events))
        .route("/sessions/{id}/coordination", get(api::coordination))
        .route("/sessions/{id}/search", get(api::search))
        .route("/sessions/{id}/close", post(api::close))
        .route("/operations", get(api::operations))
        .route("/audit", get(api::audit))
        .route("/signout", post(auth::sign_out))
        .layer(axum::middleware::from_fn_with_state(
            state,
            auth::require_session,
        ));
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(assets::index))
        .route("/ui/assets/{file}", get(assets::file))
        .route("/ui/api/signin", post(auth::sign_in))
        .nest("/ui/api", data)
        .layer(axum::middleware::from_fn(security_headers))
}
