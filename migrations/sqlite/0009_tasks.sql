-- Tasks and handoffs (SQLite). A task lives in a session; its dependencies are fixed at creation
-- and name earlier tasks of the same session only, so the graph cannot have a cycle. States are
-- A2A's names; the last four are final (the service enforces the transitions).
CREATE TABLE tasks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id  TEXT    NOT NULL REFERENCES sessions (id),
    title       TEXT    NOT NULL,
    description TEXT,
    state       TEXT    NOT NULL CHECK (state IN ('submitted', 'working', 'input-required', 'completed', 'failed', 'canceled', 'rejected')),
    created_by  TEXT    NOT NULL,
    assignee    TEXT,
    claimed_by  TEXT,
    depends_on  TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(depends_on)),
    metadata    TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    result      TEXT    NOT NULL DEFAULT 'null' CHECK (json_valid(result)),
    note        TEXT,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
-- list_tasks walks a session in id order; with a state (and claim_task's "oldest submitted")
-- it seeks the state's range; with an assignee, that agent's range.
CREATE INDEX tasks_session_idx ON tasks (session_id, id);
CREATE INDEX tasks_state_idx ON tasks (session_id, state, id);
CREATE INDEX tasks_assignee_idx ON tasks (session_id, assignee, id) WHERE assignee IS NOT NULL;
