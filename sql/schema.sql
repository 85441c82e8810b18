-- lead_audit: tables. Emitted first (bootstrap), before any function.

-- One row per changed row of an audited table. Written only by the extension's
-- triggers (a direct heap insert that needs no INSERT privilege); nobody may
-- UPDATE, DELETE or TRUNCATE it (see the guard trigger in api.sql).
CREATE TABLE audit_log (
    id               bigint      NOT NULL PRIMARY KEY,
    tx_id            bigint      NOT NULL,  -- pg_current_xact_id() as a number
    logged_at        timestamptz NOT NULL,
    table_oid        oid         NOT NULL,
    table_name       text        NOT NULL,
    -- DDL: a command that changed what is captured (since 0.2.0);
    -- UNAUDITED: a transaction's writes made with lead_audit.enabled = off;
    -- SNAPSHOT: a row as it was when auditing started (audit_enable's baseline).
    action           text        NOT NULL
        CHECK (action IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'DDL', 'UNAUDITED', 'SNAPSHOT')),
    soft_delete      text
        CHECK (soft_delete IN ('deleted', 'restored')),
    record_pk        jsonb,
    old_values       jsonb,
    new_values       jsonb,
    changed_columns  text[],
    actor_id         text,
    client_ip        inet,
    user_agent       text,
    request_id       text,
    context          jsonb,
    db_user          text        NOT NULL,
    application_name text,
    checksum         bytea       NOT NULL,
    -- Since 0.2.0: 'committed' for a change its transaction committed,
    -- 'failed' for an attempt that aborted (written afterwards by the attempts
    -- worker, with `error`). NULL on rows written by 0.1.0: their checksum is
    -- the row form v1; a row with an outcome has the row form v2.
    outcome          text
        CHECK (outcome IN ('committed', 'failed')),
    error            jsonb
);

COMMENT ON TABLE audit_log IS
    'lead_audit: one row per changed row of an audited table, and one per failed attempt; append-only, checksummed';

-- Ids come from this sequence, in insertion order.
CREATE SEQUENCE audit_log_id_seq AS bigint OWNED BY audit_log.id;
ALTER TABLE audit_log ALTER COLUMN id SET DEFAULT nextval('audit_log_id_seq');

-- No index on record_pk: one maintained row by row slowed every writer (since
-- 0.2.0 sealed rows are indexed in bulk, in audit_record_index; see
-- audit_history()).
-- Sealing (audit_seal) finds the rows of finished transactions by tx_id. BRIN:
-- tx_id grows with the heap, and an insert into a range not summarised yet
-- costs next to nothing (a btree here slowed every writer).
CREATE INDEX audit_log_tx_id_idx ON audit_log USING brin (tx_id);
-- audit_changes() reads a time range (since 0.2.0). BRIN for the same reason:
-- logged_at grows with the heap, give or take a long statement.
CREATE INDEX audit_log_logged_at_idx ON audit_log USING brin (logged_at);

-- The ledger: audit rows sealed into hash-chained blocks by audit_seal().
-- A block covers the rows whose tx_id is in [from_xid, to_xid) (transactions
-- that had all finished when it was sealed) and whose id is in [first_id,
-- last_id]; it keeps each row's id and checksum (the leaves), their hash, and
-- the previous block's hash. See docs/canonical-forms.md for the exact form.
CREATE TABLE audit_block (
    id            bigint      NOT NULL PRIMARY KEY,
    sealed_at     timestamptz NOT NULL,
    from_xid      bigint      NOT NULL,
    to_xid        bigint      NOT NULL,
    first_id      bigint      NOT NULL,
    last_id       bigint      NOT NULL,
    row_count     bigint      NOT NULL,
    row_ids       bigint[]    NOT NULL,
    row_checksums bytea       NOT NULL,
    rows_hash     bytea       NOT NULL,
    prev_hash     bytea       NOT NULL,
    block_hash    bytea       NOT NULL
);

