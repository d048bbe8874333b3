//! The load generator (`shared-context-server bench`) against the real server: every tool driven
//! in both HTTP modes with zero errors and percentiles per tool, its acknowledged writes really in
//! the database, and a wrong key refused at the handshake with a sentence that says what to fix.

use serde_json::Value;

use super::support::*;

async fn bench(url: &str, api_key: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "bench",
        "--url",
        url,
        "--agents",
        "4",
        "--agents-per-session",
        "2",
        "--messages-per-session",
        "30",
        "--duration",
        "1.5",
        "--warmup",
        "0",
    ];
    args.extend_from_slice(extra);
    tokio::process::Command::new(BIN)
        .args(&args)
        .env("API_KEY", api_key)
        .env_remove("DATABASE_URL")
        .output()
        .await
        .expect("run bench")
}

#[tokio::test]
async fn bench_drives_every_tool_in_both_http_modes() {
    for stateless in ["false", "true"] {
        let db = TestDb::new(Backend::Sqlite).await;
        let server = HttpServer::start(&db, &[("MCP_STATELESS", stateless)]).await;
        let out = bench(&server.mcp_url(), API_KEY, &["--json"]).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "stateless={stateless}: {stderr}");
        let report: Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
        assert_eq!(report["errors"], 0, "stateless={stateless}: {report}");
        assert_eq!(report["preloaded_messages"], 60, "{report}");
        for tool in [
            "add_message",
            "get_messages",
            "search_context",
            "set_memory",
            "get_memory",
        ] {
            let calls = report["tools"][tool]["calls"].as_u64().unwrap_or(0);
            assert!(
                calls > 0,
                "stateless={stateless}: {tool} was not called: {report}"
            );
            assert!(
                report["tools"][tool]["latency_ms"]["p99_ms"]
                    .as_f64()
                    .is_some(),
                "{tool} has percentiles: {report}"
            );
        }
        // Every acknowledged post is in the database; posts answered after the end are not
        // counted by the bench but were written, hence at least.
        let posted = report["tools"]["add_message"]["ok"].as_i64().unwrap();
        let stored = stored_rows(&db).await.len() as i64;
        assert!(
            stored >= 60 + posted,
            "stateless={stateless}: {stored} rows for 60 preloaded + {posted} acknowledged posts"
        );
    }
}

#[tokio::test]
async fn bench_refuses_a_wrong_key_at_the_handshake() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = HttpServer::start(&db, &[]).await;
    let out = bench(&server.mcp_url(), "not-the-key-0123456789", &[]).await;
    assert!(!out.status.success(), "a wrong key must fail the bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("MCP handshake") && stderr.contains("401") && stderr.contains("API_KEY"),
        "the error names the handshake, the status and the setting to fix: {stderr}"
    );
}
