-- A long transaction: a write, 1-3 s asleep while the sealers run, another
-- write to the same row, commit (one in five rolls back instead). Its ids
-- (201-260) are not the writers', so it waits at most for the other long client.
\set id random(201, 260)
\set rollback random(1, 5)
BEGIN;
SELECT nextval('op_seq') AS op \gset
WITH w AS (INSERT INTO conc VALUES (:id, :op, 'long') ON CONFLICT (id) DO UPDATE SET op = EXCLUDED.op, val = 'long again'
           RETURNING id, xmax = 0 AS inserted)
INSERT INTO ops SELECT :op, CASE WHEN inserted THEN 'INSERT' ELSE 'UPDATE' END, id, :op FROM w;
SELECT coalesce(max(id), 0) AS block_at_start FROM audit_block \gset
SELECT pg_sleep(1 + random() * 2);
SELECT nextval('op_seq') AS op2 \gset
WITH w AS (UPDATE conc SET op = :op2 WHERE id = :id RETURNING id)
INSERT INTO ops SELECT :op2, 'UPDATE', id, :op2 FROM w;
INSERT INTO long_tx SELECT :op, :op2, :block_at_start, coalesce(max(id), 0) FROM audit_block;
\if :rollback = 1
SELECT nextval('long_rollback_seq');
ROLLBACK;
\else
COMMIT;
\endif
