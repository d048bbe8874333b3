-- Leases on files and named resources (SQLite; the same table as on PostgreSQL).
-- A row is a granted lease until expires_at; release deletes it, the sweeper deletes expired ones.
-- fencing_token is the AUTOINCREMENT key: it grows with every grant and is never reused, also
-- after deletes; grants run in BEGIN IMMEDIATE on the single writer, so across processes too.
CREATE TABLE leases (
    fencing_token INTEGER PRIMARY KEY AUTOINCREMENT,
    lease_id      TEXT    NOT NULL UNIQUE,
    holder        TEXT    NOT NULL,
    session_id    TEXT    REFERENCES sessions (id) ON DELETE CASCADE,
    mode          TEXT    NOT NULL CHECK (mode IN ('exclusive', 'shared')),
    -- A JSON array of 1-50 strings.
    resources     TEXT    NOT NULL,
    reason        TEXT,
    created_at    TEXT    NOT NULL,
    expires_at    TEXT    NOT NULL
);
-- The live leases are a range of this index (expires_at > now); reads name it (INDEXED BY).
CREATE INDEX leases_expires_idx ON leases (expires_at);
