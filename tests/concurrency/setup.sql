CREATE EXTENSION lead_audit;
CREATE TABLE conc (id int PRIMARY KEY, op bigint NOT NULL, val text);
SELECT audit_enable('conc');
-- Not audited: what committed, written in the same transaction as the audited
-- change, so a rolled-back operation vanishes from both. row_op is the op
-- stored in the row version the operation wrote (for a DELETE: the op of the
-- version it removed), so every operation maps to exactly one audit row.
CREATE TABLE ops (op bigint PRIMARY KEY, kind text NOT NULL, id int NOT NULL, row_op bigint NOT NULL);
-- Not audited: each committed long transaction, with the newest block it saw
-- right after its first write and right before its commit.
CREATE TABLE long_tx (op bigint PRIMARY KEY, op2 bigint NOT NULL, block_at_start bigint NOT NULL,
                      block_at_commit bigint NOT NULL);
CREATE SEQUENCE op_seq;
-- Sequences ignore rollbacks: these count what was rolled back.
CREATE SEQUENCE rollback_seq;
CREATE SEQUENCE savepoint_rollback_seq;
CREATE SEQUENCE long_rollback_seq;
