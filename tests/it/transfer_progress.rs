//! Progress of `export`, `import` and `copy` on stderr through the real binary (rows per table
//! and a rate, as plain lines when stderr is not a terminal), and `export` refusing a terminal.

use std::process::{Command, Output, Stdio};

use serde_json::json;

use crate::support::{BIN, Backend, HttpServer, TestDb, call, login, new_session, server_env};

fn run(db: &TestDb, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .envs(server_env(db))
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// "VERB: TABLE done, N rows (R rows/s)" for each table in `tables`.
fn assert_progress(err: &str, verb: &str, tables: &[(&str, u64)]) {
    for (table, rows) in tables {
        let prefix = format!("{verb}: {table} done, {rows} rows (");
        let line = err
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no `{prefix}…` line in:\n{err}"));
        assert!(line.ends_with(" rows/s)"), "{line}");
    }
}

#[tokio::test]
async fn export_import_and_copy_report_progress_postgres() {
    let source = TestDb::new(Backend::Sqlite).await;
    {
        let server = HttpServer::start(&source, &[]).await;
        let client = server.client().await;
        let token = login(&client, "alice", "claude", false).await;
        let sid = new_session(&client, &token, "p").await;
        for i in 0..25 {
            call(
                &client,
                "add_message",
                json!({"session_id": sid, "content": format!("m{i}"), "auth_token": token}),
            )
            .await
            .ok();
        }
    }
    let dump = source.dir.join("dump.jsonl");
    let out = run(&source, &["export", "--output", dump.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_progress(
        &stderr(&out),
        "export",
        &[("sessions", 1), ("messages", 25)],
    );

    let fresh = TestDb::new(Backend::Sqlite).await;
    let out = run(&fresh, &["import", "--input", dump.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_progress(
        &stderr(&out),
        "import",
        &[("sessions", 1), ("messages", 25)],
    );

    let target = TestDb::new(Backend::Postgres).await;
    let out = run(
        &source,
        &["copy", "--from", &source.url, "--to", &target.url],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_progress(&stderr(&out), "copy", &[("sessions", 1), ("messages", 25)]);
}

/// `export` to a terminal (a pseudo-terminal made by `script`) is refused unless asked for.
#[tokio::test]
async fn export_refuses_a_terminal_unless_asked() {
    let db = TestDb::new(Backend::Sqlite).await;
    let status = Command::new(BIN)
        .arg("migrate")
        .envs(server_env(&db))
        .output()
        .unwrap();
    assert!(status.status.success());
    let on_terminal = |extra: &str| {
        Command::new("script")
            .args(["-qec", &format!("{BIN} export {extra}"), "/dev/null"])
            .envs(server_env(&db))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let refused = on_terminal("");
    let text = String::from_utf8_lossy(&refused.stdout);
    assert!(!refused.status.success(), "{text}");
    assert!(
        text.contains("--to-terminal") && !text.contains("\"format\""),
        "{text}"
    );
    let allowed = on_terminal("--to-terminal");
    let text = String::from_utf8_lossy(&allowed.stdout);
    assert!(allowed.status.success(), "{text}");
    assert!(text.contains("\"format\""), "the dump was written: {text}");
}
