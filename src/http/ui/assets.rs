//! The dashboard's files, compiled into the binary: it works offline and `cargo build` is the
//! only build step.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_str!(concat!("assets/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

static ASSETS: &[Asset] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("sessions.js", JS),
    asset!("session.js", JS),
    asset!("coordination.js", JS),
    asset!("operations.js", JS),
    asset!("charts.js", JS),
    asset!("icon.svg", "image/svg+xml"),
];

fn serve(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Revalidate each load: the files change with the binary, and loopback makes it cheap.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

pub(super) async fn index() -> Response {
    serve(
        include_str!("assets/index.html"),
        "text/html; charset=utf-8",
    )
}

pub(super) async fn file(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(a) => serve(a.body, a.content_type),
        None => (StatusCode::NOT_FOUND, "no such dashboard file").into_response(),
    }
}
