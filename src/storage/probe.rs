//! Read-only look at a database for `doctor`: does it answer, and which of this binary's
//! migrations does it hold. Creates nothing, migrates nothing (unlike `connect`).

use std::path::PathBuf;
use std::str::FromStr as _;
use std::time::Duration;

use sqlx::{Connection, Database, Executor, FromRow, IntoArguments};

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

/// How `doctor` reads one dialect's server version and applied migrations.
struct Catalog {
    /// `PostgreSQL` or `SQLite`, before the version.
    server: &'static str,
    version: &'static str,
    /// Whether sqlx's migrations table exists.
    has_table: &'static str,
    /// `(version, success, checksum)` of every applied migration.
    applied: &'static str,
}

const POSTGRES: Catalog = Catalog {
    server: "PostgreSQL",
    version: "SHOW server_version",
    has_table: "SELECT to_regclass('shared_context._sqlx_migrations') IS NOT NULL",
    applied: "SELECT version, success, checksum FROM shared_context._sqlx_migrations",
};

const SQLITE: Catalog = Catalog {
    server: "SQLite",
    version: "SELECT sqlite_version()",
    has_table: "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
    applied: "SELECT version, success, checksum FROM _sqlx_migrations",
};

async fn postgres(url: &str) -> anyhow::Result<Probe> {
    let options = sqlx::postgres::PgConnectOptions::from_str(url)?;
    let conn = sqlx::PgConnection::connect_with(&options).await?;
    read(conn, &POSTGRES, &super::postgres::MIGRATOR).await
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
    let conn = sqlx::SqliteConnection::connect_with(&options).await?;
    read(conn, &SQLITE, &super::sqlite::MIGRATOR).await
}

/// Reads the server version and the applied migrations on `conn` (then closes it) and compares
/// them with `migrator`'s.
async fn read<C>(
    mut conn: C,
    sql: &Catalog,
    migrator: &sqlx::migrate::Migrator,
) -> anyhow::Result<Probe>
where
    C: Connection,
    for<'c> &'c mut C: Executor<'c, Database = C::Database>,
    <C::Database as Database>::Arguments: IntoArguments<C::Database>,
    for<'r> (String,): FromRow<'r, <C::Database as Database>::Row>,
    for<'r> (bool,): FromRow<'r, <C::Database as Database>::Row>,
    for<'r> (i64, bool, Vec<u8>): FromRow<'r, <C::Database as Database>::Row>,
{
    let (version,): (String,) = sqlx::query_as(sql.version).fetch_one(&mut conn).await?;
    let (exists,): (bool,) = sqlx::query_as(sql.has_table).fetch_one(&mut conn).await?;
    let applied: Applied = if exists {
        sqlx::query_as(sql.applied).fetch_all(&mut conn).await?
    } else {
        Vec::new()
    };
    let _ = conn.close().await;
    Ok(Probe::Found(compare(
        migrator,
        format!("{} {version}", sql.server),
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
