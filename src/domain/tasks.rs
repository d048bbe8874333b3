//! Tasks and handoffs: the states (A2A's names), who may move a task where, validated task input,
//! and the compact system message each change posts. No I/O: the stores call these rules inside
//! their write transactions, so the rule is checked against the row they hold locked.

use serde_json::{Map, Value, json};

use super::{DomainError, ErrorCode};

/// At most this many dependencies per task.
pub const MAX_DEPENDENCIES: usize = 50;
/// Title length in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Description and note length in characters.
pub const MAX_TEXT_CHARS: usize = 10_000;
/// `sender_type` of the messages task changes post.
pub const TASK_SENDER_TYPE: &str = "system";

/// A task's state. The last four are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskState {
    Submitted,
    Working,
    InputRequired,
    Completed,
    Failed,
    Canceled,
    Rejected,
}

impl TaskState {
    pub const ALL: [TaskState; 7] = [
        Self::Submitted,
        Self::Working,
        Self::InputRequired,
        Self::Completed,
        Self::Failed,
        Self::Canceled,
        Self::Rejected,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::Working => "working",
            Self::InputRequired => "input-required",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
            Self::Rejected => "rejected",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let raw = raw.trim();
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| {
                DomainError::invalid(format!("state '{raw}' is not a task state"))
                    .suggest("use one of: submitted, working, input-required, completed, failed, canceled, rejected")
            })
    }

    pub const fn is_final(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Failed | Self::Canceled | Self::Rejected
        )
    }
}

/// Who holds which role on a task, as its row says now.
#[derive(Debug, Clone, Copy)]
pub struct TaskParties<'a> {
    pub id: i64,
    pub state: TaskState,
    pub created_by: &'a str,
    pub assignee: Option<&'a str>,
    pub claimed_by: Option<&'a str>,
}

/// The agent changing a task.
#[derive(Debug, Clone, Copy)]
pub struct TaskActor<'a> {
    pub agent_id: &'a str,
    pub admin: bool,
}

fn final_state(task: &TaskParties<'_>) -> DomainError {
    DomainError::new(
        ErrorCode::InvalidTaskTransition,
        format!(
            "task {} is {}, a final state; it cannot change",
            task.id,
            task.state.as_str()
        ),
    )
    .detail("state", task.state.as_str())
    .suggest("create_task for follow-up work")
}

/// What `claim_task` on this task does for `actor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimCheck {
    /// It is submitted and the actor may take it.
    Claim,
    /// The actor holds it already: the claim returns it unchanged.
    AlreadyYours,
}

/// Whether `actor` may claim `task` now; `blocked_by` lists its unfinished dependencies.
pub fn check_claim(
    task: &TaskParties<'_>,
    actor: &str,
    blocked_by: &[i64],
) -> Result<ClaimCheck, DomainError> {
    if task.state.is_final() {
        return Err(final_state(task));
    }
    if task.state != TaskState::Submitted {
        if task.claimed_by == Some(actor) {
            return Ok(ClaimCheck::AlreadyYours);
        }
        let holder = task.claimed_by.unwrap_or("another agent");
        return Err(DomainError::new(
            ErrorCode::TaskAlreadyClaimed,
            format!("task {} is already claimed by {holder}", task.id),
        )
        .detail("claimed_by", holder)
        .detail("state", task.state.as_str()));
    }
    if let Some(assignee) = task.assignee
        && assignee != actor
    {
        return Err(DomainError::new(
            ErrorCode::PermissionDenied,
            format!(
                "task {} is handed off to {assignee}; only they may claim it",
                task.id
            ),
        )
        .suggest("call claim_task without task_id to take the next task open to you"));
    }
    if !blocked_by.is_empty() {
        return Err(DomainError::new(
            ErrorCode::InvalidTaskTransition,
            format!("task {} waits for unfinished tasks {blocked_by:?}", task.id),
        )
        .detail("blocked_by", blocked_by.to_vec())
        .suggest("claim one of the tasks in blocked_by, or claim_task without task_id"));
    }
    Ok(ClaimCheck::Claim)
}

