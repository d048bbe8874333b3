//! The reads both backends run alike, written once over the dialect differences: the statements
//! (the same SQL text in both dialects, `&'static str`), what they bind, and the records they
//! decode, and the binds every message read starts with. A backend passes its executor: SQLite a
//! reader pool, PostgreSQL a pooled connection. (The per-session message reads differ: each
//! backend pins its plan its own way, see `sqlite/messages.rs` and `postgres/messages.rs`.)

use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Type};

use super::rows::{
    audit_columns, memory_columns, memory_entry_columns, session_columns, token_columns,
};
use super::visibility::message_read_where;
use super::*;
use crate::storage::visibility::reader_binds;

/// How many rows a statement changed (each backend's query result has its own method).
pub(crate) trait RowsAffected {
    fn rows_affected(&self) -> u64;
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        self.rows_affected()
    }
}

/// What differs between the dialects where a statement does not.
pub(crate) trait Dialect: Database {
    /// A timestamp as a bind value: RFC 3339 text on SQLite, `timestamptz` on PostgreSQL.
    type Stamp: for<'q> Encode<'q, Self> + Type<Self> + Send;

    /// An audit row: at $1, event $2, actor $3, session $4 (or NULL), details as JSON text $5.
    const AUDIT: &'static str;

    fn stamp(at: DateTime<Utc>) -> Self::Stamp;
}

/// The reads whose statements differ between the dialects (each pins its plan its own way: see
/// the plan tests); what they bind and decode is written once below.
pub(crate) trait ReadSql: Dialect {
    /// A session's messages newest first below an id: reader $1-$3, session $4, ids below $5,
    /// limit $6.
    const MESSAGES_BEFORE: &'static str;
    /// Open sessions newest first, through the partial index on them: binds as [`LIST_SESSIONS`].
    const ACTIVE_SESSIONS: &'static str;
}

/// Sessions newest first (binds: before seq $1, limit $2), the same text in both dialects.
pub const LIST_SESSIONS: &str = concat!(
    "SELECT ",
    session_columns!(),
    " FROM sessions WHERE seq < $1 ORDER BY seq DESC LIMIT +$2"
);

const SESSION_STATE: &str = "SELECT is_active FROM sessions WHERE id = $1";

/// Whether session `id` is open; `None` when there is no such session.
pub(crate) async fn session_state<'c, DB>(
    exec: impl Executor<'c, Database = DB>,
    id: &str,
) -> StoreResult<Option<bool>>
where
    DB: Database,
    DB::Arguments: IntoArguments<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'r> (bool,): FromRow<'r, DB::Row>,
{
    let row: Option<(bool,)> = sqlx::query_as(SESSION_STATE)
        .bind(id)
        .fetch_optional(exec)
        .await?;
    Ok(row.map(|(active,)| active))
}

/// Writes an audit row ([`Dialect::AUDIT`]).
pub(crate) async fn audit<'c, DB>(
    exec: impl Executor<'c, Database = DB>,
    at: DateTime<Utc>,
    event: &str,
    actor: &str,
    session_id: Option<&str>,
    details: serde_json::Value,
) -> StoreResult<()>
where
    DB: Dialect,
    DB::Arguments: IntoArguments<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    String: for<'q> Encode<'q, DB> + Type<DB>,
{
    sqlx::query(DB::AUDIT)
        .bind(DB::stamp(at))
        .bind(event)
        .bind(actor)
        .bind(session_id)
        .bind(details.to_string())
        .execute(exec)
        .await?;
    Ok(())
}

pub(crate) const SESSION_BY_ID: &str = concat!(
    "SELECT ",
    session_columns!(),
    " FROM sessions WHERE id = $1"
);

/// The messages a read from a cursor would return, counted row by row. Binds as a message read.
pub const COUNT_MESSAGES: &str = concat!("SELECT COUNT(*) FROM messages m", message_read_where!());

const TOKEN_BY_HASH: &str = concat!(
    "SELECT ",
    token_columns!(),
    " FROM agent_tokens WHERE token_hash = $1"
);

const INSERT_TOKEN: &str = concat!(
    "INSERT INTO agent_tokens (",
    token_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, NULL)"
);

const REVOKE_TOKEN: &str =
    "UPDATE agent_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL";

const RECENT_AUDIT: &str = concat!(
    "SELECT ",
    audit_columns!(),
    " FROM audit_log ORDER BY id DESC LIMIT +$1"
);

const MEMORY_AT: &str = concat!(
    "SELECT ",
    memory_columns!(),
    " FROM agent_memory WHERE agent_id = $1 AND scope = $2 AND key = $3 \
     AND (expires_at IS NULL OR expires_at > $4)"
);

