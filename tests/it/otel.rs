//! OpenTelemetry traces (built with `--features otel`): each MCP request becomes a server span
//! named and attributed after the MCP semantic conventions, failures carry `error.type`.

use std::sync::{Arc, Mutex};

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::support::{Backend, TestApp, TestDb, call, login};

/// Keeps every exported span.
#[derive(Debug, Clone, Default)]
struct Collected(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Collected {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

#[tokio::test]
async fn mcp_requests_become_spans_after_the_semantic_conventions() {
    let spans = Collected::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(spans.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(shared_context_server::telemetry::otel::layer_for(&provider));
    // A current-thread runtime: the in-process server's tasks run on this thread, under this
    // subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);

    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db).await;
    let client = app.client().await;
    let token = login(&client, "alice", "claude", false).await;
    call(
        &client,
        "get_session",
        json!({"session_id": "session_0000000000000000", "auth_token": token}),
    )
    .await;
    let _ = provider.force_flush();

    let spans = spans.0.lock().unwrap().clone();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    assert!(names.contains(&"initialize"), "{names:?}");
    let auth = spans
        .iter()
        .find(|s| s.name == "tools/call authenticate_agent")
        .unwrap_or_else(|| panic!("no tools/call span: {names:?}"));
    assert_eq!(auth.span_kind, SpanKind::Server);
    assert_eq!(
        attribute(auth, "mcp.method.name").as_deref(),
        Some("tools/call")
    );
    assert_eq!(
        attribute(auth, "gen_ai.tool.name").as_deref(),
        Some("authenticate_agent")
    );
    assert_eq!(
        attribute(auth, "gen_ai.operation.name").as_deref(),
        Some("execute_tool")
    );
    assert_eq!(attribute(auth, "network.transport").as_deref(), Some("tcp"));
    assert!(attribute(auth, "jsonrpc.request.id").is_some());
    assert!(attribute(auth, "mcp.session.id").is_some_and(|id| !id.is_empty()));
    assert!(attribute(auth, "error.type").is_none());
    assert_eq!(auth.status, Status::Unset);

    let get = spans
        .iter()
        .find(|s| s.name == "tools/call get_session")
        .unwrap_or_else(|| panic!("no get_session span: {names:?}"));
    let error = attribute(get, "error.type").expect("error.type on a failed call");
    assert!(
        error.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
        "{error}"
    );
    assert!(
        matches!(get.status, Status::Error { .. }),
        "{:?}",
        get.status
    );
}
