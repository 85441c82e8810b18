\set ECHO none
-- RFC 9162's Merkle tree hash (MTH, section 2.1.1), re-implemented in plain
-- SQL from the RFC's recursive definition, apart from lead_audit's Rust: the
-- pg_regress scenario 23_merkle_tree compares every block's stored root with
-- it over the blocks' own checksums. (make_merkle.py and the Go cross-check
-- do the same for merkle.json.)
CREATE FUNCTION pg_temp.ref_mth(leaves bytea[]) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    n int := coalesce(cardinality(leaves), 0);
    k int := 1;
BEGIN
    IF n = 0 THEN
        RETURN sha256(''::bytea);
    ELSIF n = 1 THEN
        RETURN leaves[1];
    END IF;
    WHILE k * 2 < n LOOP
        k := k * 2;
    END LOOP;
    RETURN sha256('\x01'::bytea || pg_temp.ref_mth(leaves[1:k]) || pg_temp.ref_mth(leaves[k + 1:n]));
END;
$$;

-- The leaf hashes of the first n sealed rows, in seal order (block by
-- block, each in the order of its row_ids): SHA-256(0x00 || checksum).
CREATE FUNCTION pg_temp.ref_leaves(n bigint) RETURNS bytea[]
LANGUAGE sql STABLE AS $$
    SELECT array_agg(sha256('\x00'::bytea || substr(b.row_checksums, (i * 32 + 1)::int, 32)) ORDER BY b.id, i)
    FROM (SELECT b.id, b.row_checksums, g.i
          FROM audit_block b, generate_series(0, b.row_count - 1) AS g(i)
          ORDER BY b.id, g.i
          LIMIT n) b
$$;
\set ECHO all