/// The list read: agent `$1`, scope `$2` ('' = global, NULL = every scope), prefix `$3`, cursor
/// `$4`/`$5`, now `$6`, limit `$7`. No casts: both drivers send each parameter's type with the
/// statement (a NULL `Option<String>` is still `text` on PostgreSQL).
const MEMORY_LIST: &str = concat!(
    "SELECT ",
    memory_entry_columns!(),
    " FROM agent_memory \
     WHERE agent_id = $1 AND ($2 IS NULL OR scope = $2) \
       AND key >= $3 AND substr(key, 1, length($3)) = $3 \
       AND ($4 IS NULL OR key > $4 OR (key = $4 AND scope > $5)) \
       AND (expires_at IS NULL OR expires_at > $6) \
     ORDER BY key, scope LIMIT +$7"
);

/// Whether session `$1` exists.
const SESSION_COUNT: &str = "SELECT COUNT(*) FROM sessions WHERE id = $1";

/// A statement's bind values in the order it numbers them.
type Query<DB, O> = sqlx::query::QueryAs<'static, DB, O, <DB as Database>::Arguments>;

/// The reads; `Reads::<DB>::x(executor, …)`, with `DB` inferred from the executor.
pub(crate) struct Reads<DB>(PhantomData<DB>);

impl<DB> Reads<DB>
where
    DB: Dialect,
    DB::Arguments: IntoArguments<DB>,
    DB::QueryResult: RowsAffected,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    String: for<'q> Encode<'q, DB> + Type<DB>,
    Option<String>: for<'q> Encode<'q, DB> + Type<DB>,
    i64: for<'q> Encode<'q, DB> + Type<DB>,
    for<'r> SessionRecord: FromRow<'r, DB::Row>,
    for<'r> MessageRecord: FromRow<'r, DB::Row>,
    for<'r> rows::TokenRow: FromRow<'r, DB::Row>,
    for<'r> AuditRecord: FromRow<'r, DB::Row>,
    for<'r> MemoryRecord: FromRow<'r, DB::Row>,
    for<'r> MemoryEntry: FromRow<'r, DB::Row>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
{
    /// `sql` (whose first placeholders are a message read's, `$1..$6`) with the reader, session,
    /// visibility and cursor bound.
    pub(crate) fn message_read<O>(
        sql: &'static str,
        session_id: &SessionId,
        reader: &Reader,
        only: Option<Visibility>,
        after_id: i64,
    ) -> Query<DB, O>
    where
        for<'r> O: FromRow<'r, DB::Row>,
    {
        Self::with_read_binds(sqlx::query_as(sql), session_id, reader, only, after_id)
    }

    /// `sql` as a page of `query`: [`Self::message_read`]'s binds, then limit $7 and offset $8.
    pub(crate) fn message_page(
        sql: &'static str,
        query: &MessageQuery<'_>,
    ) -> Query<DB, MessageRecord> {
        Self::message_read(
            sql,
            query.session_id,
            query.reader,
            query.only,
            query.after_id,
        )
        .bind(i64::from(query.limit))
        .bind(query.offset)
    }

    /// Binds the reader, session, visibility and cursor (`$1..$6`) onto `q`.
    pub(crate) fn with_read_binds<O>(
        q: Query<DB, O>,
        session_id: &SessionId,
        reader: &Reader,
        only: Option<Visibility>,
        after_id: i64,
    ) -> Query<DB, O> {
        Self::with_reader_binds(q, session_id, reader)
            .bind(only.map(Visibility::as_str))
            .bind(after_id)
    }

    /// Binds the reader and the session (`$1..$4`) onto `q`.
    pub(crate) fn with_reader_binds<O>(
        q: Query<DB, O>,
        session_id: &SessionId,
        reader: &Reader,
    ) -> Query<DB, O> {
        let (kind, id, ty) = reader_binds(reader);
        q.bind(kind)
            .bind(id.to_owned())
            .bind(ty.to_owned())
            .bind(session_id.as_str().to_owned())
    }

    /// Binds a search statement's filter: the read's `$1..$6` (no cursor) and the sender `$7`.
    pub(crate) fn with_filter_binds<O>(q: Query<DB, O>, filter: &SearchFilter<'_>) -> Query<DB, O> {
        Self::with_read_binds(q, filter.session_id, filter.reader, filter.only, 0)
            .bind(filter.sender.map(str::to_owned))
    }

    pub(crate) async fn messages_before<'c>(
        exec: impl Executor<'c, Database = DB>,
        read: &SessionRead<'_, i64>,
    ) -> StoreResult<Vec<MessageRecord>>
    where
        DB: ReadSql,
    {
        Ok(Self::with_reader_binds(
            sqlx::query_as(DB::MESSAGES_BEFORE),
            read.session_id,
            read.reader,
        )
        .bind(read.by)
        .bind(i64::from(read.limit))
        .fetch_all(exec)
        .await?)
    }

    pub(crate) async fn sessions<'c>(
        exec: impl Executor<'c, Database = DB>,
        page: &SessionList,
    ) -> StoreResult<Vec<SessionRecord>>
    where
        DB: ReadSql,
    {
        // Two statements so the active-only read can use the partial index.
        let sql = if page.active_only {
            DB::ACTIVE_SESSIONS
        } else {
            LIST_SESSIONS
        };
        Ok(sqlx::query_as(sql)
            .bind(page.before_seq.unwrap_or(i64::MAX))
            .bind(i64::from(page.limit))
            .fetch_all(exec)
            .await?)
    }

    pub(crate) async fn session<'c>(
        exec: impl Executor<'c, Database = DB>,
        id: &SessionId,
    ) -> StoreResult<Option<SessionRecord>> {
        Ok(sqlx::query_as(SESSION_BY_ID)
            .bind(id.as_str())
            .fetch_optional(exec)
            .await?)
    }

    pub(crate) async fn count_messages<'c>(
        exec: impl Executor<'c, Database = DB>,
        query: &MessageQuery<'_>,
    ) -> StoreResult<i64> {
        let sql = visibility::count_statement(query.after_id, COUNT_MESSAGES);
        let (n,): (i64,) = Self::message_read(
            sql,
            query.session_id,
            query.reader,
            query.only,
            query.after_id,
        )
        .fetch_one(exec)
        .await?;
        Ok(n)
    }

    pub(crate) async fn token<'c>(
        exec: impl Executor<'c, Database = DB>,
        token_hash: &str,
    ) -> StoreResult<Option<TokenRecord>> {
        let row: Option<rows::TokenRow> = sqlx::query_as(TOKEN_BY_HASH)
            .bind(token_hash)
            .fetch_optional(exec)
            .await?;
        Ok(row.map(TokenRecord::from))
    }

    /// Stores a new token. (A write, but the same statement on both backends, next to its read.)
    pub(crate) async fn insert_token<'c>(
        exec: impl Executor<'c, Database = DB>,
        t: &TokenRecord,
    ) -> StoreResult<()> {
        sqlx::query(INSERT_TOKEN)
            .bind(t.token_hash.as_str())
            .bind(t.agent_id.as_str())
            .bind(t.agent_type.as_str())
            .bind(t.permissions.join(","))
            .bind(DB::stamp(t.issued_at))
            .bind(DB::stamp(t.expires_at))
            .execute(exec)
            .await?;
        Ok(())
    }

    /// Revokes a live token; false when it was unknown or already revoked.
    pub(crate) async fn revoke_token<'c>(
        exec: impl Executor<'c, Database = DB>,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(REVOKE_TOKEN)
            .bind(token_hash)
            .bind(DB::stamp(at))
            .execute(exec)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Runs a sweeper's `sql`, which deletes at most `$2` rows that expired by `$1`; how many it
    /// deleted.
    pub(crate) async fn sweep<'c>(
        exec: impl Executor<'c, Database = DB>,
        sql: &'static str,
        now: DateTime<Utc>,
        batch: u32,
    ) -> StoreResult<u64> {
        let done = sqlx::query(sql)
            .bind(DB::stamp(now))
            .bind(i64::from(batch))
            .execute(exec)
            .await?;
        Ok(done.rows_affected())
    }

    pub(crate) async fn recent_audit<'c>(
        exec: impl Executor<'c, Database = DB>,
        limit: u32,
    ) -> StoreResult<Vec<AuditRecord>> {
        Ok(sqlx::query_as(RECENT_AUDIT)
            .bind(i64::from(limit))
            .fetch_all(exec)
            .await?)
    }

    pub(crate) async fn memory<'c>(
        exec: impl Executor<'c, Database = DB>,
        at: &MemoryAddress<'_>,
    ) -> StoreResult<Option<MemoryRecord>> {
        Ok(sqlx::query_as(MEMORY_AT)
            .bind(at.agent_id)
            .bind(at.session_id.unwrap_or(""))
            .bind(at.key)
            .bind(DB::stamp(at.now))
            .fetch_optional(exec)
            .await?)
    }

    pub(crate) async fn memory_list<'c>(
        exec: impl Executor<'c, Database = DB>,
        q: &MemoryListQuery<'_>,
    ) -> StoreResult<Vec<MemoryEntry>> {
        Ok(sqlx::query_as(MEMORY_LIST)
            .bind(q.agent_id.to_owned())
            .bind(q.scope.map(|s| s.unwrap_or("").to_owned()))
            .bind(q.prefix.to_owned())
            .bind(q.after.map(|(key, _)| key.to_owned()))
            .bind(q.after.map_or("", |(_, scope)| scope).to_owned())
            .bind(DB::stamp(q.now))
            .bind(i64::from(q.limit))
            .fetch_all(exec)
            .await?)
    }

    /// Why a memory write stored nothing: its session is missing, else the key holds an unexpired
    /// entry and `overwrite` was false.
    pub(crate) async fn memory_refusal<'c>(
        exec: impl Executor<'c, Database = DB>,
        session_id: Option<&str>,
    ) -> StoreResult<SetMemoryOutcome> {
        let Some(id) = session_id else {
            return Ok(SetMemoryOutcome::KeyExists);
        };
        let (n,): (i64,) = sqlx::query_as(SESSION_COUNT)
            .bind(id)
            .fetch_one(exec)
            .await?;
        Ok(if n > 0 {
            SetMemoryOutcome::KeyExists
        } else {
            SetMemoryOutcome::SessionMissing
        })
    }
}