COMMENT ON TABLE audit_block IS 'lead_audit: hash-chained blocks sealing audit_log rows';
-- A block's leaves (ids and SHA-256 sums) are stored out of line without
-- compression: the sums are random bytes that pglz cannot shrink, and trying
-- took a large share of audit_seal()'s time (since 0.2.0).
ALTER TABLE audit_block ALTER COLUMN row_ids SET STORAGE EXTERNAL,
                        ALTER COLUMN row_checksums SET STORAGE EXTERNAL;

-- The Merkle tree of RFC 9162 over every sealed audit row (since 0.3.0), in
-- seal order: block by block, and within a block in the order of its
-- row_ids; a leaf's entry is the row's 32-byte checksum, hashed as
-- SHA-256(0x00 || checksum). For each block, the tree's size and root once
-- its rows are in, and its frontier (the hashes of the maximal complete
-- subtrees, one per set bit of the size), from which the next block is
-- appended; a block's leaves are [tree_size - row_count, tree_size).
CREATE TABLE audit_tree (
    block_id  bigint NOT NULL PRIMARY KEY,
    tree_size bigint NOT NULL UNIQUE,
    root      bytea  NOT NULL,
    frontier  bytea  NOT NULL
);

COMMENT ON TABLE audit_tree IS 'lead_audit: the Merkle tree''s size and root after each block';

-- The hash of every complete subtree of 256, 65,536, ... leaves (levels 8,
-- 16, ...; index: the subtree's leaves start at index * 2^level): with the
-- blocks' checksums, all a proof needs (the layout of C2SP tlog-tiles).
CREATE TABLE audit_tree_node (
    level smallint NOT NULL,
    index bigint   NOT NULL,
    hash  bytea    NOT NULL,
    PRIMARY KEY (level, index)
);

COMMENT ON TABLE audit_tree_node IS 'lead_audit: the Merkle tree''s complete subtrees of 256^k leaves';

-- The checkpoints (C2SP tlog-checkpoint) signed after each seal, as signed
-- notes (C2SP signed-note): the origin, the tree size and root, and the
-- log's Ed25519 signature.
CREATE TABLE audit_checkpoint (
    tree_size bigint      NOT NULL PRIMARY KEY,
    signed_at timestamptz NOT NULL DEFAULT now(),
    note      text        NOT NULL
);

COMMENT ON TABLE audit_checkpoint IS 'lead_audit: the signed checkpoints of the Merkle tree';

-- Witnesses' cosignatures (C2SP tlog-cosignature) of a checkpoint: one note
-- signature line each, as a witness returned it.
CREATE TABLE audit_cosignature (
    tree_size bigint      NOT NULL,
    signature text        NOT NULL,
    added_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tree_size, signature)
);

COMMENT ON TABLE audit_cosignature IS 'lead_audit: witnesses'' cosignatures of the checkpoints';

-- History of one record, indexed in bulk in the background instead of row by
-- row by the writers (since 0.2.0): one entry per sealed audit row under a
-- 64-bit hash of its record_pk seeded with its table's oid (the JSON null
-- for the table's own events: DDL, TRUNCATE, ...), and one more under the
-- old key for an UPDATE that changed the key, filed block by block by audit_index_history(), which the background sealer
-- runs after each seal. A look-up rechecks the audit rows themselves, so a
-- collision (or a forged entry) can hide nothing that verify_audit() would
-- not see, and finds rows not filed yet by tx_id (see audit_history()).
CREATE TABLE audit_record_index (
    pk_hash bigint NOT NULL,  -- _audit_key_hash(table_oid, key)
    id      bigint NOT NULL   -- audit_log.id
);
CREATE INDEX audit_record_index_pk_hash_idx ON audit_record_index (pk_hash, id);

COMMENT ON TABLE audit_record_index IS 'lead_audit: sealed audit rows by record, for audit_history()';

-- The blocks whose rows are in audit_record_index: every block up to the
-- highest id here (they are filed in order).
CREATE TABLE audit_record_filed (
    block_id bigint NOT NULL PRIMARY KEY
);

