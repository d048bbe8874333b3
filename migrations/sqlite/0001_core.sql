-- Sessions, messages, tokens and the audit log (SQLite). Timestamps are fixed-width RFC 3339 UTC text.
CREATE TABLE sessions (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT    NOT NULL UNIQUE,
    purpose     TEXT    NOT NULL,
    created_by  TEXT    NOT NULL,
    metadata    TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    is_active   INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
CREATE INDEX sessions_active_seq_idx ON sessions (seq) WHERE is_active = 1;

CREATE TABLE messages (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id        TEXT    NOT NULL REFERENCES sessions (id),
    sender            TEXT    NOT NULL,
    sender_type       TEXT    NOT NULL,
    content           TEXT    NOT NULL,
    visibility        TEXT    NOT NULL CHECK (visibility IN ('public', 'private', 'agent_only', 'admin_only')),
    message_type      TEXT    NOT NULL DEFAULT 'agent_response',
    metadata          TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    parent_message_id INTEGER REFERENCES messages (id),
    created_at        TEXT    NOT NULL
);
-- The per-session read: seek by session, walk ids, filter visibility without touching content.
CREATE INDEX messages_session_read_idx ON messages (session_id, id, visibility, sender, sender_type);
CREATE INDEX messages_session_sender_idx ON messages (session_id, sender, id);

CREATE TABLE agent_tokens (
    token_hash  TEXT PRIMARY KEY,
    agent_id    TEXT NOT NULL,
    agent_type  TEXT NOT NULL,
    permissions TEXT NOT NULL,
    issued_at   TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE INDEX agent_tokens_expires_idx ON agent_tokens (expires_at);

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    event      TEXT NOT NULL,
    actor      TEXT NOT NULL,
    session_id TEXT,
    details    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details))
);
CREATE INDEX audit_log_created_idx ON audit_log (created_at);
CREATE INDEX audit_log_session_idx ON audit_log (session_id, id) WHERE session_id IS NOT NULL;
