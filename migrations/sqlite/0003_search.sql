-- Search (SQLite): an FTS5 trigram index over each message's content and top-level metadata values,
-- so any substring of 3+ characters is an index lookup (case-insensitive). Contentless: the text
-- stays in `messages`; rowid = messages.id. Triggers keep it in step; the last statement backfills.
CREATE VIRTUAL TABLE messages_search USING fts5 (
    content,
    meta,
    content = '',
    contentless_delete = 1,
    tokenize = 'trigram'
);

CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_search (rowid, content, meta) VALUES (
        NEW.id,
        NEW.content,
        (SELECT group_concat(CASE j.type WHEN 'true' THEN 'true' ELSE j.value END, ' ')
           FROM json_each(NEW.metadata) AS j
          WHERE j.type IN ('text', 'integer', 'real', 'true') AND j.value <> '' AND j.value <> 0)
    );
END;

CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
    DELETE FROM messages_search WHERE rowid = OLD.id;
END;

CREATE TRIGGER messages_search_update AFTER UPDATE OF content, metadata ON messages BEGIN
    DELETE FROM messages_search WHERE rowid = OLD.id;
    INSERT INTO messages_search (rowid, content, meta) VALUES (
        NEW.id,
        NEW.content,
        (SELECT group_concat(CASE j.type WHEN 'true' THEN 'true' ELSE j.value END, ' ')
           FROM json_each(NEW.metadata) AS j
          WHERE j.type IN ('text', 'integer', 'real', 'true') AND j.value <> '' AND j.value <> 0)
    );
END;

-- search_by_timerange walks one session's messages in time order.
CREATE INDEX messages_session_created_idx ON messages (session_id, created_at, id);

INSERT INTO messages_search (rowid, content, meta)
SELECT m.id,
       m.content,
       (SELECT group_concat(CASE j.type WHEN 'true' THEN 'true' ELSE j.value END, ' ')
          FROM json_each(m.metadata) AS j
         WHERE j.type IN ('text', 'integer', 'real', 'true') AND j.value <> '' AND j.value <> 0)
  FROM messages AS m;
