-- Message counts per session (SQLite): the same table as on PostgreSQL. get_messages reports
-- `total_count`, the messages the reader may see; summing one count per (session, visibility,
-- sender, sender_type) with the shared visibility predicate replaces a scan of the session.
-- Triggers keep it exact for every write path, inside the writing transaction.
CREATE TABLE session_message_counts (
    session_id  TEXT    NOT NULL,
    visibility  TEXT    NOT NULL,
    sender      TEXT    NOT NULL,
    sender_type TEXT    NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (session_id, visibility, sender, sender_type)
) WITHOUT ROWID;

INSERT INTO session_message_counts (session_id, visibility, sender, sender_type, n)
SELECT session_id, visibility, sender, sender_type, count(*) FROM messages
 GROUP BY session_id, visibility, sender, sender_type;

CREATE TRIGGER messages_count_insert AFTER INSERT ON messages BEGIN
    INSERT INTO session_message_counts (session_id, visibility, sender, sender_type, n)
    VALUES (NEW.session_id, NEW.visibility, NEW.sender, NEW.sender_type, 1)
    ON CONFLICT (session_id, visibility, sender, sender_type) DO UPDATE SET n = n + 1;
END;

-- Messages are never updated or deleted by the server; these keep the counts exact if an
-- operator does it by hand.
CREATE TRIGGER messages_count_delete AFTER DELETE ON messages BEGIN
    UPDATE session_message_counts SET n = n - 1
     WHERE session_id = OLD.session_id AND visibility = OLD.visibility
       AND sender = OLD.sender AND sender_type = OLD.sender_type;
END;

CREATE TRIGGER messages_count_update AFTER UPDATE OF session_id, visibility, sender, sender_type ON messages BEGIN
    UPDATE session_message_counts SET n = n - 1
     WHERE session_id = OLD.session_id AND visibility = OLD.visibility
       AND sender = OLD.sender AND sender_type = OLD.sender_type;
    INSERT INTO session_message_counts (session_id, visibility, sender, sender_type, n)
    VALUES (NEW.session_id, NEW.visibility, NEW.sender, NEW.sender_type, 1)
    ON CONFLICT (session_id, visibility, sender, sender_type) DO UPDATE SET n = n + 1;
END;
