-- Agent memory (PostgreSQL): one namespace per agent, global (session_id NULL) or per session.
-- `scope` turns the nullable session id into a value a UNIQUE index can compare ('' = global),
-- so global keys are unique too. Keys compare byte-wise (COLLATE "C"), as on SQLite.
CREATE TABLE agent_memory (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id    TEXT        NOT NULL,
    session_id  TEXT        REFERENCES sessions (id),
    scope       TEXT        COLLATE "C" GENERATED ALWAYS AS (COALESCE(session_id, '')) STORED,
    key         TEXT        COLLATE "C" NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    value       JSONB       NOT NULL,
    value_size  BIGINT      NOT NULL CHECK (value_size >= 0),
    metadata    JSONB       NOT NULL DEFAULT '{}'::jsonb,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ
);
-- The upsert's conflict target and every get, list and delete.
CREATE UNIQUE INDEX agent_memory_key_idx ON agent_memory (agent_id, scope, key);
-- The sweeper walks only entries that can expire, oldest expiry first.
CREATE INDEX agent_memory_expires_idx ON agent_memory (expires_at) WHERE expires_at IS NOT NULL;