/// Whether `actor` may move `task` to `to` with `update_task`: the claimant (and for a submitted
/// task nobody, it must be claimed first), the creator to cancel, the assignee to reject, or an
/// admin. A final state never changes; nothing returns to submitted.
pub fn check_update(
    task: &TaskParties<'_>,
    actor: &TaskActor<'_>,
    to: TaskState,
) -> Result<(), DomainError> {
    use TaskState::*;
    if task.state.is_final() {
        return Err(final_state(task));
    }
    let me = Some(actor.agent_id);
    let claimant = task.claimed_by == me;
    let creator = task.created_by == actor.agent_id;
    let assignee = task.assignee == me;
    let invalid = |why: &str| {
        DomainError::new(
            ErrorCode::InvalidTaskTransition,
            format!(
                "task {} cannot go from {} to {}: {why}",
                task.id,
                task.state.as_str(),
                to.as_str()
            ),
        )
        .detail("state", task.state.as_str())
    };
    let allowed = match (task.state, to) {
        (_, Submitted) => return Err(invalid("no task returns to submitted")),
        (Submitted, Working | InputRequired | Completed | Failed) => {
            return Err(invalid("it is not claimed yet").suggest("call claim_task first"));
        }
        (Submitted, Canceled) => creator || actor.admin,
        (Submitted, Rejected) => assignee || actor.admin,
        (Working | InputRequired, Canceled) => claimant || creator || actor.admin,
        (Working | InputRequired, Rejected) => claimant || assignee || actor.admin,
        (Working | InputRequired, _) => claimant || actor.admin,
        (Completed | Failed | Canceled | Rejected, _) => false,
    };
    if allowed {
        return Ok(());
    }
    let who = match to {
        Canceled => "its claimant, its creator or an admin",
        Rejected => "its claimant, its assignee or an admin",
        _ => "its claimant or an admin",
    };
    Err(DomainError::new(
        ErrorCode::PermissionDenied,
        format!("only {who} may move task {} to {}", task.id, to.as_str()),
    )
    .suggest("call list_tasks to see who holds the task"))
}

/// A trimmed, non-empty text of at most `max` characters.
pub fn text(raw: &str, what: &str, max: usize) -> Result<String, DomainError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(DomainError::invalid(format!("{what} must not be empty")));
    }
    let chars = text.chars().count();
    if chars > max {
        return Err(DomainError::invalid(format!(
            "{what} has {chars} characters; the limit is {max}"
        )));
    }
    if text.contains('\0') {
        return Err(DomainError::invalid(format!(
            "{what} must not contain NUL characters"
        )));
    }
    Ok(text.to_owned())
}

/// Positive task ids, each once, in the order given; at most [`MAX_DEPENDENCIES`].
pub fn dependencies(raw: Option<&[i64]>) -> Result<Vec<i64>, DomainError> {
    let raw = raw.unwrap_or_default();
    if raw.len() > MAX_DEPENDENCIES {
        return Err(DomainError::invalid(format!(
            "depends_on lists {} tasks; the limit is {MAX_DEPENDENCIES}",
            raw.len()
        )));
    }
    let mut ids: Vec<i64> = Vec::with_capacity(raw.len());
    for &id in raw {
        if id < 1 {
            return Err(DomainError::invalid(format!(
                "depends_on holds {id}; task ids are positive"
            ))
            .suggest("use task_id values returned by create_task or list_tasks"));
        }
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// `TASK_NOT_FOUND` for a task id that is not in the session (or does not exist at all).
pub fn task_not_found(ids: &[i64], session_id: Option<&str>) -> DomainError {
    let place = session_id.map_or(String::new(), |s| format!(" in session '{s}'"));
    let what = match ids {
        [one] => format!("no task {one}{place}"),
        many => format!("no tasks {many:?}{place}"),
    };
    DomainError::new(ErrorCode::TaskNotFound, what).detail("missing", ids.to_vec())
}

/// What a task change was, for its system message and audit row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskEvent {
    Created,
    Claimed,
    Updated,
}

impl TaskEvent {
    pub const fn audit_name(self) -> &'static str {
        match self {
            Self::Created => "task_created",
            Self::Claimed => "task_claimed",
            Self::Updated => "task_updated",
        }
    }
}

/// Who hears of a change: `None` for the whole session; for a handoff, its assignee and creator
/// (never the actor, who sends it; an empty list leaves it private to the actor).
pub fn audience(created_by: &str, assignee: Option<&str>, actor: &str) -> Option<Vec<String>> {
    let assignee = assignee?;
    let mut to: Vec<String> = Vec::with_capacity(2);
    for agent in [assignee, created_by] {
        if agent != actor && !to.iter().any(|a| a == agent) {
            to.push(agent.to_owned());
        }
    }
    Some(to)
}

