-- Retention (SQLite): pruning deletes old messages and closed sessions. With foreign keys on,
-- deleting a session looks for its memory entries (replies to a deleted message are found by
-- messages_parent_idx, migration 0006): without this index each would read the whole table.
CREATE INDEX agent_memory_session_idx ON agent_memory (session_id) WHERE session_id IS NOT NULL;
