-- Idempotency keys (PostgreSQL): safe retries of writes. One row per (agent, key), claimed first in
-- the same transaction as the write it guards and filled with that write's response before it
-- commits, so a committed row always has its write and its response, and a write under a key
-- always has its row. A second request with the same key waits on the unique index until the
-- first commits (then replays its response) or rolls back (then claims the key itself).
-- `fingerprint` is a hash of the tool name and the validated arguments. Rows whose `expires_at`
-- has passed may be reclaimed by a new request and are deleted by the sweeper.
CREATE TABLE idempotency_keys (
    agent_id    TEXT        NOT NULL,
    key         TEXT        COLLATE "C" NOT NULL CHECK (char_length(key) BETWEEN 1 AND 200),
    tool        TEXT        NOT NULL,
    fingerprint TEXT        NOT NULL,
    -- The rendered result (JSON text, kept byte for byte); NULL only inside the claiming transaction.
    response    TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT idempotency_keys_agent_key PRIMARY KEY (agent_id, key)
);
-- The sweeper walks the oldest expiries first.
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);
