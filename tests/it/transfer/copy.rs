//! `transfer copy` between live databases, both directions, and its refusals.

use super::*;

async fn copy_round_trip(from: Backend, to: Backend) {
    let src = TestDb::new(from).await;
    let filled = fill(&src).await;
    let dst = TestDb::new(to).await;
    let out = copy(&src, &dst, &[]).await;
    assert!(out.ok, "copy failed: {}", out.stderr);
    let expected = snapshot(&src).await;
    for table in TABLES {
        let line = out
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(table))
            .unwrap_or_else(|| panic!("no {table} count: {}", out.stdout));
        assert_eq!(
            line.split_whitespace().nth(1),
            Some(expected[table].len().to_string().as_str()),
            "{}",
            out.stdout
        );
    }
    assert_eq!(
        snapshot(&dst).await,
        expected,
        "every row must be reproduced exactly"
    );
    // The source is left as it was.
    assert_eq!(snapshot(&src).await, expected);
    check_live_copy(&dst, &filled).await;
}

#[tokio::test]
async fn transfer_copy_sqlite_to_postgres() {
    copy_round_trip(Backend::Sqlite, Backend::Postgres).await;
}

#[tokio::test]
async fn transfer_copy_postgres_to_sqlite() {
    copy_round_trip(Backend::Postgres, Backend::Sqlite).await;
}

#[tokio::test]
async fn transfer_copy_refuses_a_missing_sqlite_source_and_masks_passwords() {
    let dir = temp_dir();
    let missing = format!("sqlite:{}", dir.join("nope.db").display());
    let out = run(
        &[
            "copy",
            "--from",
            &missing,
            "--to",
            "postgres://scs:hunter2secret@127.0.0.1:1/x",
        ],
        &[],
        None,
    )
    .await;
    assert!(!out.ok);
    assert!(out.stderr.contains("no database at"), "{}", out.stderr);
    assert!(
        !dir.join("nope.db").exists(),
        "a missing source is not created"
    );

    let src = TestDb::new(Backend::Sqlite).await;
    assert!(run(&["migrate"], &server_env(&src), None).await.ok);
    let out = run(
        &[
            "copy",
            "--from",
            &src.url,
            "--to",
            "postgres://scs:hunter2secret@127.0.0.1:1/x",
        ],
        &[],
        None,
    )
    .await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("postgres://scs:***@127.0.0.1:1/x"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("hunter2secret") && !out.stdout.contains("hunter2secret"),
        "{}",
        out.stderr
    );
    let _ = std::fs::remove_dir_all(dir);
}
