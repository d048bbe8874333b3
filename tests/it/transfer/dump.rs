//! `transfer export` and `import` through a file and stdout, non-empty targets, and damaged dumps that change nothing.

use super::*;

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect()
}

/// The highest `NNNN_` prefix among the backend's migration files.
fn newest_migration(dir: &str) -> i64 {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dir);
    std::fs::read_dir(&path)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.split('_').next()?.parse::<i64>().ok()
        })
        .max()
        .expect("migrations exist")
}

fn check_dump_shape(dump: &[Value], source: &Snapshot, backend: &str, tokens: bool) {
    let header = &dump[0];
    assert_eq!(header["format"], json!("shared-context-server/export"));
    assert_eq!(header["version"], json!(4));
    assert_eq!(header["source_backend"], json!(backend));
    // The newest migration of the source backend, read from migrations/ so a new one needs no edit here.
    let newest = newest_migration(if backend == "postgresql" {
        "postgres"
    } else {
        "sqlite"
    });
    assert_eq!(header["schema_version"], json!(newest));
    assert!(header["exported_at"].as_str().unwrap().ends_with('Z'));
    let tables: Vec<&str> = dump[1..dump.len() - 1]
        .iter()
        .map(|l| l["table"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = Vec::new();
    for table in TABLES {
        if table != "agent_tokens" || tokens {
            expected.extend(std::iter::repeat_n(table, source[table].len()));
        }
    }
    assert_eq!(
        tables, expected,
        "rows come table by table in foreign-key order"
    );
    let ids: Vec<i64> = dump
        .iter()
        .filter(|l| l["table"] == "messages")
        .map(|l| l["id"].as_i64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "messages in id order");
    let counters = &dump[dump.len() - 1]["counters"];
    for (table, key) in [
        ("sessions", "sessions"),
        ("messages", "messages"),
        ("leases", "leases"),
        ("tasks", "tasks"),
    ] {
        assert!(
            counters[key].as_i64().unwrap() >= max_id(source, table),
            "the {key} counter must cover every {table} key: {counters}"
        );
    }
    let end = &dump[dump.len() - 1]["end"];
    assert_eq!(end["messages"], json!(source["messages"].len()));
    assert_eq!(
        end["agent_tokens"],
        json!(if tokens {
            source["agent_tokens"].len()
        } else {
            0
        })
    );
    let memory = dump.iter().find(|l| l["table"] == "agent_memory").unwrap();
    assert!(
        memory.get("scope").is_none(),
        "the generated scope is not dumped: {memory}"
    );
    let message = dump.iter().find(|l| l["table"] == "messages").unwrap();
    let at = message["created_at"].as_str().unwrap();
    assert_eq!(
        at.len(),
        "2026-01-01T00:00:00.000000Z".len(),
        "microseconds, UTC: {at}"
    );
}

#[tokio::test]
async fn transfer_export_import_file_sqlite_to_postgres() {
    let src = TestDb::new(Backend::Sqlite).await;
    let filled = fill(&src).await;
    let expected = snapshot(&src).await;
    let file = src.dir.join("dump.jsonl");
    let out = run(
        &["export", "--output", file.to_str().unwrap()],
        &server_env(&src),
        None,
    )
    .await;
    assert!(out.ok, "export failed: {}", out.stderr);
    assert!(
        out.stdout.is_empty(),
        "a dump to a file prints nothing on stdout: {}",
        out.stdout
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    check_dump_shape(&lines(&file), &expected, "sqlite", true);

    // Import from standard input.
    let dst = TestDb::new(Backend::Postgres).await;
    let out = run(&["import", "--input", "-"], &server_env(&dst), Some(&file)).await;
    assert!(out.ok, "import failed: {}", out.stderr);
    assert!(out.stdout.contains("imported"), "{}", out.stdout);
    assert_eq!(
        snapshot(&dst).await,
        expected,
        "every row must be reproduced exactly"
    );
    check_live_copy(&dst, &filled).await;
}

#[tokio::test]
async fn transfer_export_import_stdout_postgres_to_sqlite() {
    let src = TestDb::new(Backend::Postgres).await;
    let filled = fill(&src).await;
    let expected = snapshot(&src).await;
    // Export to standard output; logs stay on stderr.
    let out = run(&["export"], &server_env(&src), None).await;
    assert!(out.ok, "export failed: {}", out.stderr);
    let file = src.dir.join("dump.jsonl");
    std::fs::write(&file, &out.stdout).unwrap();
    check_dump_shape(&lines(&file), &expected, "postgresql", true);

    let dst = TestDb::new(Backend::Sqlite).await;
    let out = run(
        &["import", "--input", file.to_str().unwrap()],
        &server_env(&dst),
        None,
    )
    .await;
    assert!(out.ok, "import failed: {}", out.stderr);
    assert_eq!(
        snapshot(&dst).await,
        expected,
        "every row must be reproduced exactly"
    );
    check_live_copy(&dst, &filled).await;

    // --no-tokens leaves the token hashes out.
    let no_tokens = src.dir.join("no-tokens.jsonl");
    let out = run(
        &["export", "--no-tokens", "-o", no_tokens.to_str().unwrap()],
        &server_env(&src),
        None,
    )
    .await;
    assert!(out.ok, "{}", out.stderr);
    check_dump_shape(&lines(&no_tokens), &expected, "postgresql", false);
    let dst = TestDb::new(Backend::Sqlite).await;
    let out = run(
        &["import", "-i", no_tokens.to_str().unwrap()],
        &server_env(&dst),
        None,
    )
    .await;
    assert!(out.ok, "{}", out.stderr);
    let imported = snapshot(&dst).await;
    assert!(imported["agent_tokens"].is_empty());
    assert_eq!(imported["messages"], expected["messages"]);
}

pub(super) async fn transfer_import_refuses_non_empty(backend: Backend) {
    let src = TestDb::new(backend).await;
    fill(&src).await;
    let file = src.dir.join("dump.jsonl");
    assert!(
        run(
            &["export", "-o", file.to_str().unwrap()],
            &server_env(&src),
            None
        )
        .await
        .ok
    );

    // A target with only a session (and its audit row) already counts as in use.
    let dst = TestDb::new(backend).await;
    {
        let server = HttpServer::start(&dst, &[]).await;
        let client = server.client().await;
        let token = login(&client, "carol", "claude", false).await;
        call(
            &client,
            "create_session",
            json!({"purpose": "already here", "auth_token": token}),
        )
        .await
        .ok();
    }
    let before = snapshot(&dst).await;
    let out = run(
        &["import", "--input", file.to_str().unwrap()],
        &server_env(&dst),
        None,
    )
    .await;
    assert!(!out.ok, "import into a non-empty database must fail");
    assert!(
        out.stderr.contains("not empty")
            && out.stderr.contains("sessions")
            && out.stderr.contains("nothing was imported"),
        "{}",
        out.stderr
    );
    assert_eq!(
        snapshot(&dst).await,
        before,
        "a refused import changes nothing"
    );

    let out = copy(&src, &dst, &[]).await;
    assert!(
        !out.ok && out.stderr.contains("not empty") && out.stderr.contains("nothing was copied"),
        "{}",
        out.stderr
    );
    assert_eq!(
        snapshot(&dst).await,
        before,
        "a refused copy changes nothing"
    );
}

const SID: &str = "session_0123456789abcdef";

/// A valid dump of one session and `n` messages (each replying to the one before), as lines.
fn synthetic_dump(n: i64) -> Vec<String> {
    let at = "2026-03-04T05:06:07.123456Z";
    let mut lines = vec![
        json!({"format": "shared-context-server/export", "version": 1, "exported_at": at, "source_backend": "sqlite", "schema_version": 3}).to_string(),
        json!({"table": "sessions", "seq": 7, "id": SID, "purpose": "synthetic", "created_by": "gen", "metadata": {}, "is_active": true, "created_at": at, "updated_at": at}).to_string(),
    ];
    for id in 1..=n {
        lines.push(
            json!({"table": "messages", "id": id * 3, "session_id": SID, "sender": "gen", "sender_type": "claude",
                   "content": format!("synthetic message {id} quokka"), "visibility": "public", "message_type": "agent_response",
                   "metadata": {"i": id}, "parent_message_id": if id > 1 { json!((id - 1) * 3) } else { json!(null) }, "created_at": at})
            .to_string(),
        );
    }
    lines.push(json!({"end": {"sessions": 1, "messages": n, "agent_memory": 0, "audit_log": 0, "agent_tokens": 0}}).to_string());
    lines
}

pub(super) async fn transfer_import_damaged_dump_changes_nothing(backend: Backend) {
    let dst = TestDb::new(backend).await;
    let empty = {
        assert!(run(&["migrate"], &server_env(&dst), None).await.ok);
        snapshot(&dst).await
    };
    assert_eq!(counts(&empty), vec![0; TABLES.len()]);
    let good = synthetic_dump(2_500);
    let file = dst.dir.join("damaged.jsonl");
    let attempt = |lines: Vec<String>| {
        let file = file.clone();
        let env = server_env(&dst);
        async move {
            std::fs::write(&file, lines.join("\n") + "\n").unwrap();
            run(&["import", "--input", file.to_str().unwrap()], &env, None).await
        }
    };

    // Each damage comes after more than two full batches were inserted, and must roll them back.
    let mut bad_json = good.clone();
    bad_json[2_400] = r#"{"table":"messages","id":"#.into();
    let mut unknown_table = good.clone();
    unknown_table[2_300] = json!({"table": "users", "id": 1}).to_string();
    let mut orphan = good.clone();
    orphan[2_200] = orphan[2_200].replace(SID, "session_ffffffffffffffff");
    let mut wrong_count = good.clone();
    *wrong_count.last_mut().unwrap() = wrong_count.last().unwrap().replace("2500", "2501");
    let mut out_of_order = good.clone();
    out_of_order.insert(2_450, json!({"table": "sessions", "seq": 8, "id": "session_1111111111111111", "purpose": "late", "created_by": "gen", "metadata": {}, "is_active": true, "created_at": "2026-03-04T05:06:07Z", "updated_at": "2026-03-04T05:06:07Z"}).to_string());
    let truncated = good[..good.len() - 1].to_vec();
    let mut bad_header = good.clone();
    bad_header[0] = bad_header[0].replace("\"version\":1", "\"version\":9");
    // A version 1 dump of a source that had direct messages lacks their recipients.
    let mut lossy = good.clone();
    lossy[0] = lossy[0].replace("\"schema_version\":3", "\"schema_version\":6");

    for (name, lines, expect) in [
        ("bad JSON", bad_json, vec!["line 2401", "not valid JSON"]),
        (
            "unknown table",
            unknown_table,
            vec!["line 2301", "unknown variant `users`"],
        ),
        (
            "missing session",
            orphan,
            vec!["lines 2003-2502 (messages rows) could not be inserted"],
        ),
        ("wrong end count", wrong_count, vec!["line 2503", "damaged"]),
        (
            "out of order",
            out_of_order,
            vec!["line 2451", "a sessions row after messages rows"],
        ),
        ("truncated", truncated, vec!["incomplete"]),
        (
            "newer version",
            bad_header,
            vec!["line 1", "format version 9"],
        ),
        (
            "version 1 of a source with direct messages",
            lossy,
            vec![
                "line 1",
                "direct-message recipients",
                "--accept-lost-recipients",
            ],
        ),
    ] {
        let out = attempt(lines).await;
        assert!(!out.ok, "{name}: the import must fail");
        for needle in expect {
            assert!(
                out.stderr.contains(needle),
                "{name}: '{needle}' missing from: {}",
                out.stderr
            );
        }
        assert_eq!(
            snapshot(&dst).await,
            empty,
            "{name}: nothing may be imported"
        );
    }

    // The same database then takes the undamaged dump; ids, search and counters work.
    let out = attempt(good).await;
    assert!(out.ok, "{}", out.stderr);
    let imported = snapshot(&dst).await;
    assert_eq!(counts(&imported), vec![1, 0, 2_500, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(imported["sessions"][0][0], json!(7));
    assert_eq!(imported["messages"][2_499][0], json!(7_500));
    assert_eq!(imported["messages"][2_499][8], json!(7_497));

    let server = HttpServer::start(&dst, &[]).await;
    let client = server.client().await;
    let token = login(&client, "zed", "claude", false).await;
    let found = call(
        &client,
        "search_context",
        json!({"session_id": SID, "query": "synthetic message 2345 quokka", "auth_token": token}),
    )
    .await
    .ok();
    assert_eq!(
        found["results"][0]["message"]["id"],
        json!(2_345 * 3),
        "{found}"
    );
    let id = call(
        &client,
        "add_message",
        json!({"session_id": SID, "content": "next", "auth_token": token}),
    )
    .await
    .ok()["message_id"]
        .as_i64()
        .unwrap();
    assert!(id > 7_500, "new id {id} must follow the imported ids");
    let sid = new_session(&client, &token, "next").await;
    drop(client);
    drop(server);
    let after = snapshot(&dst).await;
    let seq = after["sessions"]
        .iter()
        .find(|r| r[1] == json!(sid))
        .unwrap()[0]
        .as_i64()
        .unwrap();
    assert!(
        seq > 7,
        "new session seq {seq} must follow the imported seq"
    );
}
