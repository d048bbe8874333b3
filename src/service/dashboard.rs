//! Dashboard use-cases: the session list with per-reader message counts, history pages newest
//! first, a session's live leases and tasks, the human overseer's posts and closes, and the audit
//! log. Every read goes through the
//! same visibility predicate as the MCP tools; every write through the same `add_message` and
//! `close_session`.

use serde_json::json;

use super::{AddMessage, ListTasks, Service, SessionPage};
use crate::domain::{
    AgentId, AgentType, DomainError, ErrorCode, Identity, Limit, Permission, Permissions, Reader,
    SessionId, Visibility,
};
use crate::storage::{
    AuditEvent, AuditRecord, LeaseRecord, MessageQuery, MessageRecord, SessionRead, SessionRecord,
    TaskRecord,
};

/// One row of the session list: the session and how many of its messages this reader may read.
pub struct SessionSummary {
    pub session: SessionRecord,
    pub visible_messages: i64,
}

/// A message from a person, posted with the admin key from the dashboard.
pub struct HumanPost {
    /// The name the person chose; it becomes the message's `sender`.
    pub name: String,
    pub session_id: String,
    pub content: String,
    pub visibility: Option<String>,
    pub parent_message_id: Option<i64>,
}

/// A session's coordination state as the dashboard shows it.
pub struct SessionCoordination {
    /// The live leases taken in this session (global leases belong to no session), soonest to
    /// expire first.
    pub leases: Vec<LeaseRecord>,
    /// The session's first [`COORDINATION_TASKS`] tasks in id order, with `blocked_by`.
    pub tasks: Vec<TaskRecord>,
    /// More tasks than shown.
    pub more_tasks: bool,
}

pub const HISTORY_MAX_LIMIT: u32 = 200;
/// Tasks the session page lists (list_tasks' maximum page).
pub const COORDINATION_TASKS: i64 = 200;
pub const AUDIT_MAX_LIMIT: u32 = 500;

fn require_admin(who: &Identity) -> Result<(), DomainError> {
    if who.is_admin() {
        return Ok(());
    }
    Err(DomainError::new(
        ErrorCode::PermissionDenied,
        "only someone signed in with the admin key may do this",
    )
    .suggest("sign out and sign in to the dashboard with ADMIN_API_KEY"))
}

/// The identity a person acts under: their chosen name, type `human`, the admin's permissions.
fn human(admin: &Identity, name: &str) -> Result<Identity, DomainError> {
    require_admin(admin)?;
    let agent_id = AgentId::parse(name).map_err(|e| {
        DomainError::invalid(format!("name: {}", e.message))
            .suggest("type the name people should see on your messages, for example \"Ada\"")
    })?;
    let expires_at = match admin {
        Identity::Agent { expires_at, .. } => *expires_at,
        Identity::Anonymous => crate::util::now(),
    };
    Ok(Identity::Agent {
        agent_id,
        agent_type: AgentType::human(),
        permissions: Permissions::of(&[Permission::Read, Permission::Write, Permission::Admin]),
        expires_at,
    })
}

