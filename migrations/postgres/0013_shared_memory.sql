-- Shared session memory (PostgreSQL): one entry per (session, key), readable by whoever can read
-- the session; every write bumps `version`, which compare-and-set writes check. Keys sort
-- bytewise ("C"), as on SQLite, so both backends page list_memory alike.
CREATE TABLE shared_memory (
    session_id TEXT        NOT NULL REFERENCES sessions (id),
    key        TEXT        COLLATE "C" NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    value      JSONB       NOT NULL,
    value_size BIGINT      NOT NULL CHECK (value_size >= 0),
    version    BIGINT      NOT NULL CHECK (version >= 1),
    updated_by TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (session_id, key)
);
