-- Each check prints one row: name | PASS or FAIL | detail.
\pset format unaligned
\pset tuples_only on
\pset fieldsep ' | '
CREATE TEMP VIEW audited AS
    SELECT id AS audit_id, tx_id, action AS kind, (record_pk ->> 'id')::int AS id,
           (CASE action WHEN 'DELETE' THEN old_values ELSE new_values END ->> 'op')::bigint AS row_op,
           new_values
    FROM audit_log WHERE table_oid = 'conc'::regclass AND action <> 'DDL';
CREATE TEMP VIEW sealed AS
    SELECT r AS audit_id, b.id AS block_id FROM audit_block b, unnest(b.row_ids) AS r;

-- 1. The multisets (kind, id, row_op) of ops and of the audit log are equal.
WITH missing AS (SELECT kind, id, row_op FROM ops EXCEPT ALL SELECT kind, id, row_op FROM audited),
extra AS (SELECT kind, id, row_op FROM audited EXCEPT ALL SELECT kind, id, row_op FROM ops)
SELECT 'every committed operation audited exactly once',
       CASE WHEN (SELECT count(*) FROM missing) = 0 AND (SELECT count(*) FROM extra) = 0 THEN 'PASS' ELSE 'FAIL' END,
       (SELECT count(*) FROM ops) || ' committed operations, ' || (SELECT count(*) FROM audited) || ' audit rows, '
       || (SELECT count(*) FROM missing) || ' not audited, ' || (SELECT count(*) FROM extra) || ' audited but not committed or twice';

-- 2. Nothing from rolled-back transactions or savepoints: every audited op
--    (the op an INSERT or UPDATE wrote) committed, and as many audit rows as ops.
WITH stray AS (SELECT * FROM audited a WHERE kind <> 'DELETE' AND NOT EXISTS (SELECT 1 FROM ops o WHERE o.op = a.row_op)),
dup AS (SELECT row_op FROM audited WHERE kind <> 'DELETE' GROUP BY row_op HAVING count(*) > 1)
SELECT 'nothing audited from rolled-back transactions or savepoints',
       CASE WHEN (SELECT count(*) FROM stray) = 0 AND (SELECT count(*) FROM dup) = 0
             AND (SELECT count(*) FROM audited) = (SELECT count(*) FROM ops) THEN 'PASS' ELSE 'FAIL' END,
       (SELECT count(*) FROM stray) || ' audit rows with an op that never committed, '
       || (SELECT count(*) FROM dup) || ' ops audited twice, '
       || (SELECT count(*) FROM audited) || ' audit rows for ' || (SELECT count(*) FROM ops) || ' ops';

-- 3. Replay: per id, the audit rows since its last INSERT; the row exists
--    unless one of them is a DELETE; each column's value is the newest one
--    written (INSERT: the whole row, UPDATE: the changed columns).
WITH life AS (
    SELECT a.* FROM audited a
    JOIN (SELECT id, max(audit_id) AS born FROM audited WHERE kind = 'INSERT' GROUP BY id) l USING (id)
    WHERE a.audit_id >= l.born),
alive AS (SELECT id FROM life GROUP BY id HAVING bool_and(kind <> 'DELETE')),
cols AS (
    SELECT DISTINCT ON (life.id, kv.key) life.id, kv.key, kv.value
    FROM life JOIN alive USING (id), jsonb_each(life.new_values) kv
    ORDER BY life.id, kv.key, life.audit_id DESC),
rebuilt AS (SELECT id, jsonb_object_agg(key, value) AS r FROM cols GROUP BY id),
actual AS (SELECT id, to_jsonb(conc) AS r FROM conc),
diff AS ((SELECT * FROM rebuilt EXCEPT SELECT * FROM actual) UNION ALL (SELECT * FROM actual EXCEPT SELECT * FROM rebuilt))
SELECT 'the table rebuilt from its audit log equals the table',
       CASE WHEN (SELECT count(*) FROM diff) = 0 THEN 'PASS' ELSE 'FAIL' END,
       (SELECT count(*) FROM conc) || ' rows, ' || (SELECT count(*) FROM rebuilt) || ' rebuilt, '
       || (SELECT count(*) FROM diff) || ' differences';

