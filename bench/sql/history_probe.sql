-- 100 look-ups of random records, each timed in the server; prints the
-- median in ms and whether every look-up found its record's whole history
-- (its sealed rows and its tail rows: g % keys = k for g in 1..rows and 1..tail),
-- then the median of audit_row_as_of() for the same records, now (which
-- replays that history), and whether each gave the record's last state.
SELECT set_config('bench.rows', :'rows', false), set_config('bench.keys', :'keys', false),
       set_config('bench.tail', :'tail', false) \gset
CREATE TEMP TABLE probe (ms float8, found bigint, expected bigint, as_of_ms float8, as_of_ok boolean);
DO $$
DECLARE
    rows bigint := current_setting('bench.rows')::bigint;
    keys bigint := current_setting('bench.keys')::bigint;
    tail bigint := current_setting('bench.tail')::bigint;
    k    bigint;
    t0   timestamptz;
    n    bigint;
    t1   timestamptz;
    st   jsonb;
BEGIN
    PERFORM setseed(0.42);
    FOR i IN 1..100 LOOP
        k := floor(random() * keys)::bigint;
        t0 := clock_timestamp();
        SELECT count(*) INTO n FROM audit_history('leads', jsonb_build_object('id', k));
        t1 := clock_timestamp();
        st := audit_row_as_of('leads', jsonb_build_object('id', k), now());
        INSERT INTO probe VALUES (
            extract(epoch FROM t1 - t0) * 1000, n,
            -- how many g in 1..m have g % keys = k
            (rows - k) / keys + (CASE WHEN k > 0 AND k <= rows THEN 1 ELSE 0 END)
            + (tail - k) / keys + (CASE WHEN k > 0 AND k <= tail THEN 1 ELSE 0 END),
            extract(epoch FROM clock_timestamp() - t1) * 1000,
            -- the tail's rows set "won", the sealed ones "contacted"
            st = jsonb_build_object('status', CASE WHEN k <= tail THEN 'won' ELSE 'contacted' END));
    END LOOP;
END;
$$;
SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2) || ' ' || bool_and(found = expected)
       || ' ' || round(percentile_cont(0.5) WITHIN GROUP (ORDER BY as_of_ms)::numeric, 2) || ' ' || bool_and(as_of_ok)
FROM probe;
