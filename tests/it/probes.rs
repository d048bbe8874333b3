//! Operators' view of the HTTP server: probes and scrapes with any Host, 404 for unknown paths,
//! session termination as clients expect, readiness and event streams on shutdown, and a SIGTERM
//! with an open event stream that exits at once.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared_context_server::auth::ApiKeys;
use shared_context_server::domain::PermissionTable;
use shared_context_server::domain::input::InputLimits;
use shared_context_server::service::{
    IdempotencySettings, MemorySettings, Service, ServiceSettings,
};
use tokio_util::sync::CancellationToken;

use crate::support::{API_KEY, Backend, HttpServer, TestDb, contract, login, new_session};

async fn get(url: &str, host: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(host) = host {
        req = req.header("host", host);
    }
    let resp = req.send().await.expect("GET");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

#[tokio::test]
async fn probes_and_scrapes_accept_any_host_and_unknown_paths_are_404() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = HttpServer::start(&db, &[]).await;
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    // What Kubernetes probes and Prometheus send: a pod IP or a service name.
    for host in [format!("10.1.2.3:{port}"), format!("scs-server:{port}")] {
        for path in ["/health", "/health/live", "/health/ready", "/metrics"] {
            let (status, body) = get(&format!("{}{path}", server.base), Some(&host)).await;
            assert_eq!(status, 200, "{path} with Host {host}: {body}");
        }
        // The MCP endpoint still refuses a foreign Host (DNS rebinding).
        let (status, _) = get(&server.mcp_url(), Some(&host)).await;
        assert_eq!(status, 403, "/mcp with Host {host}");
    }
    for path in [
        "/nope",
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let (status, body) = get(&format!("{}{path}", server.base), None).await;
        assert_eq!(status, 404, "{path} without a key: {body}");
        let body: Value = serde_json::from_str(&body).expect("JSON error body");
        assert_eq!(body["code"], "NOT_FOUND");
    }
    // The credential gate is unchanged on the MCP routes.
    let (status, _) = get(&server.mcp_url(), None).await;
    assert_eq!(status, 401);
}

/// The Python `mcp` client warns "Session termination failed: 202" unless DELETE answers 200/204.
#[tokio::test]
async fn session_termination_answers_200() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = HttpServer::start(&db, &[]).await;
    let http = reqwest::Client::new();
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let resp = http
        .post(server.mcp_url())
        .header("x-api-key", API_KEY)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(init.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let session = resp.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let deleted = http
        .delete(server.mcp_url())
        .header("x-api-key", API_KEY)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 200);
    // The session is really gone.
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let after = http
        .post(server.mcp_url())
        .header("x-api-key", API_KEY)
        .header("mcp-session-id", &session)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(list.to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    assert!(after >= 400, "a request in the deleted session: {after}");
}

async fn sigterm_with_open_event_stream_exits_at_once(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut server = HttpServer::start(&db, &[("SHUTDOWN_GRACE_SECONDS", "10")]).await;
    let client = server.client().await;
    let token = login(&client, "alice", "claude", false).await;
    let sid = new_session(&client, &token, "stream open at shutdown").await;
    let mut stream = reqwest::Client::new()
        .get(format!("{}/sessions/{sid}/events", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    drop(client);
    let pid = server.child.id().expect("pid");
    let sent = Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(15), server.child.wait())
        .await
        .expect("exits after SIGTERM")
        .unwrap();
    let took = sent.elapsed();
    assert!(status.success(), "clean exit: {status:?}");
    assert!(
        took < Duration::from_secs(2),
        "SIGTERM with an open event stream took {took:?}; the stream must end at once"
    );
    // The stream ended cleanly (end of body), not by a reset after a timeout.
    let rest = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(rest.is_ok(), "the event stream ended");
}

/// Readiness turns 503 as soon as shutdown begins, while the listener still answers. In process:
/// through the real router on a real socket, with the router's shutdown token cancelled but the
/// listener kept open (the binary stops accepting at the same moment, so no probe could observe it).
async fn readiness_turns_503_when_shutdown_begins(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store(2).await;
    let service = Service::new(
        store,
        ServiceSettings {
            keys: ApiKeys {
                agent: API_KEY.into(),
                admin: None,
            },
            permissions: PermissionTable::default(),
            limits: InputLimits::default(),
            token_ttl: Duration::from_secs(3600),
            rate_limit_per_minute: 0,
            rate_limit_burst: 0,
            wait_cap: Duration::from_secs(60),
            token_cache_ttl: Duration::from_secs(30),
            memory: MemorySettings::default(),
            idempotency: IdempotencySettings::default(),
            retention: Default::default(),
            database_url: db.url.clone(),
            clock: std::sync::Arc::new(shared_context_server::service::SystemClock),
            loop_guards: Default::default(),
            leases: Default::default(),
        },
    );
    let draining = CancellationToken::new();
    let app = shared_context_server::http::router(
        service,
        shared_context_server::http::HttpSettings {
            allowed_hosts: vec!["127.0.0.1".into()],
            allowed_origins: vec![],
            max_request_body_bytes: 1 << 20,
            stateless: false,
            tools: shared_context_server::mcp::ToolProfile::all(),
        },
        draining.clone(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let served = tokio::spawn(shared_context_server::http::serve(
        listener,
        app,
        stop.clone(),
    ));
    let ready = format!("{base}/health/ready");
    assert_eq!(get(&ready, None).await.0, 200);
    draining.cancel();
    let (status, body) = get(&ready, None).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("draining"), "{body}");
    assert_eq!(
        get(&format!("{base}/health/live"), None).await.0,
        200,
        "still alive while draining"
    );
    stop.cancel();
    served.await.unwrap().unwrap();
}

contract!(
    sigterm_with_open_event_stream_exits_at_once,
    readiness_turns_503_when_shutdown_begins,
);
