//! Tasks and shared memory on SQLite: the dialect's statements ([`TaskSql`]; the flow is
//! `storage/task_flow.rs`, the store methods `storage/flow_store.rs`). Changes run in the group
//! commit's `BEGIN IMMEDIATE` transaction on the single writer, which serialises claimants (also
//! those of other processes on the same file): exactly one wins a task. Reads run on the reader
//! pool.

use sqlx::Sqlite;

use crate::storage::task_flow::{self, TaskSql, shared_writes};
use crate::storage::tasks::task_columns;

impl TaskSql for Sqlite {
    const DEP_STATES: &'static str = "SELECT id, state FROM tasks \
         WHERE session_id = $1 AND id IN (SELECT value FROM json_each($2))";
    const INSERT_TASK: &'static str = concat!(
        "INSERT INTO tasks (session_id, title, description, state, created_by, assignee, depends_on, metadata, created_at, updated_at) \
         VALUES ($1, $2, $3, 'submitted', $4, $5, $6, $7, $8, $8)",
        " RETURNING ",
        task_columns!()
    );
    const LOCK_TASK: &'static str =
        concat!("SELECT ", task_columns!(), " FROM tasks WHERE id = $1");
    // Named indexes (migration 0014): they hold only claimable tasks, so each walk stops at its
    // first row; the planner otherwise may take tasks_state_idx and filter.
    const NEXT_ASSIGNED: &'static str = concat!(
        "SELECT ",
        task_columns!(),
        " FROM tasks INDEXED BY tasks_claimable_assigned_idx \
         WHERE session_id = $1 AND assignee = $2 AND state = 'submitted' AND waiting = 0 \
         ORDER BY id LIMIT 1"
    );
    const NEXT_OPEN: &'static str = concat!(
        "SELECT ",
        task_columns!(),
        " FROM tasks INDEXED BY tasks_claimable_idx \
         WHERE session_id = $1 AND assignee IS NULL AND state = 'submitted' AND waiting = 0 \
           AND id < $2 ORDER BY id LIMIT 1"
    );
    const SET_STATE: &'static str = concat!(
        "UPDATE tasks SET state = $2, claimed_by = COALESCE($3, claimed_by), note = COALESCE($4, note), \
           result = COALESCE($5, result), updated_at = $6 WHERE id = $1",
        " RETURNING ",
        task_columns!()
    );
    shared_writes!("$3");
    const SHARED_LIST: &'static str = "SELECT session_id, key, 'null' AS value, value_size, version, updated_by, \
           created_at, updated_at FROM shared_memory \
         WHERE session_id = $1 AND key >= $2 AND substr(key, 1, length($2)) = $2 \
           AND ($3 IS NULL OR key > $3) ORDER BY key LIMIT +$4";
    const LIST_ALL: &'static str = task_flow::LIST_ALL;
    const LIST_IN_STATE: &'static str = task_flow::LIST_IN_STATE;
    const LIST_FOR_ASSIGNEE: &'static str = task_flow::LIST_FOR_ASSIGNEE;
    const LIST_FOR_ASSIGNEE_IN_STATE: &'static str = LIST_FOR_ASSIGNEE_IN_STATE;
}

/// Named index: after ANALYZE, SQLite seeks the session's tasks in the state and filters the
/// assignee, walking every task in that state (tests/it/task_proofs/plans.rs); the index of
/// migration 0013 goes straight to the agent's.
const LIST_FOR_ASSIGNEE_IN_STATE: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM tasks INDEXED BY tasks_assignee_state_idx \
     WHERE session_id = $1 AND assignee = $2 AND state = $3 AND id > $4 ORDER BY id LIMIT +$5"
);

/// list_tasks' reads (for the plan tests).
pub const LIST_TASKS: [&str; 4] = task_flow::list_statements::<Sqlite>();
/// claim_task's next-claimable reads (for the plan tests).
pub const NEXT_CLAIMABLE_TASK: [&str; 2] = task_flow::claim_statements::<Sqlite>();
