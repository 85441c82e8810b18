\i sql/prelude.psql
-- The Merkle tree (RFC 9162) over every sealed row: each block's tree size
-- and root, for trees of 1, 2, 3, 7, 8, 9 and 1000 rows and across a block
-- boundary inside one seal, compared with MTH written out in SQL
-- (tests/vectors/merkle.sql); consistency proofs; what needs a signing key
-- (this server has none) and the errors of bad input.
\i ../vectors/merkle.sql
CREATE TABLE leads (id int PRIMARY KEY, email text);
SELECT audit_enable('leads') IS NOT NULL AS enabled;
-- The audit_enable row alone: a tree of 1.
SELECT count(*) FROM audit_seal();
-- Rows added so that the tree grows to 2, 3, 7, 8, 9 and 1000.
CREATE PROCEDURE add(n int) LANGUAGE sql AS $$
    INSERT INTO leads
    SELECT s.top + g, 'lead' FROM (SELECT coalesce(max(id), 0) AS top FROM leads) s, generate_series(1, n) g
$$;
CALL add(1); SELECT count(*) FROM audit_seal();
CALL add(1); SELECT count(*) FROM audit_seal();
CALL add(4); SELECT count(*) FROM audit_seal();
CALL add(1); SELECT count(*) FROM audit_seal();
CALL add(1); SELECT count(*) FROM audit_seal();
CALL add(991); SELECT count(*) FROM audit_seal();
-- 10,500 rows more: one seal, two blocks (at most 10,000 rows each).
CALL add(10500); SELECT count(*) FROM audit_seal();
SELECT block_id, tree_size FROM audit_tree ORDER BY block_id;
-- Every stored root is RFC 9162's MTH of the leaves sealed up to it.
SELECT block_id, root = pg_temp.ref_mth(pg_temp.ref_leaves(tree_size)) AS rfc_9162_root
FROM audit_tree WHERE tree_size <= 1000 ORDER BY block_id;
SELECT root = pg_temp.ref_mth(pg_temp.ref_leaves(tree_size)) AS rfc_9162_root_of_11500
FROM audit_tree ORDER BY tree_size DESC LIMIT 1;
-- The stored subtrees: one per 256 leaves (44), and one of 65,536 not yet.
SELECT level, count(*) FROM audit_tree_node GROUP BY level ORDER BY level;
-- Consistency proofs: empty from 0 and to the same size; lengths otherwise.
SELECT audit_consistency(0, 9) = '{}' AS from_empty, audit_consistency(9, 9) = '{}' AS same_size;
SELECT cardinality(audit_consistency(1, 2)) AS one_to_two, cardinality(audit_consistency(7, 8)) AS seven_to_eight,
       cardinality(audit_consistency(8, 1000)) AS eight_to_1000;
SELECT try($$ SELECT audit_consistency(-1, 5) $$);
SELECT try($$ SELECT audit_consistency(6, 5) $$);
SELECT try($$ SELECT audit_consistency(1, 11502) $$);
SELECT try($$ SELECT audit_consistency(NULL, 5) $$);
-- Without a signing key: no checkpoint, no key, no receipt (55000), and
-- the errors of bad input.
SELECT try($$ SELECT audit_checkpoint() $$);
SELECT try($$ SELECT audit_verifier_key() $$);
SELECT try($$ SELECT audit_tree_head() $$);
SELECT try($$ SELECT audit_proof(5) $$);
SELECT try($$ SELECT audit_proof(NULL) $$);
SELECT try($$ SELECT audit_proof(99999999) $$);
CALL add(1);
SELECT try(format($$ SELECT audit_proof(%s) $$, (SELECT max(id) FROM audit_log)));
SELECT try($$ SELECT audit_add_checkpoint('not a note') $$);
SELECT try($$ SELECT audit_add_cosignatures(NULL) $$);
SELECT try($$ SELECT audit_add_cosignatures('not a note') $$);
-- verify_audit: the tree is checked; a text that is not a signed note is a
-- JSON digest as before; a malformed note is 22023.
SELECT status FROM verify_audit();
SELECT status FROM verify_audit(audit_digest()::text);
SELECT try($$ SELECT * FROM verify_audit(E'a\n\nb') $$);
-- A stored root edited by a superuser (the guard bypassed): found.
SET session_replication_role = replica;
UPDATE audit_tree SET root = sha256(root) WHERE block_id = 3;
RESET session_replication_role;
SELECT status, block_id FROM verify_audit() WHERE status <> 'unsealed';
-- Storing and appending the tree, and what comes from outside, are not PUBLIC's.
CREATE ROLE merkle_reader;
GRANT SELECT ON audit_log TO merkle_reader;
SET ROLE merkle_reader;
SELECT try($$ SELECT _audit_tree_extend() $$);
SELECT try($$ SELECT audit_add_cosignatures('x') $$);
SELECT cardinality(audit_consistency(1, 3)) AS anyone_gets_proofs;
RESET ROLE;
REVOKE SELECT ON audit_log FROM merkle_reader;
DROP ROLE merkle_reader;
