-- lead_audit's SQL API: the ledger's SQL side: verify_audit, the epoch, audit_digest.
-- Loaded after the Rust functions and the SQL files it uses (src/lib.rs).

-- ---------------------------------------------------------------------------
-- verify_audit(digest, from_id, to_id): reads the digest here, in SQL, so any
-- jsonb gets a clear answer (a number beyond a double, an object nested deeper
-- than a JSON library goes: 22023), then runs the verifier (_audit_verify).
-- block_id must be an integer (1, 1e0 and 1.5e1 are; 1.5 and 2.0 are not, as
-- jsonb prints them) that fits a bigint, block_hash a string.
-- ---------------------------------------------------------------------------
CREATE FUNCTION verify_audit(digest jsonb DEFAULT NULL, from_id bigint DEFAULT NULL, to_id bigint DEFAULT NULL)
RETURNS TABLE(status text, audit_id bigint, detail text, block_id bigint)
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id_text    text;
    digest_id  bigint;
    digest_hash text;
BEGIN
    IF digest IS NOT NULL THEN
        IF jsonb_typeof(digest) = 'object'
           AND jsonb_typeof(digest -> 'block_id') = 'number'
           AND jsonb_typeof(digest -> 'block_hash') = 'string' THEN
            id_text := (digest -> 'block_id')::text;
            IF id_text ~ '^-?[0-9]{1,19}$'
               AND id_text::numeric BETWEEN -9223372036854775808 AND 9223372036854775807 THEN
                digest_id := id_text::bigint;
                digest_hash := digest ->> 'block_hash';
            END IF;
        END IF;
        IF digest_id IS NULL THEN
            RAISE EXCEPTION 'lead_audit: a digest is a JSON object with "block_id" and "block_hash", as audit_digest() returns'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    RETURN QUERY SELECT * FROM @extschema@._audit_verify(digest_id, digest_hash, from_id, to_id);
END;
$$;

-- ---------------------------------------------------------------------------
-- verify_audit(checkpoint text): a signed checkpoint kept from
-- audit_checkpoint() (since 0.3.0): the whole log is verified, its Merkle
-- tree rebuilt from the sealed rows, and it must still extend that
-- checkpoint (_audit_verify_checkpoint). A text without a signed note's
-- blank line is read as today's JSON digest, so verify_audit('{...}') keeps
-- working, and verify_audit(NULL) verifies without either.
-- ---------------------------------------------------------------------------
CREATE FUNCTION verify_audit(checkpoint text)
RETURNS TABLE(status text, audit_id bigint, detail text, block_id bigint)
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF checkpoint IS NULL OR position(E'\n\n' IN checkpoint) = 0 THEN
        RETURN QUERY SELECT * FROM @extschema@.verify_audit(checkpoint::jsonb);
    ELSE
        RETURN QUERY SELECT * FROM @extschema@._audit_verify_checkpoint(checkpoint);
    END IF;
END;
$$;

-- ---------------------------------------------------------------------------
-- _audit_epoch(): this cluster's transaction id offset (audit_epoch), added
-- the first time it is needed: large enough that every transaction of this
-- cluster counts above every one the log already holds (blocks, and rows
-- not sealed yet). inserted: whether this call added it (it then holds only
-- if this transaction commits). Called by the writers and audit_seal().
-- ---------------------------------------------------------------------------
CREATE FUNCTION _audit_epoch(OUT xid_offset bigint, OUT inserted boolean)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sysid  bigint := (SELECT c.system_identifier FROM pg_control_system() c);
    head   bigint;
    needed bigint;
BEGIN
    inserted := false;
    SELECT e.xid_offset INTO xid_offset FROM @extschema@.audit_epoch e WHERE e.system_identifier = sysid;
    IF FOUND THEN
        RETURN;
    END IF;
    -- One cluster, one offset: whoever comes second waits and reads it.
    LOCK TABLE @extschema@.audit_epoch IN SHARE ROW EXCLUSIVE MODE;
    SELECT e.xid_offset INTO xid_offset FROM @extschema@.audit_epoch e WHERE e.system_identifier = sysid;
    IF FOUND THEN
        RETURN;
    END IF;
    SELECT b.to_xid INTO head FROM @extschema@.audit_block b ORDER BY b.id DESC LIMIT 1;
    needed := greatest(coalesce(head, 0),
                       (SELECT max(l.tx_id) FROM @extschema@.audit_log l WHERE l.tx_id >= coalesce(head, 0)));
    xid_offset := greatest(0, coalesce(needed, 0) + 1 - pg_current_xact_id()::text::bigint);
    INSERT INTO @extschema@.audit_epoch (system_identifier, xid_offset) VALUES (sysid, xid_offset)
    ON CONFLICT (system_identifier) DO NOTHING;
    IF NOT FOUND THEN
        -- Added meanwhile by a transaction this one's snapshot cannot see.
        RAISE EXCEPTION 'lead_audit: this cluster''s transaction id offset was added concurrently'
            USING ERRCODE = 'serialization_failure', HINT = 'Retry the transaction.';
    END IF;
    inserted := true;
END;
$$;

-- ---------------------------------------------------------------------------
-- audit_digest(): the newest block's id and hash, to keep outside the
-- database; verify_audit(digest) later proves the chain still holds it.
-- ---------------------------------------------------------------------------
CREATE FUNCTION audit_digest() RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
               'block_id', b.id,
               'block_hash', encode(b.block_hash, 'hex'),
               'sealed_at', b.sealed_at,
               'rows_sealed', (SELECT sum(row_count) FROM @extschema@.audit_block),
               'database', current_database())
    FROM @extschema@.audit_block b
    ORDER BY b.id DESC
    LIMIT 1
$$;
