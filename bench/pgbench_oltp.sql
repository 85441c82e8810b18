-- One OLTP request: who it is, one lead updated, one lead created.
\set id random(1, :rows)
\set actor random(1, 1000)
BEGIN;
SET LOCAL lead_audit.actor_id = :actor;
UPDATE leads SET score = score + 1, updated_at = now() WHERE id = :id;
INSERT INTO leads (email, status, source) VALUES ('oltp' || :id || '@example.com', 'new', 'web');
COMMIT;
