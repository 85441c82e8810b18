-- After a seal, by the background worker: file the rows of up to 20 blocks
-- for audit_history() (a few seconds' work at most; the rest next round).
SELECT @extschema@.audit_index_history(20)
