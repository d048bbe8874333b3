-- Sessions, messages, tokens and the audit log (PostgreSQL, schema shared_context via search_path).
CREATE TABLE sessions (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    id          TEXT        PRIMARY KEY,
    purpose     TEXT        NOT NULL,
    created_by  TEXT        NOT NULL,
    metadata    JSONB       NOT NULL DEFAULT '{}'::jsonb,
    is_active   BOOLEAN     NOT NULL DEFAULT TRUE,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
-- list_sessions(active_only=true) walks only live sessions.
CREATE INDEX sessions_active_seq_idx ON sessions (seq DESC) WHERE is_active;
CREATE INDEX sessions_metadata_gin_idx ON sessions USING GIN (metadata jsonb_path_ops);

CREATE TABLE messages (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id        TEXT        NOT NULL REFERENCES sessions (id),
    sender            TEXT        NOT NULL,
    sender_type       TEXT        NOT NULL,
    content           TEXT        NOT NULL,
    visibility        TEXT        NOT NULL CHECK (visibility IN ('public', 'private', 'agent_only', 'admin_only')),
    message_type      TEXT        NOT NULL DEFAULT 'agent_response',
    metadata          JSONB       NOT NULL DEFAULT '{}'::jsonb,
    parent_message_id BIGINT      REFERENCES messages (id),
    created_at        TIMESTAMPTZ NOT NULL
);
-- Covering index for the per-session read: the visibility predicate is decided from the index alone.
CREATE INDEX messages_session_read_idx ON messages (session_id, id) INCLUDE (visibility, sender, sender_type);
CREATE INDEX messages_session_sender_idx ON messages (session_id, sender, id);
CREATE INDEX messages_metadata_gin_idx ON messages USING GIN (metadata jsonb_path_ops);

CREATE TABLE agent_tokens (
    token_hash  TEXT        PRIMARY KEY,
    agent_id    TEXT        NOT NULL,
    agent_type  TEXT        NOT NULL,
    permissions TEXT        NOT NULL,
    issued_at   TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX agent_tokens_expires_idx ON agent_tokens (expires_at);

CREATE TABLE audit_log (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL,
    event      TEXT        NOT NULL,
    actor      TEXT        NOT NULL,
    session_id TEXT,
    details    JSONB       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_created_idx ON audit_log (created_at);
CREATE INDEX audit_log_session_idx ON audit_log (session_id, id) WHERE session_id IS NOT NULL;
