-- Proofs on the history step's log (its tree built as it was sealed; its
-- rows synthetic, their checksums not their forms: only the making of the
-- proofs is timed here, their checking is the tests'). 100 receipts of
-- random sealed rows and 100 consistency proofs between random sizes, each
-- timed in the server; prints the median receipt in ms, whether every one
-- is a tlog-proof with an inclusion path of at most 64 hashes, then the
-- median consistency proof in ms and whether each has at most 64 hashes.
CREATE TEMP TABLE probe (kind text, ms float8, ok boolean);
DO $$
DECLARE
    n     bigint := (SELECT max(tree_size) FROM audit_checkpoint);
    lo    bigint := (SELECT min(id) FROM audit_log);
    hi    bigint := (SELECT max(id) FROM audit_log);
    t0    timestamptz;
    r     text;
    a     bigint;
    b     bigint;
    p     bytea[];
BEGIN
    PERFORM setseed(0.42);
    FOR i IN 1..100 LOOP
        t0 := clock_timestamp();
        r := audit_proof(lo + floor(random() * (hi - lo + 1))::bigint);
        INSERT INTO probe VALUES ('proof', extract(epoch FROM clock_timestamp() - t0) * 1000,
            r LIKE 'c2sp.org/tlog-proof@v1%'
            AND array_length(regexp_split_to_array(split_part(r, E'\n\n', 1), E'\n'), 1) - 3 <= 64);
        a := 1 + floor(random() * (n - 1))::bigint;
        b := a + floor(random() * (n - a + 1))::bigint;
        t0 := clock_timestamp();
        p := audit_consistency(a, b);
        INSERT INTO probe VALUES ('consistency', extract(epoch FROM clock_timestamp() - t0) * 1000,
            coalesce(cardinality(p), 0) <= 64);
    END LOOP;
END;
$$;
SELECT round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE kind = 'proof'))::numeric, 2)
       || ' ' || bool_and(ok) FILTER (WHERE kind = 'proof')
       || ' ' || round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE kind = 'consistency'))::numeric, 2)
       || ' ' || bool_and(ok) FILTER (WHERE kind = 'consistency')
FROM probe;
