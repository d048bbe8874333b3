-- message_search_meta, same result, in PL/pgSQL. As an SQL function that reads jsonb_each it can
-- not be inlined, so every INSERT into messages parsed its body twice (once trying to inline it
-- while preparing the generated column, once to run it) and planned it once: about 7% of the
-- database's CPU under the mixed benchmark. PL/pgSQL keeps the compiled function and the plan of
-- its query per connection. Stored values do not change: the text computed is the same.
CREATE OR REPLACE FUNCTION message_search_meta(metadata jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
BEGIN
    RETURN (
        SELECT coalesce(string_agg(j.value #>> '{}', ' ' ORDER BY j.key COLLATE "C"), '')
          FROM jsonb_each(metadata) AS j
         WHERE jsonb_typeof(j.value) IN ('string', 'number', 'boolean')
           AND j.value NOT IN ('""'::jsonb, '0'::jsonb, 'false'::jsonb)
    );
END
$$;
