-- search_context's first pass (PostgreSQL): the newest messages of one session that a reader may
-- read and whose text holds a search formula, read newest first through
-- messages_session_read_idx and stopped as soon as the limit is reached, or after a fixed window
-- of rows. Its cost is the rows read until the limit is found (about limit / share of matching
-- rows), capped by the window: the same at 100 messages and at a million.
--
-- Before this, the window was `read_messages(..., 2000 rows)` filtered by the caller. A PL/pgSQL
-- function hands its whole result over at once, so all 2,000 rows were read, copied and filtered
-- even when the first 80 held the 10 matches asked for: 6.3 ms at a million messages against
-- 1.2 ms at 100 through the server (docs/BENCHMARKS.md, load 13), 13.8 ms against 0.3 ms in the
-- database. Here the filter and the limit are inside the function's statement.
--
-- Plans as in 0007 and 0016: bitmap, sequential scans and sorts off, the ORDER BY naming the
-- index's columns with the session bounded by a range, so the ordered scan of
-- messages_session_read_idx is the only plan, whatever the statistics.
--
-- The formula: `$10` holds the `%…%` patterns of an AND of ORs of ANDs (groups x conjunctions x
-- patterns, `$11` x `$12` x `$13`, flattened row-major, each level padded by repeating one of its
-- own members, which changes nothing). A message matches when every group has a conjunction whose
-- patterns all occur in its text (content, and with `$9` its metadata text: joined by chr(1),
-- which a query never holds, so no pattern can match across the join). A single conjunction (the
-- exact tier, every word present) is one static statement with `ILIKE ALL`, planned once per
-- connection; the typo tiers (several conjunctions) build the same statement with one
-- `ILIKE ALL` per conjunction from the array's shape alone and plan it per call (~0.3 ms idle,
-- about 1 ms at load 15), where reading the window row by row in PL/pgSQL would cost more.
--
-- Reader $1 kind, $2 agent id, $3 agent type; session $4; only visibility $5 (NULL: all); sender
-- $6 (NULL: any); window $7 rows; limit $8; metadata searched when $9.
-- The visibility predicate is the text of `storage::visibility::visible_to_reader!` verbatim
-- (tests/it/plans.rs checks the copies stay identical).
CREATE FUNCTION search_window(text, text, text, text, text, text, bigint, bigint, boolean, text[], integer, integer, integer)
RETURNS SETOF messages
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_sort = off
SET enable_incremental_sort = off
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    text_of constant text := 'CASE WHEN $9 THEN w.content || chr(1) || coalesce(w.search_meta, '''') ELSE w.content END';
    cond text := '';
    part text;
    first integer;
BEGIN
    IF $11 = 1 AND $12 = 1 THEN
        RETURN QUERY SELECT w.* FROM (SELECT m.* FROM messages m
         WHERE m.session_id >= $4 AND m.session_id <= $4 AND ($5 IS NULL OR m.visibility = $5) AND ($6 IS NULL OR m.sender = $6)
           AND (m.visibility = 'public' OR $1 = 'admin' OR ($1 = 'agent' AND ((m.visibility = 'private' AND (m.sender = $2 OR EXISTS (SELECT 1 FROM message_recipients r WHERE r.message_id = m.id AND r.agent_id = $2))) OR (m.visibility = 'agent_only' AND m.sender_type = $3))))
         ORDER BY m.session_id DESC, m.id DESC LIMIT $7) w
         WHERE (CASE WHEN $9 THEN w.content || chr(1) || coalesce(w.search_meta, '') ELSE w.content END) ILIKE ALL ($10)
         ORDER BY w.session_id DESC, w.id DESC LIMIT $8;
        RETURN;
    END IF;
    FOR g IN 0 .. $11 - 1 LOOP
        part := '';
        FOR c IN 0 .. $12 - 1 LOOP
            first := (g * $12 + c) * $13 + 1;
            part := part || CASE WHEN c > 0 THEN ' OR ' ELSE '' END
                || format('(%s) ILIKE ALL ($10[%s:%s])', text_of, first, first + $13 - 1);
        END LOOP;
        cond := cond || CASE WHEN g > 0 THEN ' AND ' ELSE '' END || '(' || part || ')';
    END LOOP;
    RETURN QUERY EXECUTE $q$SELECT w.* FROM (SELECT m.* FROM messages m
         WHERE m.session_id >= $4 AND m.session_id <= $4 AND ($5 IS NULL OR m.visibility = $5) AND ($6 IS NULL OR m.sender = $6)
           AND (m.visibility = 'public' OR $1 = 'admin' OR ($1 = 'agent' AND ((m.visibility = 'private' AND (m.sender = $2 OR EXISTS (SELECT 1 FROM message_recipients r WHERE r.message_id = m.id AND r.agent_id = $2))) OR (m.visibility = 'agent_only' AND m.sender_type = $3))))
         ORDER BY m.session_id DESC, m.id DESC LIMIT $7) w
         WHERE $q$ || cond || ' ORDER BY w.session_id DESC, w.id DESC LIMIT $8'
      USING $1, $2, $3, $4, $5, $6, $7, $8, $9, $10;
END
$$;
