-- Search (PostgreSQL): pg_trgm GIN indexes so case-insensitive substring tests (ILIKE '%…%') over
-- content and top-level metadata values are index lookups. The metadata text is a stored generated
-- column: ADD COLUMN computes it for existing rows, and CREATE INDEX reads them (the backfill).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- The metadata text a search matches: top-level strings, numbers and true, skipping falsy values.
CREATE FUNCTION message_search_meta(metadata jsonb) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT coalesce(string_agg(j.value #>> '{}', ' ' ORDER BY j.key COLLATE "C"), '')
      FROM jsonb_each(metadata) AS j
     WHERE jsonb_typeof(j.value) IN ('string', 'number', 'boolean')
       AND j.value NOT IN ('""'::jsonb, '0'::jsonb, 'false'::jsonb)
$$;

ALTER TABLE messages
    ADD COLUMN search_meta text GENERATED ALWAYS AS (message_search_meta(metadata)) STORED;

-- pg_trgm may already be installed in another schema of this database: find its operator class
-- wherever it lives instead of assuming the search_path.
DO $$
DECLARE
    ops text;
BEGIN
    SELECT quote_ident(n.nspname) || '.gin_trgm_ops' INTO ops
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'pg_trgm';
    EXECUTE format('CREATE INDEX messages_content_trgm_idx ON messages USING gin (content %s)', ops);
    EXECUTE format('CREATE INDEX messages_meta_trgm_idx ON messages USING gin (search_meta %s)', ops);
END
$$;

-- search_by_timerange walks one session's messages in time order.
CREATE INDEX messages_session_created_idx ON messages (session_id, created_at, id);
