//! Tasks and shared memory on PostgreSQL: the dialect's statements ([`TaskSql`]; the flow is
//! `storage/task_flow.rs`, the store methods `storage/flow_store.rs`). Changes run in one READ COMMITTED transaction on a guarded connection; the task row
//! is locked (`FOR UPDATE`, the next claimable one `FOR UPDATE SKIP LOCKED`) before it is checked
//! and changed, so exactly one claimant wins a task, also across server processes. Committed
//! system messages are announced to other processes (`watch::Publisher`).

use sqlx::Postgres;

use crate::storage::task_flow::{self, TaskSql, shared_writes};
use crate::storage::tasks::task_columns;

impl TaskSql for Postgres {
    const DEP_STATES: &'static str = "SELECT id, state FROM tasks \
         WHERE session_id = $1 AND id IN (SELECT jsonb_array_elements_text($2::jsonb)::bigint)";
    const INSERT_TASK: &'static str = concat!(
        "INSERT INTO tasks (session_id, title, description, state, created_by, assignee, depends_on, metadata, created_at, updated_at) \
         VALUES ($1, $2, $3, 'submitted', $4, $5, $6::jsonb, $7::jsonb, $8, $8)",
        " RETURNING ",
        task_columns!()
    );
    const LOCK_TASK: &'static str = concat!(
        "SELECT ",
        task_columns!(),
        " FROM tasks WHERE id = $1 FOR UPDATE"
    );
    // Through next_claimable_task() (migration 0017): a walk of an index that holds only
    // claimable tasks, whatever the statistics say.
    const NEXT_ASSIGNED: &'static str = concat!(
        "SELECT ",
        task_columns!(),
        " FROM next_claimable_task($1, $2, NULL)"
    );
    const NEXT_OPEN: &'static str = concat!(
        "SELECT ",
        task_columns!(),
        " FROM next_claimable_task($1, NULL, $2)"
    );
    const SET_STATE: &'static str = concat!(
        "UPDATE tasks SET state = $2, claimed_by = COALESCE($3, claimed_by), note = COALESCE($4, note), \
           result = COALESCE($5::jsonb, result), updated_at = $6 WHERE id = $1",
        " RETURNING ",
        task_columns!()
    );
    shared_writes!("$3::jsonb");
    const SHARED_LIST: &'static str = "SELECT session_id, key, 'null'::jsonb AS value, value_size, version, updated_by, \
           created_at, updated_at FROM shared_memory \
         WHERE session_id = $1 AND key >= $2 AND left(key, char_length($2)) = $2 \
           AND ($3::text IS NULL OR key > $3) ORDER BY key LIMIT $4";
    const LIST_ALL: &'static str = LIST_ALL;
    const LIST_IN_STATE: &'static str = LIST_IN_STATE;
    const LIST_FOR_ASSIGNEE: &'static str = LIST_FOR_ASSIGNEE;
    const LIST_FOR_ASSIGNEE_IN_STATE: &'static str = LIST_FOR_ASSIGNEE_IN_STATE;
}

// list_tasks reads through the function of migration 0016, whose plan does not depend on
// statistics (tests/it/task_proofs/plans.rs): session, state, assignee, after id, limit.
const LIST_ALL: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM list_tasks($1, NULL, NULL, $2, $3)"
);
const LIST_IN_STATE: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM list_tasks($1, $2, NULL, $3, $4)"
);
const LIST_FOR_ASSIGNEE: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM list_tasks($1, NULL, $2, $3, $4)"
);
const LIST_FOR_ASSIGNEE_IN_STATE: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM list_tasks($1, $3, $2, $4, $5)"
);
/// list_tasks' reads (for the plan tests).
pub const LIST_TASKS: [&str; 4] = task_flow::list_statements::<Postgres>();
/// claim_task's next-claimable reads (for the plan tests).
pub const NEXT_CLAIMABLE_TASK: [&str; 2] = task_flow::claim_statements::<Postgres>();
