//! `doctor` through the real binary: what it finds on a fresh set-up, after `migrate`, with a
//! readable key file, an unlisted listen address, an unreachable or newer database and a missing
//! TLS file; exit status 1 only when something must be fixed. Both backends.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::support::{Backend, TestDb, temp_dir};

fn doctor(home: &Path, env: &[(&str, &str)], args: &[&str]) -> (i32, String) {
    let out: Output = Command::new(crate::support::BIN)
        .arg("doctor")
        .args(args)
        .env_clear()
        .env("XDG_CONFIG_HOME", home)
        .env("SCS_DATA_DIR", home.join("data"))
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap(), text)
}

fn migrate(home: &Path, url: &str) {
    let out = Command::new(crate::support::BIN)
        .args(["migrate", "--database-url", url])
        .env_clear()
        .env("SCS_DATA_DIR", home.join("data"))
        .env("XDG_CONFIG_HOME", home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[track_caller]
fn has(text: &str, level: &str, words: &str) {
    assert!(
        text.lines()
            .any(|l| l.starts_with(level) && l.contains(words)),
        "no `{level} … {words}` in:\n{text}"
    );
}

async fn fresh_then_migrated(backend: Backend) {
    let db = TestDb::new(backend).await;
    let home = temp_dir();
    let url = db.url.as_str();
    // Nothing created yet: warnings, exit 0, and doctor itself creates nothing.
    let (code, text) = doctor(&home, &[], &["--database-url", url]);
    assert_eq!(code, 0, "{text}");
    has(&text, "warn", "api_key");
    match backend {
        Backend::Sqlite => has(&text, "warn", "does not exist yet"),
        Backend::Postgres => has(&text, "warn", "not applied yet"),
    }
    assert!(
        !home.join("data").exists(),
        "doctor created the data directory"
    );
    // After `migrate` (which also generates the keys): all ok.
    migrate(&home, url);
    let (code, text) = doctor(&home, &[], &["--database-url", url]);
    assert_eq!(code, 0, "{text}");
    has(&text, "ok", "reachable");
    has(&text, "ok", "migrations applied");
    has(&text, "ok", "api_key in");
    assert!(text.contains("0 problem(s), 0 warning(s)"), "{text}");
}

#[tokio::test]
async fn doctor_on_a_fresh_and_a_migrated_database_sqlite() {
    fresh_then_migrated(Backend::Sqlite).await;
}

#[tokio::test]
async fn doctor_on_a_fresh_and_a_migrated_database_postgres() {
    fresh_then_migrated(Backend::Postgres).await;
}

#[tokio::test]
async fn doctor_fails_on_readable_keys_and_unlisted_hosts() {
    let db = TestDb::new(Backend::Sqlite).await;
    let home = temp_dir();
    migrate(&home, &db.url);
    let key = home.join("data").join("api_key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let (code, text) = doctor(
        &home,
        &[("DATABASE_URL", &db.url), ("HTTP_HOST", "10.1.2.3")],
        &[],
    );
    assert_eq!(code, 1, "{text}");
    has(&text, "FAIL", "others can read the key");
    assert!(
        text.contains(&format!("fix: chmod 600 {}", key.display())),
        "{text}"
    );
    has(&text, "FAIL", "10.1.2.3, which is not an allowed Host");
    assert!(text.contains("SCS_ALLOWED_HOSTS"), "{text}");
    // Listed: that check passes.
    let (_, text) = doctor(
        &home,
        &[
            ("DATABASE_URL", &db.url),
            ("HTTP_HOST", "10.1.2.3"),
            ("SCS_ALLOWED_HOSTS", "10.1.2.3"),
        ],
        &[],
    );
    has(&text, "ok", "Host allow-list accepts 10.1.2.3");
}

#[tokio::test]
async fn doctor_fails_on_unreachable_newer_and_tls_problems() {
    let home = temp_dir();
    let key = [("API_KEY", "agent-key-for-the-doctor-0123")];
    // Nothing listens on port 1.
    let (code, text) = doctor(
        &home,
        &[
            key[0],
            (
                "DATABASE_URL",
                "postgres://u@127.0.0.1:1/x?sslrootcert=/nonexistent/ca.pem",
            ),
        ],
        &[],
    );
    assert_eq!(code, 1, "{text}");
    has(&text, "FAIL", "unreachable");
    has(&text, "FAIL", "CA certificate /nonexistent/ca.pem");

    // A migration from a newer binary.
    let db = TestDb::new(Backend::Sqlite).await;
    migrate(&home, &db.url);
    use sqlx::Connection as _;
    let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'future', 1, x'00', 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let (code, text) = doctor(&home, &[key[0], ("DATABASE_URL", &db.url)], &[]);
    assert_eq!(code, 1, "{text}");
    has(
        &text,
        "FAIL",
        "9999 come from a newer shared-context-server",
    );
}
