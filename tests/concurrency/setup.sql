CREATE EXTENSION lead_audit;
CREATE TABLE conc (id int PRIMARY KEY, op bigint NOT NULL, val text);
SELECT audit_enable('conc');
-- Not audited: what committed. row_op is the op stored in the row the
-- operation wrote (for a DELETE: the op of the version it removed).
CREATE TABLE ops (op bigint PRIMARY KEY, kind text NOT NULL, id int NOT NULL, row_op bigint NOT NULL);
CREATE SEQUENCE op_seq;
CREATE SEQUENCE rollback_seq;
