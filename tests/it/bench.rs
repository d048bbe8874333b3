//! The load generator (the `scs-bench` crate, driven in-process) against the real server: every tool driven
//! in both HTTP modes with zero errors and percentiles per tool, its acknowledged writes really in
//! the database, a wrong key refused at the handshake with a sentence that says what to fix, and
//! the lease and task workloads with their end-of-run checks on both backends.

use serde_json::Value;

use super::support::*;

/// Runs the generator in-process, as `scs-bench --url URL --api-key KEY ... EXTRA` would.
async fn bench(url: &str, api_key: &str, extra: &[&str]) -> anyhow::Result<scs_bench::Outcome> {
    let mut args = vec![
        "scs-bench",
        "--url",
        url,
        "--api-key",
        api_key,
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
    let args =
        <scs_bench::BenchArgs as clap::Parser>::try_parse_from(args).expect("valid arguments");
    scs_bench::run(args).await
}

#[tokio::test]
async fn bench_drives_every_tool_in_both_http_modes() {
    for stateless in ["false", "true"] {
        let db = TestDb::new(Backend::Sqlite).await;
        let server = HttpServer::start(&db, &[("MCP_STATELESS", stateless)]).await;
        let out = bench(&server.mcp_url(), API_KEY, &["--json"])
            .await
            .unwrap_or_else(|e| panic!("stateless={stateless}: {e:#}"));
        out.check(false).expect("no call failed");
        let report: Value = serde_json::from_str(&out.output).expect("--json prints JSON");
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
    let err = bench(&server.mcp_url(), "not-the-key-0123456789", &[])
        .await
        .expect_err("a wrong key must fail the bench");
    let stderr = format!("{err:#}");
    assert!(
        stderr.contains("MCP handshake") && stderr.contains("401") && stderr.contains("API_KEY"),
        "the error names the handshake, the status and the setting to fix: {stderr}"
    );
}

/// `--workload lease` and `--workload task` on the real server: calls made, no errors, and the
/// end-of-run check passed (no two holders of one lease, every task claimed exactly once).
async fn bench_coordination_workloads_check_themselves(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    for (workload, rate) in [("lease", "acquisitions/s"), ("task", "claims/s")] {
        let out = bench(&server.mcp_url(), API_KEY, &["--workload", workload])
            .await
            .unwrap_or_else(|e| panic!("{workload}: {e:#}"));
        out.check(false)
            .unwrap_or_else(|e| panic!("{workload}: {e:#}\n{}", out.output));
        assert!(out.output.contains(rate), "{workload}: {}", out.output);
        let passed = if workload == "lease" {
            "distinct fencing tokens"
        } else {
            "tasks created, each claimed exactly once"
        };
        assert!(out.output.contains(passed), "{workload}: {}", out.output);
        assert!(
            out.output.contains("  check: ") && !out.output.contains("check FAILED"),
            "{workload}: {}",
            out.output
        );
    }
}

contract!(bench_coordination_workloads_check_themselves);
