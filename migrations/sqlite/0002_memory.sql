-- Agent memory (SQLite): one namespace per agent, global (session_id NULL) or per session.
-- `scope` turns the nullable session id into a value a UNIQUE index can compare ('' = global).
CREATE TABLE agent_memory (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id    TEXT    NOT NULL,
    session_id  TEXT    REFERENCES sessions (id),
    scope       TEXT    GENERATED ALWAYS AS (COALESCE(session_id, '')) STORED,
    key         TEXT    NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    value       TEXT    NOT NULL CHECK (json_valid(value)),
    value_size  INTEGER NOT NULL CHECK (value_size >= 0),
    metadata    TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    expires_at  TEXT
);
-- The upsert's conflict target and every get, list and delete.
CREATE UNIQUE INDEX agent_memory_key_idx ON agent_memory (agent_id, scope, key);
-- The sweeper walks only entries that can expire, oldest expiry first.
CREATE INDEX agent_memory_expires_idx ON agent_memory (expires_at) WHERE expires_at IS NOT NULL;
