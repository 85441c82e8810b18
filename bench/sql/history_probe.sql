-- 100 look-ups of random records, each timed in the server; prints the
-- median in ms and whether every look-up found its record's whole history
-- (its sealed rows and its tail rows: g % keys = k for g in 1..rows and 1..tail).
SELECT set_config('bench.rows', :'rows', false), set_config('bench.keys', :'keys', false),
       set_config('bench.tail', :'tail', false) \gset
CREATE TEMP TABLE probe (ms float8, found bigint, expected bigint);
DO $$
DECLARE
    rows bigint := current_setting('bench.rows')::bigint;
    keys bigint := current_setting('bench.keys')::bigint;
    tail bigint := current_setting('bench.tail')::bigint;
    k    bigint;
    t0   timestamptz;
    n    bigint;
BEGIN
    PERFORM setseed(0.42);
    FOR i IN 1..100 LOOP
        k := floor(random() * keys)::bigint;
        t0 := clock_timestamp();
        SELECT count(*) INTO n FROM audit_history('leads', jsonb_build_object('id', k));
        INSERT INTO probe VALUES (
            extract(epoch FROM clock_timestamp() - t0) * 1000, n,
            -- how many g in 1..m have g % keys = k
            (rows - k) / keys + (CASE WHEN k > 0 AND k <= rows THEN 1 ELSE 0 END)
            + (tail - k) / keys + (CASE WHEN k > 0 AND k <= tail THEN 1 ELSE 0 END));
    END LOOP;
END;
$$;
SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2) || ' ' || bool_and(found = expected)
FROM probe;
