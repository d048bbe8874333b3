//! Read-only look at a database for `doctor`: does it answer, and which of this binary's
//! migrations does it hold. Creates nothing, migrates nothing (unlike `connect`).

use std::path::PathBuf;
use std::str::FromStr as _;
use std::time::Duration;

use sqlx::Connection as _;

use crate::util::url::{DatabaseKind, SUPPORTED_FORMS, mask_url, sqlite_file};

/// What `doctor` found.
#[derive(Debug)]
pub enum Probe {
    /// The SQLite file does not exist yet (the first start creates it).
    Missing(PathBuf),
    /// `sqlite::memory:`: nothing persists, nothing to check.
    InMemory,
    Found(Migrations),
}

/// The database's migrations against this binary's.
#[derive(Debug, Default)]
pub struct Migrations {
    /// `PostgreSQL 15.x` or `SQLite 3.x`.
    pub server: String,
    pub applied: usize,
    /// The newest migration this binary knows.
    pub latest: i64,
    /// Known to this binary, not applied yet (`migrate` or a start applies them).
    pub pending: Vec<i64>,
    /// Applied by a newer binary: this one refuses to start.
    pub unknown: Vec<i64>,
    /// Applied with different contents: an incompatible build.
    pub mismatched: Vec<i64>,
    /// Interrupted part-way.
    pub dirty: Vec<i64>,
}

type Applied = Vec<(i64, bool, Vec<u8>)>;

/// Connects once (within `timeout`) and compares the applied migrations with this binary's.
pub async fn inspect(url: &str, timeout: Duration) -> anyhow::Result<Probe> {
    let work = async {
        match DatabaseKind::of(url) {
            Some(DatabaseKind::Postgres) => postgres(url).await,
            Some(DatabaseKind::Sqlite) => sqlite(url).await,
            None => anyhow::bail!(
                "database URL '{}' is not supported; use {SUPPORTED_FORMS}",
                mask_url(url)
            ),
        }
    };
    tokio::time::timeout(timeout, work).await.map_err(|_| {
        anyhow::anyhow!("no answer within {timeout:?}; is the database running and reachable?")
    })?
}

async fn postgres(url: &str) -> anyhow::Result<Probe> {
    let options = sqlx::postgres::PgConnectOptions::from_str(url)?;
    let mut conn = sqlx::PgConnection::connect_with(&options).await?;
    let server: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut conn)
        .await?;
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass('shared_context._sqlx_migrations') IS NOT NULL")
            .fetch_one(&mut conn)
            .await?;
    let applied: Applied = if exists {
        sqlx::query_as("SELECT version, success, checksum FROM shared_context._sqlx_migrations")
            .fetch_all(&mut conn)
            .await?
    } else {
        Vec::new()
    };
    let _ = conn.close().await;
    Ok(Probe::Found(compare(
        &super::postgres::MIGRATOR,
        format!("PostgreSQL {server}"),
        applied,
    )))
}

async fn sqlite(url: &str) -> anyhow::Result<Probe> {
    let Some(path) = sqlite_file(url) else {
        return Ok(Probe::InMemory);
    };
    if !path.exists() {
        return Ok(Probe::Missing(path));
    }
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
        .create_if_missing(false)
        .read_only(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
    let server: String = sqlx::query_scalar("SELECT sqlite_version()")
        .fetch_one(&mut conn)
        .await?;
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
    )
    .fetch_one(&mut conn)
    .await?;
    let applied: Applied = if exists {
        sqlx::query_as("SELECT version, success, checksum FROM _sqlx_migrations")
            .fetch_all(&mut conn)
            .await?
    } else {
        Vec::new()
    };
    let _ = conn.close().await;
    Ok(Probe::Found(compare(
        &super::sqlite::MIGRATOR,
        format!("SQLite {server}"),
        applied,
    )))
}

fn compare(migrator: &sqlx::migrate::Migrator, server: String, applied: Applied) -> Migrations {
    let known: Vec<_> = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .collect();
    let mut report = Migrations {
        server,
        applied: applied.len(),
        latest: known.iter().map(|m| m.version).max().unwrap_or(0),
        ..Migrations::default()
    };
    for (version, success, checksum) in &applied {
        match known.iter().find(|m| m.version == *version) {
            None => report.unknown.push(*version),
            Some(m) if m.checksum.as_ref() != checksum.as_slice() => {
                report.mismatched.push(*version)
            }
            Some(_) if !success => report.dirty.push(*version),
            Some(_) => {}
        }
    }
    report.pending = known
        .iter()
        .map(|m| m.version)
        .filter(|v| !applied.iter().any(|(a, _, _)| a == v))
        .collect();
    report
}