impl Service {
    /// Sessions newest first, each with the number of messages `who` may read (constant time
    /// per session: the per-sender counts).
    pub async fn session_summaries(
        &self,
        who: &Identity,
        active_only: bool,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<(Vec<SessionSummary>, Option<String>), DomainError> {
        let SessionPage {
            sessions,
            next_cursor,
        } = self
            .list_sessions(who, Some(active_only), limit, cursor)
            .await?;
        let reader = Reader::of(who);
        let counts = sessions.iter().map(|s| async {
            let id = SessionId::from_trusted(s.id.clone());
            let query = MessageQuery {
                session_id: &id,
                reader: &reader,
                only: None,
                after_id: 0,
                offset: 0,
                limit: 0,
                newest_first: true,
            };
            self.store().count_messages(&query).await
        });
        let counts = futures_util::future::try_join_all(counts).await?;
        let summaries = sessions
            .into_iter()
            .zip(counts)
            .map(|(session, visible_messages)| SessionSummary {
                session,
                visible_messages,
            })
            .collect();
        Ok((summaries, next_cursor))
    }

    /// Newest first: up to `limit` messages `who` may read with ids below `before_id` (none:
    /// from the newest). One index range scan per page, however deep.
    pub async fn message_history(
        &self,
        who: &Identity,
        session_id: &str,
        before_id: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Vec<MessageRecord>, DomainError> {
        who.require(Permission::Read)?;
        let id = SessionId::parse(session_id)?;
        let limit = Limit::parse(limit, 50, HISTORY_MAX_LIMIT, "limit")?;
        let before = match before_id {
            None => i64::MAX,
            Some(v) if v > 0 => v,
            Some(v) => {
                return Err(DomainError::invalid(format!(
                    "before_id must be a positive message id; got {v}"
                )));
            }
        };
        let reader = Reader::of(who);
        let mut messages = self
            .store()
            .messages_before(&SessionRead {
                session_id: &id,
                reader: &reader,
                by: before,
                limit: limit.get(),
            })
            .await?;
        if messages.is_empty() {
            self.existing_session(&id).await?;
        }
        self.with_recipients(who, &mut messages).await?;
        Ok(messages)
    }

    /// The session's live leases and its tasks, through the same reads (and so the same
    /// visibility rule) as check_leases and list_tasks: whoever may read the session.
    pub async fn session_coordination(
        &self,
        who: &Identity,
        session_id: &str,
    ) -> Result<SessionCoordination, DomainError> {
        let mut leases = self.check_leases(who, None, Some(session_id)).await?;
        leases.retain(|l| l.session_id.as_deref() == Some(session_id));
        let input = ListTasks {
            session_id: session_id.to_owned(),
            state: None,
            assignee: None,
            limit: Some(COORDINATION_TASKS),
            after_id: None,
        };
        let (tasks, more_tasks) = self.list_tasks(who, input).await?;
        Ok(SessionCoordination {
            leases,
            tasks,
            more_tasks,
        })
    }

    /// A person's message: sender `name`, sender type `human`; audited as `human_message`.
    pub async fn post_as_human(
        &self,
        admin: &Identity,
        post: HumanPost,
    ) -> Result<MessageRecord, DomainError> {
        let person = human(admin, &post.name)?;
        if post.visibility.as_deref().map(str::trim) == Some(Visibility::Private.as_str()) {
            return Err(DomainError::new(
                ErrorCode::InvalidVisibility,
                "a person's message cannot be private: an agent with the same id would read it",
            )
            .suggest("use admin_only for a note only admins see, or public"));
        }
        let body = self
            .add_message(
                &person,
                AddMessage {
                    session_id: post.session_id.clone(),
                    content: post.content,
                    visibility: post.visibility,
                    metadata: None,
                    parent_message_id: post.parent_message_id,
                    idempotency_key: None,
                    to: None,
                },
            )
            .await?;
        self.audit_quietly(
            AuditEvent::new(
                "human_message",
                person.audit_name(),
                json!({"message_id": body.id, "visibility": body.visibility.as_str()}),
            )
            .in_session(&post.session_id),
        )
        .await;
        Ok(body)
    }

    /// A person closes a session from the dashboard; audited as `session_closed` by `name`.
    pub async fn close_as_human(
        &self,
        admin: &Identity,
        name: &str,
        session_id: &str,
    ) -> Result<SessionRecord, DomainError> {
        let person = human(admin, name)?;
        self.close_session(&person, session_id, None).await
    }

    /// The newest audit rows (admin only).
    pub async fn audit_log(
        &self,
        who: &Identity,
        limit: Option<i64>,
    ) -> Result<Vec<AuditRecord>, DomainError> {
        require_admin(who)?;
        let limit = Limit::parse(limit, 200, AUDIT_MAX_LIMIT, "limit")?;
        Ok(self.store().recent_audit(limit.get()).await?)
    }
}
