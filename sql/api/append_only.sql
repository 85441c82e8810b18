-- lead_audit's SQL API: audit_log and the ledger's tables are append-only.
-- Loaded after the Rust functions and the SQL files it uses (src/lib.rs).

-- ---------------------------------------------------------------------------
-- audit_log is append-only. Nobody holds INSERT/UPDATE/DELETE/TRUNCATE on it
-- (the triggers write with a direct heap insert that needs no privilege), and
-- this guard also stops the owner and superusers, unless they deliberately
-- bypass triggers (session_replication_role = replica), which verify_audit()
-- then catches.
-- ---------------------------------------------------------------------------
CREATE FUNCTION _audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'lead_audit: % is append-only; % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Audit rows are written by lead_audit''s triggers only.';
END;
$$;

CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_block_append_only
    BEFORE UPDATE OR DELETE ON audit_block
    FOR EACH ROW EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_block_no_truncate
    BEFORE TRUNCATE ON audit_block
    FOR EACH STATEMENT EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_record_index_append_only
    BEFORE UPDATE OR DELETE ON audit_record_index
    FOR EACH ROW EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_record_index_no_truncate
    BEFORE TRUNCATE ON audit_record_index
    FOR EACH STATEMENT EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_record_filed_append_only
    BEFORE UPDATE OR DELETE ON audit_record_filed
    FOR EACH ROW EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_record_filed_no_truncate
    BEFORE TRUNCATE ON audit_record_filed
    FOR EACH STATEMENT EXECUTE FUNCTION _audit_log_append_only();
-- The Merkle tree and its checkpoints (since 0.3.0).
CREATE TRIGGER audit_tree_append_only
    BEFORE UPDATE OR DELETE ON audit_tree
    FOR EACH ROW EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_tree_no_truncate
    BEFORE TRUNCATE ON audit_tree
    FOR EACH STATEMENT EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_tree_node_append_only
    BEFORE UPDATE OR DELETE ON audit_tree_node
    FOR EACH ROW EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_tree_node_no_truncate
    BEFORE TRUNCATE ON audit_tree_node
    FOR EACH STATEMENT EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_checkpoint_append_only
    BEFORE UPDATE OR DELETE ON audit_checkpoint
    FOR EACH ROW EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_checkpoint_no_truncate
    BEFORE TRUNCATE ON audit_checkpoint
    FOR EACH STATEMENT EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_cosignature_append_only
    BEFORE UPDATE OR DELETE ON audit_cosignature
    FOR EACH ROW EXECUTE FUNCTION _audit_log_append_only();
CREATE TRIGGER audit_cosignature_no_truncate
    BEFORE TRUNCATE ON audit_cosignature
    FOR EACH STATEMENT EXECUTE FUNCTION _audit_log_append_only();

REVOKE ALL ON FUNCTION _audit_log_append_only() FROM PUBLIC;
