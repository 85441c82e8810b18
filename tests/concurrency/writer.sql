-- A short write: insert, update or delete one random row. About 15% of the
-- transactions roll back; in about 10% a first change to the same row is undone
-- by ROLLBACK TO SAVEPOINT. `ops` (not audited) records, in the same
-- transaction, what committed. One row per transaction (the savepoint touches
-- the same row), so writers cannot deadlock.
\set id random(1, 200)
\set kind random(1, 3)
\set rollback random(1, 100)
\set savepoint random(1, 10)
BEGIN;
\if :savepoint = 1
SAVEPOINT s;
SELECT nextval('op_seq') AS sp_op \gset
INSERT INTO conc VALUES (:id, :sp_op, 'undone') ON CONFLICT (id) DO UPDATE SET op = EXCLUDED.op, val = 'undone';
SELECT nextval('savepoint_rollback_seq');
ROLLBACK TO SAVEPOINT s;
\endif
SELECT nextval('op_seq') AS op \gset
\if :kind = 1
WITH w AS (INSERT INTO conc VALUES (:id, :op, 'inserted') ON CONFLICT DO NOTHING RETURNING id)
INSERT INTO ops SELECT :op, 'INSERT', id, :op FROM w;
\elif :kind = 2
WITH w AS (UPDATE conc SET op = :op, val = 'updated ' || :op WHERE id = :id RETURNING id)
INSERT INTO ops SELECT :op, 'UPDATE', id, :op FROM w;
\else
WITH w AS (DELETE FROM conc WHERE id = :id RETURNING id, op)
INSERT INTO ops SELECT :op, 'DELETE', id, op FROM w;
\endif
\if :rollback <= 15
SELECT nextval('rollback_seq');
ROLLBACK;
\else
COMMIT;
\endif
