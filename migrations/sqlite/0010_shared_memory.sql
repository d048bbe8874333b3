-- Shared session memory (SQLite): one entry per (session, key), readable by whoever can read the
-- session; every write bumps `version`, which compare-and-set writes check.
CREATE TABLE shared_memory (
    session_id TEXT    NOT NULL REFERENCES sessions (id),
    key        TEXT    NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    value      TEXT    NOT NULL CHECK (json_valid(value)),
    value_size INTEGER NOT NULL CHECK (value_size >= 0),
    version    INTEGER NOT NULL CHECK (version >= 1),
    updated_by TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (session_id, key)
) WITHOUT ROWID;