COMMENT ON TABLE audit_record_filed IS 'lead_audit: the blocks filed in audit_record_index';

-- Per-table settings written by audit_enable(); the triggers read them once per backend.
CREATE TABLE audit_table (
    relid              regclass    NOT NULL PRIMARY KEY,
    soft_delete_column name,
    truncate_rows      boolean     NOT NULL,
    enabled_at         timestamptz NOT NULL DEFAULT now(),
    enabled_by         text        NOT NULL DEFAULT session_user,
    -- Since 0.2.0 (see audit_enable): columns never recorded, columns
    -- recorded as a keyed hash, whether an UPDATE records whole rows, and
    -- whether the table's bookkeeping columns are filled (and their names,
    -- where they are not the defaults). The options have no column defaults:
    -- audit_enable always gives them, from the one list of their defaults
    -- (_audit_option_defaults(), since 0.3.0).
    exclude            text[]      NOT NULL,
    redact             text[]      NOT NULL,
    full_rows          boolean     NOT NULL,
    stamp              boolean     NOT NULL,
    stamp_columns      jsonb       NOT NULL
);

COMMENT ON TABLE audit_table IS 'lead_audit: the audited tables and their settings';

-- The key of the redacted columns' hashes (since 0.2.0): made by the first
-- audit_enable() that redacts a column, readable by superusers only. Dumped
-- with the data, so a restored database keeps comparing redacted values.
CREATE TABLE audit_secret (
    only_row   boolean     NOT NULL PRIMARY KEY DEFAULT true CHECK (only_row),
    secret     bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE audit_secret IS 'lead_audit: the key of redacted values (superusers only)';

-- The clusters the log has lived in, each with the offset added to its
-- transaction ids (tx_id, and the xid ranges of blocks): a dump restored
-- into a new cluster starts counting transactions again from a few hundred,
-- and the ledger needs a count that never goes back. The first write (or
-- seal) in a cluster adds its row (_audit_epoch()); 0 unless the log came
-- from another cluster with a higher count.
CREATE TABLE audit_epoch (
    system_identifier bigint      NOT NULL PRIMARY KEY,  -- pg_control_system()
    xid_offset        bigint      NOT NULL,
    started_at        timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE audit_epoch IS 'lead_audit: the clusters the log lived in and their transaction id offsets';

-- pg_dump keeps the audit data and the settings (they are not re-created by the script).
SELECT pg_catalog.pg_extension_config_dump('audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('audit_log_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('audit_table', '');
SELECT pg_catalog.pg_extension_config_dump('audit_block', '');
SELECT pg_catalog.pg_extension_config_dump('audit_epoch', '');
SELECT pg_catalog.pg_extension_config_dump('audit_record_index', '');
SELECT pg_catalog.pg_extension_config_dump('audit_record_filed', '');
SELECT pg_catalog.pg_extension_config_dump('audit_secret', '');
SELECT pg_catalog.pg_extension_config_dump('audit_tree', '');
SELECT pg_catalog.pg_extension_config_dump('audit_tree_node', '');
SELECT pg_catalog.pg_extension_config_dump('audit_checkpoint', '');
SELECT pg_catalog.pg_extension_config_dump('audit_cosignature', '');

REVOKE ALL ON audit_log, audit_table, audit_block, audit_epoch, audit_record_index, audit_record_filed,
    audit_secret, audit_log_id_seq, audit_tree, audit_tree_node, audit_checkpoint, audit_cosignature
    FROM PUBLIC;
-- The triggers read a table's settings as the writing role; blocks hold only
-- ids and hashes, and anyone may check them against a digest (the record
-- index too holds only hashes and ids, the tree only hashes, and
-- checkpoints are made to be published).
GRANT SELECT ON audit_table, audit_block, audit_epoch, audit_record_index, audit_record_filed,
    audit_tree, audit_tree_node, audit_checkpoint, audit_cosignature TO PUBLIC;
