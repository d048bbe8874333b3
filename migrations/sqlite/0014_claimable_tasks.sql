-- claim_task without task_id finds the oldest claimable task by an index walk that reads only
-- claimable tasks (SQLite; the same as PostgreSQL's 0017). Before this, it walked the session's
-- submitted tasks in id order and filtered out those assigned to someone else or blocked by an
-- unfinished dependency, so a claimable task behind 20,000 of them cost a read of all 20,000
-- (tests/it/task_proofs/plans.rs). `waiting` counts a task's dependencies not yet completed;
-- `task_dependencies` is the reverse edge (dependency -> dependent) that lets a completion find
-- its dependents through the primary key. Triggers keep both exact on every write path
-- (create_task, import, copy) inside the writing transaction; the single writer orders them.
-- Final states are final, so a dependency completes at most once and `waiting` only falls. A stale
-- `waiting` could only hide a task from claim-next, never hand out a blocked one: the claim still
-- checks the dependencies' states.
ALTER TABLE tasks ADD COLUMN waiting INTEGER NOT NULL DEFAULT 0;

CREATE TABLE task_dependencies (
    dependency_id INTEGER NOT NULL,
    task_id       INTEGER NOT NULL,
    PRIMARY KEY (dependency_id, task_id)
) WITHOUT ROWID;

INSERT OR IGNORE INTO task_dependencies (dependency_id, task_id)
SELECT d.value, t.id FROM tasks t, json_each(t.depends_on) d;

UPDATE tasks SET waiting = (
    SELECT count(*) FROM task_dependencies e
     WHERE e.task_id = tasks.id
       AND NOT EXISTS (SELECT 1 FROM tasks x WHERE x.id = e.dependency_id AND x.state = 'completed'))
 WHERE depends_on <> '[]';

CREATE TRIGGER tasks_dependencies_insert AFTER INSERT ON tasks
WHEN json_array_length(NEW.depends_on) > 0 BEGIN
    INSERT OR IGNORE INTO task_dependencies (dependency_id, task_id)
    SELECT value, NEW.id FROM json_each(NEW.depends_on);
    UPDATE tasks SET waiting = (
        SELECT count(*) FROM task_dependencies e
         WHERE e.dependency_id IN (SELECT value FROM json_each(NEW.depends_on)) AND e.task_id = NEW.id
           AND NOT EXISTS (SELECT 1 FROM tasks x WHERE x.id = e.dependency_id AND x.state = 'completed'))
     WHERE id = NEW.id;
END;

CREATE TRIGGER tasks_dependency_completed AFTER UPDATE OF state ON tasks
WHEN NEW.state = 'completed' AND OLD.state <> 'completed' BEGIN
    UPDATE tasks SET waiting = waiting - 1
     WHERE id IN (SELECT task_id FROM task_dependencies WHERE dependency_id = NEW.id);
END;

CREATE TRIGGER tasks_dependencies_delete AFTER DELETE ON tasks
WHEN json_array_length(OLD.depends_on) > 0 BEGIN
    DELETE FROM task_dependencies
     WHERE dependency_id IN (SELECT value FROM json_each(OLD.depends_on)) AND task_id = OLD.id;
END;

-- Only claimable tasks are in these: the unassigned ones, and each assignee's own (the same
-- columns as PostgreSQL's, where `created_at` keeps the planner on them).
CREATE INDEX tasks_claimable_idx ON tasks (session_id, id, created_at)
    WHERE state = 'submitted' AND waiting = 0 AND assignee IS NULL;
CREATE INDEX tasks_claimable_assigned_idx ON tasks (session_id, assignee, id, created_at)
    WHERE state = 'submitted' AND waiting = 0 AND assignee IS NOT NULL;
