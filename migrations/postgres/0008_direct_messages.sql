-- Agents, direct messages and their receipts (PostgreSQL; the same tables as on SQLite).
-- An agent exists once it has authenticated; last_seen is written in coalesced batches
-- (service/presence.rs), never once per call.
CREATE TABLE agents (
    agent_id   TEXT        PRIMARY KEY,
    agent_type TEXT        NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL,
    last_seen  TIMESTAMPTZ NOT NULL
);
CREATE INDEX agents_last_seen_idx ON agents (last_seen DESC);

-- Agents who authenticated before this migration.
INSERT INTO agents (agent_id, agent_type, first_seen, last_seen)
SELECT agent_id, (array_agg(agent_type ORDER BY issued_at DESC))[1], min(issued_at), max(issued_at)
  FROM agent_tokens GROUP BY agent_id;

-- A direct message is a private message with recipients: one row per (message, recipient), never
-- the sender. delivered_at is the first read that handed it to the recipient, acked_at its ack.
CREATE TABLE message_recipients (
    message_id   BIGINT      NOT NULL REFERENCES messages (id),
    agent_id     TEXT        NOT NULL,
    session_id   TEXT        NOT NULL,
    delivered_at TIMESTAMPTZ,
    acked_at     TIMESTAMPTZ,
    PRIMARY KEY (message_id, agent_id)
);
-- The inbox: one recipient's messages in id order, across sessions or in one session. An index
-- seek then a walk, whatever the table's size (tests/it/explain.rs).
CREATE INDEX message_recipients_inbox_idx ON message_recipients (agent_id, message_id) INCLUDE (session_id, acked_at);
CREATE INDEX message_recipients_session_idx ON message_recipients (agent_id, session_id, message_id);

-- ask: the first reply to a question; reply guards walk parents.
CREATE INDEX messages_parent_idx ON messages (parent_message_id, sender) WHERE parent_message_id IS NOT NULL;

-- The read functions of 0007 carry the visibility rule as text: replaced with the rule that knows
-- recipients (the text of `storage::visibility::visible_to_reader!` verbatim; tests/it/plans.rs
-- checks the copies). Everything else about them is unchanged.
-- One session's messages: reader $1 kind, $2 agent id, $3 agent type; session $4; only visibility
-- $5 (NULL: all); ids above $6; limit $7, offset $8; newest first when $9.
-- Index: messages_session_read_idx (session_id, id).
CREATE OR REPLACE FUNCTION read_messages(text, text, text, text, text, bigint, bigint, bigint, boolean)
RETURNS SETOF messages
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
SET enable_bitmapscan = off
SET enable_sort = off
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    IF $9 THEN
        RETURN QUERY SELECT m.* FROM messages m
         WHERE m.session_id >= $4 AND m.session_id <= $4 AND m.id > $6 AND ($5 IS NULL OR m.visibility = $5)
           AND (m.visibility = 'public' OR $1 = 'admin' OR ($1 = 'agent' AND ((m.visibility = 'private' AND (m.sender = $2 OR EXISTS (SELECT 1 FROM message_recipients r WHERE r.message_id = m.id AND r.agent_id = $2))) OR (m.visibility = 'agent_only' AND m.sender_type = $3))))
         ORDER BY m.session_id DESC, m.id DESC LIMIT $7 OFFSET $8;
    ELSE
        RETURN QUERY SELECT m.* FROM messages m
         WHERE m.session_id >= $4 AND m.session_id <= $4 AND m.id > $6 AND ($5 IS NULL OR m.visibility = $5)
           AND (m.visibility = 'public' OR $1 = 'admin' OR ($1 = 'agent' AND ((m.visibility = 'private' AND (m.sender = $2 OR EXISTS (SELECT 1 FROM message_recipients r WHERE r.message_id = m.id AND r.agent_id = $2))) OR (m.visibility = 'agent_only' AND m.sender_type = $3))))
         ORDER BY m.session_id ASC, m.id ASC LIMIT $7 OFFSET $8;
    END IF;
END
$$;

-- Newest first: what sender $5 posted in session $4 that reader $1..$3 may read; limit $6.
-- Index: messages_session_sender_idx (session_id, sender, id).
CREATE OR REPLACE FUNCTION read_messages_by_sender(text, text, text, text, text, bigint)
RETURNS SETOF messages
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
SET enable_bitmapscan = off
SET enable_sort = off
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY SELECT m.* FROM messages m
     WHERE m.session_id = $4 AND m.sender >= $5 AND m.sender <= $5
       AND (m.visibility = 'public' OR $1 = 'admin' OR ($1 = 'agent' AND ((m.visibility = 'private' AND (m.sender = $2 OR EXISTS (SELECT 1 FROM message_recipients r WHERE r.message_id = m.id AND r.agent_id = $2))) OR (m.visibility = 'agent_only' AND m.sender_type = $3))))
     ORDER BY m.sender DESC, m.id DESC LIMIT $6;
END
$$;

-- Oldest first: messages of session $4 created within $5..=$6 that reader $1..$3 may read; limit $7.
-- Index: messages_session_created_idx (session_id, created_at, id).
CREATE OR REPLACE FUNCTION read_messages_in_range(text, text, text, text, timestamptz, timestamptz, bigint)
RETURNS SETOF messages
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
SET enable_bitmapscan = off
SET enable_sort = off
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY SELECT m.* FROM messages m
     WHERE m.session_id = $4 AND m.created_at >= $5 AND m.created_at <= $6
       AND (m.visibility = 'public' OR $1 = 'admin' OR ($1 = 'agent' AND ((m.visibility = 'private' AND (m.sender = $2 OR EXISTS (SELECT 1 FROM message_recipients r WHERE r.message_id = m.id AND r.agent_id = $2))) OR (m.visibility = 'agent_only' AND m.sender_type = $3))))
     ORDER BY m.created_at ASC, m.id ASC LIMIT $7;
END
$$;
