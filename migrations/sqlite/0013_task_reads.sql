-- An agent's tasks in one state (list_tasks with assignee and state) get their own index, so that
-- read does not walk the agent's finished tasks (tests/it/task_proofs/plans.rs).
CREATE INDEX tasks_assignee_state_idx ON tasks (session_id, assignee, state, id) WHERE assignee IS NOT NULL;
