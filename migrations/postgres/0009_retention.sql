-- Retention (PostgreSQL). Pruning deletes old messages and closed sessions: the foreign keys
-- look for the memory entries of each deleted session (replies to a deleted message are found
-- by messages_parent_idx, migration 0008); without this index every deleted session would read
-- the whole memory table.
CREATE INDEX agent_memory_session_idx ON agent_memory (session_id) WHERE session_id IS NOT NULL;

-- Autovacuum for the hot tables. The defaults (vacuum at 20% dead rows, analyze at 10% changed)
-- mean a 10M-row messages table waits for 2M dead rows before a vacuum and 1M new rows before
-- fresh statistics. Insert-driven vacuums keep the visibility map current for index-only counts.
ALTER TABLE messages SET (
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_insert_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.02
);
ALTER TABLE audit_log SET (
    autovacuum_vacuum_scale_factor = 0.05,
    autovacuum_vacuum_insert_scale_factor = 0.1,
    autovacuum_analyze_scale_factor = 0.05
);
-- One row per (session, visibility, sender, sender_type), updated by every insert: many dead
-- versions of few rows. Room on each page for HOT updates, and a vacuum every 1,000 dead rows.
ALTER TABLE session_message_counts SET (
    fillfactor = 70,
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 1000
);
-- sessions.updated_at moves with every message posted.
ALTER TABLE sessions SET (
    fillfactor = 80,
    autovacuum_vacuum_scale_factor = 0.05
);
