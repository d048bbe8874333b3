-- Tasks and handoffs (PostgreSQL). A task lives in a session; its dependencies are fixed at
-- creation and name earlier tasks of the same session only, so the graph cannot have a cycle.
-- States are A2A's names; the last four are final (the service enforces the transitions).
CREATE TABLE tasks (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id  TEXT        NOT NULL REFERENCES sessions (id),
    title       TEXT        NOT NULL,
    description TEXT,
    state       TEXT        NOT NULL CHECK (state IN ('submitted', 'working', 'input-required', 'completed', 'failed', 'canceled', 'rejected')),
    created_by  TEXT        NOT NULL,
    assignee    TEXT,
    claimed_by  TEXT,
    depends_on  JSONB       NOT NULL DEFAULT '[]'::jsonb,
    metadata    JSONB       NOT NULL DEFAULT '{}'::jsonb,
    result      JSONB       NOT NULL DEFAULT 'null'::jsonb,
    note        TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
-- list_tasks walks a session in id order; with a state (and claim_task's "oldest submitted")
-- it seeks the state's range; with an assignee, that agent's range.
CREATE INDEX tasks_session_idx ON tasks (session_id, id);
CREATE INDEX tasks_state_idx ON tasks (session_id, state, id);
CREATE INDEX tasks_assignee_idx ON tasks (session_id, assignee, id) WHERE assignee IS NOT NULL;
