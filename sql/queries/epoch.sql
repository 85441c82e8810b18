-- This cluster's transaction id offset, added if it has none yet.
SELECT xid_offset, inserted FROM @extschema@._audit_epoch()
