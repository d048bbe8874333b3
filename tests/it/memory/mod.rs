//! Agent memory over real clients on both backends: exact round trips, isolation, scopes, literal
//! prefixes, stable paging, every bad input, TTL expiry, and the sweeper proven in the database.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::Connection as _;

use crate::support::*;

mod bad_input;
mod expiry;
mod round_trip;

use bad_input::memory_bad_input;
use expiry::memory_expiry_and_sweeper;
use round_trip::memory_round_trip;

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}")))
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

async fn listed(client: &Client, token: &str, args: Value) -> Vec<(String, Option<String>)> {
    let body = call(
        client,
        "list_memory",
        with(json!({"auth_token": token, "limit": 200}), args),
    )
    .await
    .ok();
    body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap().to_owned(),
                e["session_id"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

/// Every memory row in the database as text: (agent, scope, key, value, updated_at, expires_at).
async fn dump(db: &TestDb) -> Vec<(String, String, String, String, String, Option<String>)> {
    match db.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::sqlite::SqliteConnection::connect(&db.url)
                .await
                .expect("open sqlite");
            sqlx::query_as("SELECT agent_id, scope, key, value, updated_at, expires_at FROM agent_memory ORDER BY agent_id, scope, key")
                .fetch_all(&mut conn).await.expect("dump")
        }
        Backend::Postgres => {
            let mut conn = sqlx::postgres::PgConnection::connect(&db.url)
                .await
                .expect("open postgres");
            sqlx::query_as("SELECT agent_id, scope, key, value::text, updated_at::text, expires_at::text FROM shared_context.agent_memory ORDER BY agent_id, scope, key")
                .fetch_all(&mut conn).await.expect("dump")
        }
    }
}

async fn rows_of(db: &TestDb, agent: &str) -> Vec<String> {
    dump(db)
        .await
        .into_iter()
        .filter(|r| r.0 == agent)
        .map(|r| r.2)
        .collect()
}

/// Inserts `n` global entries for `agent` that expired an hour ago, keys `{prefix}1..n`.
async fn insert_expired(db: &TestDb, agent: &str, prefix: &str, n: u32) {
    let created = shared_context_server::util::rfc3339(Utc::now() - chrono::Duration::hours(2));
    let expired = shared_context_server::util::rfc3339(Utc::now() - chrono::Duration::hours(1));
    let sqlite = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) \
         INSERT INTO agent_memory (agent_id, session_id, key, value, value_size, metadata, created_at, updated_at, expires_at) \
         SELECT '{agent}', NULL, '{prefix}' || i, '\"stale\"', 7, '{{}}', '{created}', '{created}', '{expired}' FROM n"
    );
    let postgres = format!(
        "INSERT INTO shared_context.agent_memory (agent_id, session_id, key, value, value_size, metadata, created_at, updated_at, expires_at) \
         SELECT '{agent}', NULL, '{prefix}' || i, '\"stale\"'::jsonb, 7, '{{}}'::jsonb, now() - interval '2 hours', now() - interval '2 hours', now() - interval '1 hour' \
         FROM generate_series(1, {n}) AS i"
    );
    assert_eq!(db_exec(db, &sqlite, &postgres).await, u64::from(n));
}

async fn create_session(client: &Client, token: &str) -> String {
    new_session(client, token, "memory").await
}

contract!(
    memory_round_trip,
    memory_bad_input,
    memory_expiry_and_sweeper,
);
