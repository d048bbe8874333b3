//! Acknowledgements, receipts and the first reply, written once for both backends over their
//! statements ([`InboxSql`]): the all-or-nothing rule of `ack` and its audit row, and how receipts
//! and a reply's recipients are read. A backend supplies how a list of ids is bound (an array on
//! PostgreSQL, a JSON array on SQLite) and the statements that take it.

use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};

use super::reads::{Dialect, audit};
use super::rows::message_columns;
use super::*;

/// The statements that differ between the dialects.
pub(crate) trait InboxSql: Dialect {
    /// A list of message ids as one bind value.
    type Ids: for<'q> Encode<'q, Self> + Type<Self> + Send;
    fn ids(ids: &[i64]) -> Self::Ids;

    /// The ids among $2 addressed to agent $1, locked until commit where rows can be locked
    /// (in id order, so concurrent acks cannot deadlock).
    const ADDRESSED: &'static str;
    /// Sets `acked_at` to $3 where it is unset, for agent $1's recipient rows of the ids $2.
    const ACK: &'static str;

    /// A list of agent ids as one bind value.
    type Names: for<'q> Encode<'q, Self> + Type<Self> + Send;
    fn names(names: &[String]) -> Self::Names;
    /// Sender $1's direct messages since $2 per recipient among the names $3: (recipient, how
    /// many, the oldest's time). Each dialect pins its plan its own way (tests/it/inbox_plans.rs).
    const DIRECT_SENDS_SINCE: &'static str;
}

const SENDER: &str = "SELECT sender FROM messages WHERE id = $1";
const RECEIPTS: &str = "SELECT agent_id, delivered_at, acked_at FROM message_recipients \
     WHERE message_id = $1 ORDER BY agent_id";
const RECIPIENTS: &str =
    "SELECT agent_id FROM message_recipients WHERE message_id = $1 ORDER BY agent_id";
const FIRST_REPLY: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages m WHERE m.parent_message_id = $1 AND m.sender = $2 ORDER BY m.id LIMIT 1"
);

/// What joins the recipients in [`PARENT_THREAD`]'s list (agent ids never hold it).
const SEPARATOR: &str = "\u{1f}";
/// Message $1's sender, the depth of its chain of parents (counted up to $3 + 1) and its
/// recipients joined by $4, when it is in session $2; the same text in both dialects.
const PARENT_THREAD: &str = "WITH RECURSIVE chain(id, parent, n) AS ( \
       SELECT id, parent_message_id, CAST(1 AS BIGINT) FROM messages WHERE id = $1 \
       UNION ALL \
       SELECT p.id, p.parent_message_id, c.n + 1 FROM messages p JOIN chain c ON p.id = c.parent \
       WHERE c.n <= $3) \
     SELECT m.sender, (SELECT max(n) FROM chain), \
       (SELECT string_agg(r.agent_id, $4 ORDER BY r.agent_id) FROM message_recipients r \
        WHERE r.message_id = m.id) \
     FROM messages m WHERE m.id = $1 AND m.session_id = $2";

/// `InboxFlow::<DB>::x(conn, …)`.
pub(crate) struct InboxFlow<DB>(PhantomData<DB>);

