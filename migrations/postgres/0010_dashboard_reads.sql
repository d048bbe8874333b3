-- The dashboard's history page (PostgreSQL): one session's messages newest first below an id, with
-- a plan that does not depend on statistics, for the reasons and by the means of 0007
-- and 0008 (read_messages, with the recipients case of the visibility rule): enable_bitmapscan and enable_sort off, the ORDER BY naming exactly the columns
-- of messages_session_read_idx with the session bounded by a range, one generic plan.
-- Reader $1 kind, $2 agent id, $3 agent type; session $4; ids below $5; limit $6.
-- Index: messages_session_read_idx (session_id, id).
CREATE FUNCTION read_messages_before(text, text, text, text, bigint, bigint)
RETURNS SETOF messages
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
SET enable_bitmapscan = off
SET enable_sort = off
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY SELECT m.* FROM messages m
     WHERE m.session_id >= $4 AND m.session_id <= $4 AND m.id < $5
       AND (m.visibility = 'public' OR $1 = 'admin' OR ($1 = 'agent' AND ((m.visibility = 'private' AND (m.sender = $2 OR EXISTS (SELECT 1 FROM message_recipients r WHERE r.message_id = m.id AND r.agent_id = $2))) OR (m.visibility = 'agent_only' AND m.sender_type = $3))))
     ORDER BY m.session_id DESC, m.id DESC LIMIT $6;
END
$$;
