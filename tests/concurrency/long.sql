-- A long transaction: a write, 1-3 s asleep while sealers run, another write.
\set id random(201, 260)
BEGIN;
SELECT nextval('op_seq') AS op \gset
WITH w AS (INSERT INTO conc VALUES (:id, :op, 'long') ON CONFLICT (id) DO UPDATE SET op = EXCLUDED.op, val = 'long again'
           RETURNING id, xmax = 0 AS inserted)
INSERT INTO ops SELECT :op, CASE WHEN inserted THEN 'INSERT' ELSE 'UPDATE' END, id, :op FROM w;
SELECT pg_sleep(1 + random() * 2);
SELECT nextval('op_seq') AS op2 \gset
WITH w AS (UPDATE conc SET op = :op2 WHERE id = :id RETURNING id)
INSERT INTO ops SELECT :op2, 'UPDATE', id, :op2 FROM w;
COMMIT;