impl<DB> InboxFlow<DB>
where
    DB: InboxSql,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    String: for<'q> Encode<'q, DB> + Type<DB>,
    i64: for<'q> Encode<'q, DB> + Type<DB>,
    for<'r> MessageRecord: FromRow<'r, DB::Row>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
    for<'r> (String,): FromRow<'r, DB::Row>,
    for<'r> Receipt: FromRow<'r, DB::Row>,
    for<'r> (String, i64, DateTime<Utc>): FromRow<'r, DB::Row>,
    for<'r> (String, i64, Option<String>): FromRow<'r, DB::Row>,
{
    /// For each of `recipients` that `sender` sent a direct message to since `since`: how many,
    /// and the oldest's time.
    pub(crate) async fn direct_sends_since(
        conn: &mut DB::Connection,
        sender: &str,
        recipients: &[String],
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<PairSends>> {
        let rows: Vec<(String, i64, DateTime<Utc>)> = sqlx::query_as(DB::DIRECT_SENDS_SINCE)
            .bind(sender)
            .bind(DB::stamp(since))
            .bind(DB::names(recipients))
            .fetch_all(&mut *conn)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(recipient, count, oldest)| PairSends {
                recipient,
                count: count as u64,
                oldest,
            })
            .collect())
    }

    /// The sender, recipients and depth of `message_id`, when it is in `session_id`.
    pub(crate) async fn parent_thread(
        conn: &mut DB::Connection,
        session_id: &str,
        message_id: i64,
        max_depth: u32,
    ) -> StoreResult<Option<ParentThread>> {
        let row: Option<(String, i64, Option<String>)> = sqlx::query_as(PARENT_THREAD)
            .bind(message_id)
            .bind(session_id)
            .bind(i64::from(max_depth))
            .bind(SEPARATOR)
            .fetch_optional(&mut *conn)
            .await?;
        Ok(row.map(|(sender, depth, to)| ParentThread {
            sender,
            to: to
                .map(|t| t.split(SEPARATOR).map(str::to_owned).collect())
                .unwrap_or_default(),
            depth: u32::try_from(depth).unwrap_or(u32::MAX),
        }))
    }

    /// `ack` in an open transaction (the plain and the idempotent path): acknowledges `ids` with
    /// an audit row, or writes nothing when any is not addressed to the agent.
    pub(crate) async fn ack(
        conn: &mut DB::Connection,
        agent_id: &str,
        ids: &[i64],
        at: DateTime<Utc>,
    ) -> StoreResult<AckOutcome> {
        let addressed: Vec<(i64,)> = sqlx::query_as(DB::ADDRESSED)
            .bind(agent_id)
            .bind(DB::ids(ids))
            .fetch_all(&mut *conn)
            .await?;
        let not_addressed: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| !addressed.contains(&(*id,)))
            .collect();
        if !not_addressed.is_empty() {
            return Ok(AckOutcome {
                acked: Vec::new(),
                not_addressed,
            });
        }
        sqlx::query(DB::ACK)
            .bind(agent_id)
            .bind(DB::ids(ids))
            .bind(DB::stamp(at))
            .execute(&mut *conn)
            .await?;
        let details = serde_json::json!({"message_ids": ids});
        audit::<DB>(&mut *conn, at, "messages_acked", agent_id, None, details).await?;
        Ok(AckOutcome {
            acked: ids.to_vec(),
            not_addressed,
        })
    }

    /// The message's sender and its receipts; `None` when there is no such message.
    pub(crate) async fn receipts(
        conn: &mut DB::Connection,
        message_id: i64,
    ) -> StoreResult<Option<(String, Vec<Receipt>)>> {
        let sender: Option<(String,)> = sqlx::query_as(SENDER)
            .bind(message_id)
            .fetch_optional(&mut *conn)
            .await?;
        let Some((sender,)) = sender else {
            return Ok(None);
        };
        let receipts: Vec<Receipt> = sqlx::query_as(RECEIPTS)
            .bind(message_id)
            .fetch_all(&mut *conn)
            .await?;
        Ok(Some((sender, receipts)))
    }

    /// The first message `sender` posted with `parent_message_id` = `parent`, `to` filled in.
    pub(crate) async fn first_reply(
        conn: &mut DB::Connection,
        parent: i64,
        sender: &str,
    ) -> StoreResult<Option<MessageRecord>> {
        let found: Option<MessageRecord> = sqlx::query_as(FIRST_REPLY)
            .bind(parent)
            .bind(sender)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(mut m) = found else { return Ok(None) };
        let to: Vec<(String,)> = sqlx::query_as(RECIPIENTS)
            .bind(m.id)
            .fetch_all(&mut *conn)
            .await?;
        m.to = to.into_iter().map(|(agent_id,)| agent_id).collect();
        Ok(Some(m))
    }
}
