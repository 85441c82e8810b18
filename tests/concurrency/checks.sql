-- Each check prints one row: name | PASS or FAIL | detail.
\pset format unaligned
\pset tuples_only on
\pset fieldsep ' | '
WITH audited AS (
    SELECT action AS kind, (record_pk ->> 'id')::int AS id,
           (CASE action WHEN 'DELETE' THEN old_values ELSE new_values END ->> 'op')::bigint AS row_op
    FROM audit_log WHERE table_oid = 'conc'::regclass),
missing AS (SELECT kind, id, row_op FROM ops EXCEPT ALL SELECT kind, id, row_op FROM audited),
extra AS (SELECT kind, id, row_op FROM audited EXCEPT ALL SELECT kind, id, row_op FROM ops)
SELECT 'every committed change audited exactly once',
       CASE WHEN (SELECT count(*) FROM missing) = 0 AND (SELECT count(*) FROM extra) = 0 THEN 'PASS' ELSE 'FAIL' END,
       (SELECT count(*) FROM ops) || ' committed changes, ' || (SELECT count(*) FROM audited) || ' audit rows, '
       || (SELECT count(*) FROM missing) || ' missing, ' || (SELECT count(*) FROM extra) || ' extra (from rolled-back or duplicated writes)';

WITH last AS (
    SELECT DISTINCT ON ((record_pk ->> 'id')::int) (record_pk ->> 'id')::int AS id, action,
           (new_values ->> 'op')::bigint AS op
    FROM audit_log WHERE table_oid = 'conc'::regclass
    ORDER BY (record_pk ->> 'id')::int, audit_log.id DESC),
rebuilt AS (SELECT id, op FROM last WHERE action <> 'DELETE'),
diff AS ((SELECT id, op FROM rebuilt EXCEPT SELECT id, op FROM conc) UNION ALL (SELECT id, op FROM conc EXCEPT SELECT id, op FROM rebuilt))
SELECT 'the table can be rebuilt from its audit log',
       CASE WHEN (SELECT count(*) FROM diff) = 0 THEN 'PASS' ELSE 'FAIL' END,
       (SELECT count(*) FROM conc) || ' rows, ' || (SELECT count(*) FROM diff) || ' differ';

SELECT 'rolled-back transactions happened and left no audit rows',
       CASE WHEN (SELECT last_value FROM rollback_seq) > 10 AND (SELECT is_called FROM rollback_seq) THEN 'PASS' ELSE 'FAIL' END,
       (SELECT last_value FROM rollback_seq) || ' rollbacks';

SELECT 'sealing ran during the writes, and late commits landed in later blocks',
       CASE WHEN (SELECT count(*) FROM audit_block) > 3
             AND EXISTS (SELECT 1 FROM audit_block a JOIN audit_block b ON a.id < b.id AND b.first_id < a.last_id)
            THEN 'PASS' ELSE 'FAIL' END,
       (SELECT count(*) FROM audit_block) || ' blocks';

SELECT 'every audit row sealed in exactly one block',
       CASE WHEN (SELECT count(*) FROM audit_block, unnest(row_ids) AS r) = (SELECT count(*) FROM audit_log)
             AND (SELECT count(DISTINCT r) FROM audit_block, unnest(row_ids) AS r) = (SELECT count(*) FROM audit_log)
             AND (SELECT sum(row_count) FROM audit_block) = (SELECT count(*) FROM audit_log)
            THEN 'PASS' ELSE 'FAIL' END,
       (SELECT count(*) FROM audit_log) || ' audit rows';

SELECT 'verify_audit() is ok with nothing unsealed',
       CASE WHEN (SELECT count(*) FROM verify_audit()) = 1
             AND (SELECT status = 'ok' AND detail ~ ' 0 not sealed yet' FROM verify_audit()) THEN 'PASS' ELSE 'FAIL' END,
       (SELECT string_agg(status || ': ' || detail, '; ') FROM verify_audit());
