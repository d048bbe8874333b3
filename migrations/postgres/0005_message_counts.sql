-- Message counts per session (PostgreSQL): get_messages reports `total_count`, the messages the
-- reader may see. Counting them row by row costs O(session size) on every first-page read; this
-- table keeps one count per (session, visibility, sender, sender_type), so the same visibility
-- predicate sums a few rows instead. Triggers keep it exact for every write path (add_message,
-- import, copy), in the writing transaction, so a reader's snapshot sees counts and messages agree.
CREATE TABLE session_message_counts (
    session_id  TEXT   NOT NULL,
    visibility  TEXT   NOT NULL,
    sender      TEXT   NOT NULL,
    sender_type TEXT   NOT NULL,
    n           BIGINT NOT NULL,
    PRIMARY KEY (session_id, visibility, sender, sender_type)
);

INSERT INTO session_message_counts (session_id, visibility, sender, sender_type, n)
SELECT session_id, visibility, sender, sender_type, count(*) FROM messages
 GROUP BY session_id, visibility, sender, sender_type;

-- Statement-level with transition tables: a bulk import updates each count once, not per row.
-- Rows are upserted in key order so concurrent writers lock them in the same order. Messages are
-- never updated or deleted by the server; the UPDATE and DELETE triggers keep the counts exact
-- if an operator does it by hand.
CREATE FUNCTION session_message_counts_apply() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE session_message_counts c SET n = c.n - d.n
          FROM (SELECT session_id, visibility, sender, sender_type, count(*) AS n FROM old_rows
                 GROUP BY session_id, visibility, sender, sender_type) d
         WHERE c.session_id = d.session_id AND c.visibility = d.visibility
           AND c.sender = d.sender AND c.sender_type = d.sender_type;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO session_message_counts AS c (session_id, visibility, sender, sender_type, n)
        SELECT session_id, visibility, sender, sender_type, count(*) FROM new_rows
         GROUP BY session_id, visibility, sender, sender_type
         ORDER BY session_id, visibility, sender, sender_type
        ON CONFLICT (session_id, visibility, sender, sender_type) DO UPDATE SET n = c.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER messages_count_insert AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION session_message_counts_apply();
CREATE TRIGGER messages_count_update AFTER UPDATE ON messages
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION session_message_counts_apply();
CREATE TRIGGER messages_count_delete AFTER DELETE ON messages
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION session_message_counts_apply();