/// The compact text and metadata of the system message a change posts: one line, the task's id,
/// title (cut at 80 characters), new state and, when present, its note (cut at 200).
pub fn change_message(
    event: TaskEvent,
    id: i64,
    title: &str,
    state: TaskState,
    assignee: Option<&str>,
    note: Option<&str>,
) -> (String, Map<String, Value>) {
    let short: String = title.chars().take(80).collect();
    let mut text = match event {
        TaskEvent::Created => format!("task {id} created: {short}"),
        TaskEvent::Claimed => format!("task {id} claimed: {short}"),
        TaskEvent::Updated => format!("task {id} {}: {short}", state.as_str()),
    };
    if event == TaskEvent::Created
        && let Some(assignee) = assignee
    {
        text.push_str(&format!(" (handed off to {assignee})"));
    }
    if let Some(note) = note {
        let note: String = note.chars().take(200).collect();
        text.push_str(&format!(" — {note}"));
    }
    let meta = json!({"task": {"task_id": id, "event": format!("{event:?}").to_lowercase(), "state": state.as_str()}});
    let Value::Object(map) = meta else {
        unreachable!("a JSON object literal")
    };
    (text, map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskState::*;

    fn task(state: TaskState, claimed_by: Option<&'static str>) -> TaskParties<'static> {
        TaskParties {
            id: 7,
            state,
            created_by: "creator",
            assignee: Some("assignee"),
            claimed_by,
        }
    }

    fn actor(agent_id: &str) -> TaskActor<'_> {
        TaskActor {
            agent_id,
            admin: false,
        }
    }

    #[test]
    fn states_round_trip_and_final_ones_are_the_last_four() {
        for s in TaskState::ALL {
            assert_eq!(TaskState::parse(s.as_str()).unwrap(), s);
        }
        let finals: Vec<_> = TaskState::ALL
            .into_iter()
            .filter(|s| s.is_final())
            .collect();
        assert_eq!(finals, [Completed, Failed, Canceled, Rejected]);
        assert!(TaskState::parse("done").is_err());
    }

    #[test]
    fn final_states_never_change_even_for_admins() {
        let admin = TaskActor {
            agent_id: "root",
            admin: true,
        };
        for from in [Completed, Failed, Canceled, Rejected] {
            for to in TaskState::ALL {
                let err = check_update(&task(from, Some("assignee")), &admin, to).unwrap_err();
                assert_eq!(err.code, ErrorCode::InvalidTaskTransition);
            }
            let err = check_claim(&task(from, None), "assignee", &[]).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidTaskTransition);
        }
    }

    #[test]
    fn who_may_move_a_task_where() {
        let working = task(Working, Some("assignee"));
        assert!(check_update(&working, &actor("assignee"), Completed).is_ok());
        assert!(check_update(&working, &actor("assignee"), InputRequired).is_ok());
        assert!(check_update(&working, &actor("creator"), Canceled).is_ok());
        let denied = check_update(&working, &actor("creator"), Completed).unwrap_err();
        assert_eq!(denied.code, ErrorCode::PermissionDenied);
        let denied = check_update(&working, &actor("stranger"), Canceled).unwrap_err();
        assert_eq!(denied.code, ErrorCode::PermissionDenied);
        let submitted = task(Submitted, None);
        assert!(check_update(&submitted, &actor("assignee"), Rejected).is_ok());
        assert!(check_update(&submitted, &actor("creator"), Canceled).is_ok());
        let not_claimed = check_update(&submitted, &actor("assignee"), Completed).unwrap_err();
        assert_eq!(not_claimed.code, ErrorCode::InvalidTaskTransition);
        let back = check_update(&working, &actor("assignee"), Submitted).unwrap_err();
        assert_eq!(back.code, ErrorCode::InvalidTaskTransition);
    }

    #[test]
    fn claims_respect_holder_assignee_and_dependencies() {
        assert_eq!(
            check_claim(&task(Submitted, None), "assignee", &[]).unwrap(),
            ClaimCheck::Claim
        );
        let other = check_claim(&task(Submitted, None), "stranger", &[]).unwrap_err();
        assert_eq!(other.code, ErrorCode::PermissionDenied);
        let blocked = check_claim(&task(Submitted, None), "assignee", &[3]).unwrap_err();
        assert_eq!(blocked.details["blocked_by"], json!([3]));
        let held = check_claim(&task(Working, Some("x")), "assignee", &[]).unwrap_err();
        assert_eq!(held.code, ErrorCode::TaskAlreadyClaimed);
        assert_eq!(
            check_claim(&task(Working, Some("assignee")), "assignee", &[]).unwrap(),
            ClaimCheck::AlreadyYours
        );
    }

    #[test]
    fn dependencies_are_positive_unique_and_bounded() {
        assert_eq!(dependencies(Some(&[3, 1, 3])).unwrap(), [3, 1]);
        assert!(dependencies(Some(&[0])).is_err());
        assert!(dependencies(Some(&[1; MAX_DEPENDENCIES + 1])).is_err());
        assert!(dependencies(None).unwrap().is_empty());
    }

    #[test]
    fn handoff_messages_go_to_assignee_and_creator_but_never_the_actor() {
        assert_eq!(audience("c", None, "c"), None);
        assert_eq!(audience("c", Some("a"), "c").unwrap(), ["a"]);
        assert_eq!(audience("c", Some("a"), "a").unwrap(), ["c"]);
        assert_eq!(audience("c", Some("a"), "x").unwrap(), ["a", "c"]);
        assert!(audience("c", Some("c"), "c").unwrap().is_empty());
    }
}
