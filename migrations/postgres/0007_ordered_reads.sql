-- Per-session reads whose plan does not depend on statistics (PostgreSQL).
--
-- On a table that was never analyzed (a fresh database under load: autovacuum analyzes after its
-- naptime at the earliest) the planner guesses a session holds ~20 rows and reads one session's
-- messages with a bitmap heap scan over ALL of them plus a top-N sort: measured 14.7 ms for 50 of
-- 23,000 rows, against 0.07 ms for the ordered index scan that stops after 50. Analyzed, a generic
-- plan can walk the primary key instead when the statistics show one session (n_distinct = 1),
-- which is the whole table for any other session. PostgreSQL has no hints, so these functions rule
-- the bad plans out instead of out-guessing the statistics:
--   * enable_bitmapscan = off and enable_sort = off: every plan that needs a sort costs more than
--     any plan that does not;
--   * the ORDER BY names the columns of exactly one index, and the columns before the order
--     column are bounded by a range (x >= $n AND x <= $n) rather than an equality, which the planner
--     would otherwise drop from the wanted order: so that index is the only sort-free plan, and
--     its scan starts at the first wanted row and stops after the limit;
--   * plan_cache_mode = force_generic_plan: one plan per connection, planned once (re-planning a
--     custom plan on every call cost ~0.4 ms, more than the read itself).
-- The settings hold only while a function runs. The visibility predicate is the text of
-- `storage::visibility::visible_to_reader!` verbatim (reader $1..$3 mean the same here); the plan
-- tests check the copies stay identical.

-- One session's messages: reader $1 kind, $2 agent id, $3 agent type; session $4; only visibility
-- $5 (NULL: all); ids above $6; limit $7, offset $8; newest first when $9.
-- Index: messages_session_read_idx (session_id, id).
CREATE FUNCTION read_messages(text, text, text, text, text, bigint, bigint, bigint, boolean)
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
           AND (m.visibility = 'public' OR $1 = 'admin' OR ($1 = 'agent' AND ((m.visibility = 'private' AND m.sender = $2) OR (m.visibility = 'agent_only' AND m.sender_type = $3))))
         ORDER BY m.session_id DESC, m.id DESC LIMIT $7 OFFSET $8;
    ELSE
        RETURN QUERY SELECT m.* FROM messages m
         WHERE m.session_id >= $4 AND m.session_id <= $4 AND m.id > $6 AND ($5 IS NULL OR m.visibility = $5)
           AND (m.visibility = 'public' OR $1 = 'admin' OR ($1 = 'agent' AND ((m.visibility = 'private' AND m.sender = $2) OR (m.visibility = 'agent_only' AND m.sender_type = $3))))
         ORDER BY m.session_id ASC, m.id ASC LIMIT $7 OFFSET $8;
    END IF;
END
$$;

-- Newest first: what sender $5 posted in session $4 that reader $1..$3 may read; limit $6.
-- Index: messages_session_sender_idx (session_id, sender, id).
CREATE FUNCTION read_messages_by_sender(text, text, text, text, text, bigint)
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
       AND (m.visibility = 'public' OR $1 = 'admin' OR ($1 = 'agent' AND ((m.visibility = 'private' AND m.sender = $2) OR (m.visibility = 'agent_only' AND m.sender_type = $3))))
     ORDER BY m.sender DESC, m.id DESC LIMIT $6;
END
$$;

-- Oldest first: messages of session $4 created within $5..=$6 that reader $1..$3 may read; limit $7.
-- Index: messages_session_created_idx (session_id, created_at, id).
CREATE FUNCTION read_messages_in_range(text, text, text, text, timestamptz, timestamptz, bigint)
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
       AND (m.visibility = 'public' OR $1 = 'admin' OR ($1 = 'agent' AND ((m.visibility = 'private' AND m.sender = $2) OR (m.visibility = 'agent_only' AND m.sender_type = $3))))
     ORDER BY m.created_at ASC, m.id ASC LIMIT $7;
END
$$;
