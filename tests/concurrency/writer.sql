-- A short write: insert, update or delete one random row; one in ten rolls back.
-- `ops` (not audited) records, in the same transaction, what committed.
\set id random(1, 200)
\set kind random(1, 3)
\set rollback random(1, 10)
BEGIN;
SELECT nextval('op_seq') AS op \gset
\if :kind = 1
WITH w AS (INSERT INTO conc VALUES (:id, :op, 'inserted') ON CONFLICT DO NOTHING RETURNING id)
INSERT INTO ops SELECT :op, 'INSERT', id, :op FROM w;
\elif :kind = 2
WITH w AS (UPDATE conc SET op = :op, val = 'updated' WHERE id = :id RETURNING id)
INSERT INTO ops SELECT :op, 'UPDATE', id, :op FROM w;
\else
WITH w AS (DELETE FROM conc WHERE id = :id RETURNING id, op)
INSERT INTO ops SELECT :op, 'DELETE', id, op FROM w;
\endif
\if :rollback = 1
SELECT nextval('rollback_seq');
ROLLBACK;
\else
COMMIT;
\endif