-- 4. Every audit row sealed, in exactly one block.
SELECT 'every audit row sealed in exactly one block',
       CASE WHEN (SELECT count(*) FROM sealed) = (SELECT count(*) FROM audit_log)
             AND (SELECT count(DISTINCT audit_id) FROM sealed) = (SELECT count(*) FROM audit_log)
             AND NOT EXISTS (SELECT id FROM audit_log EXCEPT SELECT audit_id FROM sealed)
             AND NOT EXISTS (SELECT audit_id FROM sealed EXCEPT SELECT id FROM audit_log)
             AND (SELECT sum(row_count) FROM audit_block) = (SELECT count(*) FROM audit_log)
            THEN 'PASS' ELSE 'FAIL' END,
       (SELECT count(*) FROM audit_log) || ' audit rows, ' || (SELECT count(*) FROM sealed) || ' sealed ids ('
       || (SELECT count(DISTINCT audit_id) FROM sealed) || ' distinct), sum(row_count) '
       || (SELECT coalesce(sum(row_count), 0) FROM audit_block);

SELECT 'verify_audit() is ok with nothing unsealed',
       CASE WHEN (SELECT count(*) FROM verify_audit()) = 1
             AND (SELECT status = 'ok' AND detail LIKE '% 0 not sealed yet%' FROM verify_audit()) THEN 'PASS' ELSE 'FAIL' END,
       (SELECT string_agg(status || ': ' || coalesce(audit_id::text || ' ', '') || detail, '; ') FROM verify_audit());

-- 5. The run exercised what it meant to. (Long transactions roll back too
--    rarely to require one: their count is only reported.)
SELECT 'sealing ran during the writes (more than 3 blocks)',
       CASE WHEN (SELECT count(*) FROM audit_block) > 3 THEN 'PASS' ELSE 'FAIL' END,
       (SELECT count(*) FROM audit_block) || ' blocks';

SELECT 'rolled-back transactions and savepoints happened',
       CASE WHEN (SELECT is_called AND last_value >= 10 FROM rollback_seq)
             AND (SELECT is_called AND last_value >= 10 FROM savepoint_rollback_seq) THEN 'PASS' ELSE 'FAIL' END,
       (SELECT last_value FROM rollback_seq) || ' short and '
       || (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM long_rollback_seq) || ' long rollbacks, '
       || (SELECT last_value FROM savepoint_rollback_seq) || ' savepoints rolled back';

-- A long transaction spans seals when blocks were created between its first
-- write and its commit; its rows must then be in blocks created after them,
-- and some block holds a row older than the last row of an earlier block (a
-- late commit). Older than an earlier block's FIRST row does not happen: while
-- a long transaction runs, the horizon (the oldest running xid) stays below it,
-- so the earlier blocks hold only older transactions, which wrote around it.
WITH l AS (
    SELECT t.*, (SELECT array_agg(DISTINCT s.block_id ORDER BY s.block_id) FROM audited a JOIN sealed s USING (audit_id)
                 WHERE a.kind <> 'DELETE' AND a.row_op IN (t.op, t.op2)) AS blocks
    FROM long_tx t)
SELECT 'long transactions spanned seals; their rows landed in later blocks',
       CASE WHEN (SELECT count(*) FROM l WHERE block_at_commit > block_at_start) >= 2
             AND NOT EXISTS (SELECT 1 FROM l WHERE blocks IS NULL OR blocks[1] <= block_at_commit)
             AND EXISTS (SELECT 1 FROM audit_block a JOIN audit_block b ON a.id < b.id AND b.first_id < a.last_id)
            THEN 'PASS' ELSE 'FAIL' END,
       (SELECT count(*) FROM l) || ' long transactions committed, '
       || (SELECT count(*) FROM l WHERE block_at_commit > block_at_start) || ' spanning seals ('
       || (SELECT coalesce(sum(block_at_commit - block_at_start), 0) FROM l) || ' blocks sealed while they ran), '
       || (SELECT count(*) FROM l WHERE blocks IS NULL OR blocks[1] <= block_at_commit)
       || ' sealed too early or not at all; '
       || (SELECT count(*) FROM audit_block b WHERE EXISTS (SELECT 1 FROM audit_block a WHERE a.id < b.id AND b.first_id < a.last_id))
       || ' blocks holding a row older than an earlier block''s last row';
