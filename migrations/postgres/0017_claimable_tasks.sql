-- claim_task without task_id finds the oldest claimable task by an index walk that reads only
-- claimable tasks (PostgreSQL). Before this, it walked the session's submitted tasks in id order and
-- filtered out those assigned to someone else or blocked by an unfinished dependency, so a
-- claimable task behind 20,000 of them cost a read of all 20,000 (tests/it/task_proofs/plans.rs).
-- `waiting` counts a task's dependencies not yet completed; `task_dependencies` is the reverse
-- edge (dependency -> dependent) that lets a completion find its dependents through the primary
-- key. Triggers keep both exact on every write path (create_task, import, copy) inside the writing
-- transaction. Final states are final, so a dependency completes at most once and `waiting` only
-- falls. A stale `waiting` could only hide a task from claim-next, never hand out a blocked one:
-- the claim still checks the dependencies' states on the locked row.
ALTER TABLE tasks ADD COLUMN waiting INTEGER NOT NULL DEFAULT 0;

CREATE TABLE task_dependencies (
    dependency_id BIGINT NOT NULL,
    task_id       BIGINT NOT NULL,
    PRIMARY KEY (dependency_id, task_id)
);

INSERT INTO task_dependencies (dependency_id, task_id)
SELECT DISTINCT d.id::bigint, t.id FROM tasks t, jsonb_array_elements_text(t.depends_on) d(id);

UPDATE tasks t SET waiting = (
    SELECT count(*) FROM task_dependencies e
     WHERE e.task_id = t.id
       AND NOT EXISTS (SELECT 1 FROM tasks x WHERE x.id = e.dependency_id AND x.state = 'completed'))
 WHERE t.depends_on <> '[]'::jsonb;

-- A new task's dependencies are locked FOR SHARE before their states are counted: a completion
-- running at the same time either committed first (the count sees it) or waits for this insert to
-- commit and then finds the new task among the dependents (READ COMMITTED: its trigger's statement
-- takes a fresh snapshot). Without the lock the two could miss each other and leave `waiting` at 1.
CREATE FUNCTION tasks_dependencies_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
    NEW.waiting := 0;
    IF jsonb_array_length(NEW.depends_on) > 0 THEN
        PERFORM 1 FROM tasks
          WHERE id IN (SELECT d::bigint FROM jsonb_array_elements_text(NEW.depends_on) d)
          ORDER BY id FOR SHARE;
        INSERT INTO task_dependencies (dependency_id, task_id)
        SELECT DISTINCT d::bigint, NEW.id FROM jsonb_array_elements_text(NEW.depends_on) d
        ON CONFLICT DO NOTHING;
        SELECT count(*) INTO NEW.waiting FROM task_dependencies e
         WHERE e.task_id = NEW.id
           AND e.dependency_id IN (SELECT d::bigint FROM jsonb_array_elements_text(NEW.depends_on) d)
           AND NOT EXISTS (SELECT 1 FROM tasks x WHERE x.id = e.dependency_id AND x.state = 'completed');
    END IF;
    RETURN NEW;
END
$$;

CREATE FUNCTION tasks_dependency_completed() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
    -- Dependents locked in id order first, so two completions that share dependents cannot
    -- deadlock on them.
    PERFORM 1 FROM tasks
      WHERE id IN (SELECT task_id FROM task_dependencies WHERE dependency_id = NEW.id)
      ORDER BY id FOR UPDATE;
    UPDATE tasks SET waiting = waiting - 1
     WHERE id IN (SELECT task_id FROM task_dependencies WHERE dependency_id = NEW.id);
    RETURN NULL;
END
$$;

CREATE FUNCTION tasks_dependencies_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
    DELETE FROM task_dependencies e USING old_rows o, jsonb_array_elements_text(o.depends_on) d
     WHERE e.dependency_id = d::bigint AND e.task_id = o.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER tasks_dependencies_insert BEFORE INSERT ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_dependencies_insert();
CREATE TRIGGER tasks_dependency_completed AFTER UPDATE OF state ON tasks
    FOR EACH ROW WHEN (NEW.state = 'completed' AND OLD.state <> 'completed')
    EXECUTE FUNCTION tasks_dependency_completed();
CREATE TRIGGER tasks_dependencies_delete AFTER DELETE ON tasks
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tasks_dependencies_delete();

-- Only claimable tasks are in these: the unassigned ones, and each assignee's own. `created_at`
-- after `id` makes each the only index whose order is the one next_claimable_task() asks for.
CREATE INDEX tasks_claimable_idx ON tasks (session_id, id, created_at)
    WHERE state = 'submitted' AND waiting = 0 AND assignee IS NULL;
CREATE INDEX tasks_claimable_assigned_idx ON tasks (session_id, assignee, id, created_at)
    WHERE state = 'submitted' AND waiting = 0 AND assignee IS NOT NULL;

-- Session $1's oldest claimable task, locked, skipping rows other claimants lock: with $2, a
-- handoff to agent $2; without, an unassigned task with an id below $3. The plan must not depend
-- on statistics (like list_tasks(), 0016): after ANALYZE the plain statement walked the session's
-- submitted tasks through tasks_state_idx and filtered, 438 buffers for the one claimable task
-- behind 20,000 (tests/it/task_proofs/plans.rs). With sorts off and the ORDER BY naming
-- `created_at` after `id`, the partial index is the only plan without a sort: every row it walks
-- is claimable.
CREATE FUNCTION next_claimable_task(text, text, bigint)
RETURNS SETOF tasks
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_sort = off
SET enable_incremental_sort = off
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    IF $2 IS NOT NULL THEN
        RETURN QUERY SELECT t.* FROM tasks t
         WHERE t.session_id = $1 AND t.assignee = $2 AND t.state = 'submitted' AND t.waiting = 0
         ORDER BY t.id, t.created_at LIMIT 1 FOR UPDATE OF t SKIP LOCKED;
    ELSE
        RETURN QUERY SELECT t.* FROM tasks t
         WHERE t.session_id = $1 AND t.assignee IS NULL AND t.state = 'submitted' AND t.waiting = 0
           AND t.id < $3
         ORDER BY t.id, t.created_at LIMIT 1 FOR UPDATE OF t SKIP LOCKED;
    END IF;
END
$$;
