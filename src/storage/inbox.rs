//! The agent registry, direct-message recipients, the inbox read and receipts: the storage side
//! of `service::inbox` (implemented in `sqlite/inbox.rs` and `postgres/inbox.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{MessageRecord, StoreResult};

#[derive(Debug, Clone, PartialEq)]
pub struct AgentRecord {
    pub agent_id: String,
    pub agent_type: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// An agent seen at `at` (a coalesced presence update, or an authentication).
#[derive(Debug, Clone, PartialEq)]
pub struct SeenAgent {
    pub agent_id: String,
    pub agent_type: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct AgentFilter<'a> {
    /// Only agents seen at or after this time.
    pub seen_since: Option<DateTime<Utc>>,
    pub agent_type: Option<&'a str>,
    pub limit: u32,
}

/// One recipient's inbox after a cursor, optionally in one session.
#[derive(Debug, Clone)]
pub struct InboxQuery<'a> {
    pub agent_id: &'a str,
    pub after_id: i64,
    pub session_id: Option<&'a str>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct InboxItem {
    /// With `to` filled in.
    #[sqlx(flatten)]
    pub message: MessageRecord,
    pub acked_at: Option<DateTime<Utc>>,
}

/// A sender's direct messages to one recipient within a window.
#[derive(Debug, Clone, PartialEq)]
pub struct PairSends {
    pub recipient: String,
    pub count: u64,
    pub oldest: DateTime<Utc>,
}

/// What a reply needs to know about its parent.
#[derive(Debug, Clone, PartialEq)]
pub struct ParentThread {
    pub sender: String,
    /// The parent's recipients (empty when it was not a direct message).
    pub to: Vec<String>,
    /// Messages in the chain ending at the parent (1: the parent starts a thread), counted up
    /// to `max + 1` at most.
    pub depth: u32,
}

/// Decoded by column name (`agent_id, delivered_at, acked_at` of `message_recipients`).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Receipt {
    pub agent_id: String,
    pub delivered_at: Option<DateTime<Utc>>,
    pub acked_at: Option<DateTime<Utc>>,
}

/// The outcome of `ack`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AckOutcome {
    /// Ids addressed to the agent, now acknowledged (whether now or before).
    pub acked: Vec<i64>,
    /// Ids not addressed to the agent (nothing was written for any id when this is not empty).
    pub not_addressed: Vec<i64>,
}

#[async_trait]
pub trait InboxStore: Send + Sync + 'static {
    /// Records agents as seen: inserts unknown ones, moves `last_seen` forward (never back) and
    /// keeps the latest `agent_type`. One statement for the whole batch; none for an empty one.
    async fn record_agents_seen(&self, seen: &[SeenAgent]) -> StoreResult<()> {
        if seen.is_empty() {
            return Ok(());
        }
        self.upsert_agents(seen).await
    }
    /// [`InboxStore::record_agents_seen`] for one agent or more.
    async fn upsert_agents(&self, seen: &[SeenAgent]) -> StoreResult<()>;
    /// Most recently seen first.
    async fn list_agents(&self, filter: &AgentFilter<'_>) -> StoreResult<Vec<AgentRecord>>;
    /// Which of `ids` are registered agents.
    async fn known_agents(&self, ids: &[String]) -> StoreResult<Vec<String>>;
    /// Up to `limit` registered agent ids (for suggestions), most recently seen first.
    async fn agent_ids(&self, limit: u32) -> StoreResult<Vec<String>>;

    /// The recipients of each of `ids` that has any, as (message id, agent id).
    async fn recipients_of(&self, ids: &[i64]) -> StoreResult<Vec<(i64, String)>>;

    /// Oldest first: direct messages addressed to the agent after the cursor. Reads only.
    async fn inbox(&self, query: &InboxQuery<'_>) -> StoreResult<Vec<InboxItem>>;
    /// Sets `delivered_at` where it is still unset, for each (message id, agent id); no statement
    /// for an empty list.
    async fn record_deliveries(
        &self,
        deliveries: &[(i64, String)],
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        if deliveries.is_empty() {
            return Ok(());
        }
        self.mark_delivered(deliveries, at).await
    }
    /// [`InboxStore::record_deliveries`] for one delivery or more.
    async fn mark_delivered(&self, list: &[(i64, String)], at: DateTime<Utc>) -> StoreResult<()>;
}

/// Direct messages' bookkeeping whose flow is written once (`inbox_flow.rs`), implemented once
/// for both backends (`flow_store.rs`): acknowledgements, receipts, replies, the thread a reply
/// continues and the sends per sender and recipient.
#[async_trait]
pub trait DirectStore: Send + Sync + 'static {
    /// For each of `recipients` that `sender` addressed a direct message to at or after `since`:
    /// (recipient, how many, the oldest's time). One range of `messages_direct_sender_idx`.
    async fn direct_sends_since(
        &self,
        sender: &str,
        recipients: &[String],
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<PairSends>>;

    /// The parent's sender, recipients and depth, when `message_id` is in `session_id`.
    async fn parent_thread(
        &self,
        session_id: &str,
        message_id: i64,
        max_depth: u32,
    ) -> StoreResult<Option<ParentThread>>;
    /// Acknowledges `ids` for `agent_id` in one transaction with an audit row; idempotent (the
    /// first `acked_at` stays). Nothing is written when any id is not addressed to the agent.
    async fn ack(&self, agent_id: &str, ids: &[i64], at: DateTime<Utc>) -> StoreResult<AckOutcome>;
    /// The message's sender and its receipts; `None` when the message does not exist.
    async fn receipts(&self, message_id: i64) -> StoreResult<Option<(String, Vec<Receipt>)>>;
    /// The first message `sender` posted with `parent_message_id` = `parent`.
    async fn first_reply(&self, parent: i64, sender: &str) -> StoreResult<Option<MessageRecord>>;
}
