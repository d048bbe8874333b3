-- Agents, direct messages and their receipts (SQLite; the same tables as on PostgreSQL).
-- An agent exists once it has authenticated; last_seen is written in coalesced batches
-- (service/presence.rs), never once per call.
CREATE TABLE agents (
    agent_id   TEXT PRIMARY KEY,
    agent_type TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen  TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX agents_last_seen_idx ON agents (last_seen);

-- Agents who authenticated before this migration.
INSERT INTO agents (agent_id, agent_type, first_seen, last_seen)
SELECT agent_id, agent_type, min(issued_at), max(issued_at) FROM agent_tokens GROUP BY agent_id;

-- A direct message is a private message with recipients: one row per (message, recipient), never
-- the sender. delivered_at is the first read that handed it to the recipient, acked_at its ack.
CREATE TABLE message_recipients (
    message_id   INTEGER NOT NULL REFERENCES messages (id),
    agent_id     TEXT    NOT NULL,
    session_id   TEXT    NOT NULL,
    delivered_at TEXT,
    acked_at     TEXT,
    PRIMARY KEY (message_id, agent_id)
) WITHOUT ROWID;
-- The inbox: one recipient's messages in id order, across sessions or in one session. An index
-- seek then a walk, whatever the table's size (tests/it/explain.rs).
CREATE INDEX message_recipients_inbox_idx ON message_recipients (agent_id, message_id, session_id, acked_at);
CREATE INDEX message_recipients_session_idx ON message_recipients (agent_id, session_id, message_id);

-- ask: the first reply to a question; reply guards walk parents.
CREATE INDEX messages_parent_idx ON messages (parent_message_id, sender) WHERE parent_message_id IS NOT NULL;
