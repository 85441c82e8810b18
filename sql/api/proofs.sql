-- lead_audit's SQL API: the Merkle tree's proofs and checkpoints.
-- Loaded after the Rust functions and the SQL files it uses (src/lib.rs).

-- ---------------------------------------------------------------------------
-- The tree (RFC 9162) and its checkpoints (C2SP), written in Rust:
-- audit_proof(audit_id) a receipt (tlog-proof) for one row; audit_consistency
-- (old_size, new_size) a consistency proof; audit_checkpoint() the newest
-- signed checkpoint with its cosignatures; audit_verifier_key() the log's
-- public key; audit_tree_head() the newest head, unsigned, for a signer
-- outside the database. Storing what comes from outside, and appending the
-- tree, are for the extension's owner and whom it grants them to.
-- ---------------------------------------------------------------------------
REVOKE ALL ON FUNCTION _audit_tree_extend() FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_add_checkpoint(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_add_cosignatures(text) FROM PUBLIC;
