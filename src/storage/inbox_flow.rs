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
{
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
