-- Idempotency keys (SQLite): safe retries of writes. One row per (agent, key), claimed in the same
-- transaction as the write it guards and filled with that write's response before it commits, so
-- a committed row always has its write and its response, and a write under a key always has its
-- row. `fingerprint` is a hash of the tool name and the validated arguments. Rows whose
-- `expires_at` has passed may be reclaimed by a new request and are deleted by the sweeper.
CREATE TABLE idempotency_keys (
    agent_id    TEXT NOT NULL,
    key         TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    tool        TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    -- The rendered result (JSON text); NULL only inside the claiming transaction.
    response    TEXT,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    CONSTRAINT idempotency_keys_agent_key UNIQUE (agent_id, key)
);
-- The sweeper walks the oldest expiries first.
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);
