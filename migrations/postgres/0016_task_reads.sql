-- list_tasks whose plan does not depend on statistics (PostgreSQL), like read_messages (0007)
-- and live_leases (0011). On a never-analyzed table the plain statement read one session's tasks
-- with a bitmap heap scan over all of them plus a top-N sort: measured 1,463 buffers and 47 ms for
-- 50 of 50,000 tasks, against 5 buffers for the ordered index scan that stops after the page
-- (tests/it/task_proofs/plans.rs). Sequential, bitmap scans and (incremental) sorts off, the ORDER BY naming
-- exactly one index's columns and the columns before `id` bounded by ranges, that index's scan is
-- the only plan left. An agent's tasks in one state get their own index, so that read does not
-- walk the agent's finished tasks either.
CREATE INDEX tasks_assignee_state_idx ON tasks (session_id, assignee, state, id) WHERE assignee IS NOT NULL;

-- Session $1's tasks with id above $4, in id order, at most $5; only state $2 and assignee $3
-- when not NULL.
CREATE FUNCTION list_tasks(text, text, text, bigint, bigint)
RETURNS SETOF tasks
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_sort = off
SET enable_incremental_sort = off
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    IF $3 IS NOT NULL AND $2 IS NOT NULL THEN
        -- Equalities here: btree stops a scan only at the bound of the first ranged column, so
        -- ranges on three columns walked the agent's later states too (147 buffers for one
        -- row). With three equalities the four-column index matches the most quals, so it is
        -- the cheapest plan with statistics or without.
        RETURN QUERY SELECT t.* FROM tasks t
         WHERE t.session_id = $1 AND t.assignee = $3 AND t.state = $2 AND t.id > $4
         ORDER BY t.id LIMIT $5;
    ELSIF $3 IS NOT NULL THEN
        RETURN QUERY SELECT t.* FROM tasks t
         WHERE t.session_id >= $1 AND t.session_id <= $1 AND t.assignee >= $3 AND t.assignee <= $3
           AND t.id > $4
         ORDER BY t.session_id, t.assignee, t.id LIMIT $5;
    ELSIF $2 IS NOT NULL THEN
        RETURN QUERY SELECT t.* FROM tasks t
         WHERE t.session_id >= $1 AND t.session_id <= $1 AND t.state >= $2 AND t.state <= $2
           AND t.id > $4
         ORDER BY t.session_id, t.state, t.id LIMIT $5;
    ELSE
        RETURN QUERY SELECT t.* FROM tasks t
         WHERE t.session_id >= $1 AND t.session_id <= $1 AND t.id > $4
         ORDER BY t.session_id, t.id LIMIT $5;
    END IF;
END
$$;
