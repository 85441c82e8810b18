#!/usr/bin/env bash
# The upgrade path from one released version (UPGRADE_FROM: one of
# sql/releases.txt, the first by default; `make test-upgrade` runs each).
# Installs it (built from its release commit, kept in a cache directory and
# reused; its install script checked against the record), writes, seals and
# keeps a digest; installs the current build and runs ALTER EXTENSION lead_audit
# UPDATE. Then: verify_audit is ok, also with the digest kept before; the old
# rows are unchanged; new writes are captured and sealed into the same chain;
# and the extension's objects are exactly those of a fresh install.
#
# Environment: LEAD_AUDIT_CACHE (where the old build is kept, default
# ~/.cache/lead_audit), LEAD_AUDIT_UPGRADE_PORT (5498), LEAD_AUDIT_UPGRADE_DIR.
# Leaves the current build installed, also when it fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh

OLD_VERSION=${UPGRADE_FROM:-$(python3 scripts/releases.py versions | sed -n 1p)}
OLD_COMMIT=$(python3 scripts/releases.py commit "$OLD_VERSION") || exit 2
PG_CONFIG=${PG_CONFIG:-$PGBIN/pg_config}
NEW_VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
CACHE=${LEAD_AUDIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lead_audit}/lead_audit-$OLD_VERSION-${OLD_COMMIT:0:12}
LIBDIR=$("$PG_CONFIG" --pkglibdir)
EXTDIR=$("$PG_CONFIG" --sharedir)/extension
WORK=$(mktemp -d /tmp/lead_audit_upgrade.XXXXXX)
on_exit "rm -rf '$WORK'"

# A package tree (cargo pgrx package --out-dir) installed into the system
# PostgreSQL. The library is replaced by a rename, never overwritten in place:
# running backends keep the file they mapped.
install_tree() {
    cp "$1$LIBDIR/lead_audit.so" "$LIBDIR/.lead_audit.so.new"
    mv -f "$LIBDIR/.lead_audit.so.new" "$LIBDIR/lead_audit.so"
    cp "$1$EXTDIR"/lead_audit* "$EXTDIR/"
}

# ---- the builds ------------------------------------------------------------
if [ ! -f "$CACHE/pkg.done" ]; then
    echo "== building lead_audit $OLD_VERSION from $OLD_COMMIT into $CACHE (once; reused later)"
    git cat-file -e "$OLD_COMMIT^{commit}" 2>/dev/null ||
        { echo "upgrade: commit $OLD_COMMIT is not in this clone (a shallow clone? fetch it)" >&2; exit 1; }
    rm -rf "$CACHE"
    mkdir -p "$CACHE/src"
    git archive "$OLD_COMMIT" | tar -x -C "$CACHE/src"
    (cd "$CACHE/src" && CARGO_TARGET_DIR="$CACHE/target" cargo pgrx package --debug \
        --pg-config "$PG_CONFIG" --out-dir "$CACHE/pkg" >"$CACHE/build.log" 2>&1) ||
        { tail -30 "$CACHE/build.log" >&2; exit 1; }
    touch "$CACHE/pkg.done"
fi
check_cmd "$OLD_VERSION built from its commit: its install script is the released one" \
    python3 scripts/releases.py check-install "$OLD_VERSION" "$CACHE/pkg$EXTDIR/lead_audit--$OLD_VERSION.sql"
echo "== packaging the current build ($NEW_VERSION)"
cargo pgrx package --debug --pg-config "$PG_CONFIG" --out-dir "$WORK/new" >"$WORK/package.log" 2>&1 ||
    { tail -30 "$WORK/package.log" >&2; exit 1; }
# The chain of upgrade scripts from the old version to this one, one per release.
chain=$(ls "$WORK/new$EXTDIR"/lead_audit--*--*.sql | sed 's|.*/lead_audit--||; s|\.sql$||' | sort -V |
    awk -F-- -v v="$OLD_VERSION" '$1 == v {print; v = $2}' | tail -1 | sed 's/.*--//')
check "the current package ships upgrade scripts from $OLD_VERSION to $NEW_VERSION" "$NEW_VERSION" "$chain"
on_exit "install_tree '$WORK/new'"

cluster "${LEAD_AUDIT_UPGRADE_DIR:-/tmp/lead_audit_upgrade}" "${LEAD_AUDIT_UPGRADE_PORT:-5498}"
q -c "CREATE DATABASE upgraded" -c "CREATE DATABASE fresh"
export DB=upgraded

# ---- life under the old version ----------------------------------------------
install_tree "$CACHE/pkg"
q -c "CREATE EXTENSION lead_audit VERSION '$OLD_VERSION'"
q -f tests/upgrade/before.sql >/dev/null
q -c "SELECT audit_digest()" >"$WORK/digest.json"
OLD_MAX=$(q -c "SELECT max(id) FROM audit_log")
# The columns of 0.1.0's audit_log (the update adds outcome and error after them).
OLD_COLUMNS="id, tx_id, logged_at, table_oid, table_name, action, soft_delete, record_pk, old_values,
    new_values, changed_columns, actor_id, client_ip, user_agent, request_id, context, db_user,
    application_name, checksum"
dump_old_rows() { q -c "COPY (SELECT $OLD_COLUMNS FROM audit_log WHERE id <= $OLD_MAX ORDER BY id) TO STDOUT"; }
dump_old_rows >"$WORK/rows.before"
q -c "COPY (SELECT * FROM audit_block ORDER BY id) TO STDOUT" >"$WORK/blocks.before"
check "$OLD_VERSION: verify_audit is ok before the upgrade" ok "$(q -c "SELECT status FROM verify_audit()")"

# ---- the new library, then ALTER EXTENSION UPDATE ----------------------------
install_tree "$WORK/new"
q -c "INSERT INTO leads (id, email) VALUES (1001, 'between@example.com')"
check "the new library runs the $OLD_VERSION objects until the update (a write is captured)" 1 \
    "$(q -c "SELECT count(*) FROM audit_log WHERE record_pk = '{\"id\": 1001}'")"
q -c "ALTER EXTENSION lead_audit UPDATE"
check "ALTER EXTENSION UPDATE reaches $NEW_VERSION" "$NEW_VERSION" \
    "$(q -c "SELECT extversion FROM pg_extension WHERE extname = 'lead_audit'")"

check "the triggers of tables audited under $OLD_VERSION fire ALWAYS after the update" "A" \
    "$(q -c "SELECT string_agg(DISTINCT tgenabled::text, ',') FROM pg_trigger
             WHERE tgfoid IN ('audit_capture_row()'::regprocedure, 'audit_capture_truncate()'::regprocedure)")"
DIGEST=$(cat "$WORK/digest.json")
check "verify_audit is ok after the upgrade" ok "$(q -c "SELECT string_agg(status, ',') FROM verify_audit()")"
check "verify_audit is ok with the digest kept before the upgrade" ok \
    "$(q -v d="$DIGEST" <<<"SELECT string_agg(status, ',') FROM verify_audit(:'d')")"
dump_old_rows >"$WORK/rows.after"
check_cmd "the rows written before the upgrade are unchanged" cmp "$WORK/rows.before" "$WORK/rows.after"
q -c "COPY (SELECT * FROM audit_block ORDER BY id) TO STDOUT" >"$WORK/blocks.after"
check_cmd "the blocks sealed before the upgrade are unchanged" cmp "$WORK/blocks.before" "$WORK/blocks.after"
# audit_history: every record's history, whether sealed under the old version
# (filed by the update) or not, is what a scan of the whole log finds.
histories_off() {
    q -c "SELECT count(*) FROM (SELECT DISTINCT table_oid, record_pk FROM audit_log WHERE record_pk IS NOT NULL) r
          WHERE (SELECT array_agg(h.id) FROM audit_history(r.table_oid::regclass, r.record_pk) h)
                IS DISTINCT FROM (SELECT array_agg(l.id ORDER BY l.id) FROM audit_log l
                                  WHERE l.table_oid = r.table_oid AND l.record_pk = r.record_pk)"
}
[ "$OLD_VERSION" != 0.1.0 ] ||
check "rows sealed under $OLD_VERSION are filed in the record index by the update" t \
    "$(q -c "SELECT count(DISTINCT id) > 0 AND count(DISTINCT id) = (SELECT count(*) FROM audit_block, unnest(row_ids))
             FROM audit_record_index")"
check "after the update, every record's audit_history is what a scan finds" 0 "$(histories_off)"

# ---- life after the upgrade ----------------------------------------------------
HEAD_ID=$(q -c "SELECT max(id) FROM audit_block")
q >/dev/null <<'SQL'
BEGIN;
SET LOCAL lead_audit.actor_id = '7';
INSERT INTO leads (id, email) SELECT g, 'after' || g || '@example.com' FROM generate_series(2001, 2100) g;
UPDATE leads SET status = 'won' WHERE id BETWEEN 2001 AND 2010;
DELETE FROM leads WHERE id = 2100;
COMMIT;
SQL
check "new writes are captured" 111 \
    "$(q -c "SELECT count(*) FROM audit_log WHERE actor_id = '7'")"
[ "$OLD_VERSION" != 0.1.0 ] ||
check "rows from before the update have no outcome (row form v1), new ones do (v2)" "t|t" \
    "$(q -c "SELECT bool_and(outcome IS NULL) FILTER (WHERE id <= (SELECT id FROM audit_log WHERE record_pk = '{\"id\": 1001}')),
                    bool_and(outcome = 'committed') FILTER (WHERE actor_id = '7') FROM audit_log")"
q -c "SELECT count(*) FROM audit_seal()" >/dev/null
check "every row, old and new, is sealed once" "0|0" \
    "$(q -c "SELECT (SELECT count(*) FROM audit_log WHERE id NOT IN (SELECT unnest(row_ids) FROM audit_block)),
                    (SELECT count(*) - count(DISTINCT r) FROM audit_block, unnest(row_ids) r)")"
check "the first new block links to the chain's head before the upgrade" t \
    "$(q -c "SELECT prev_hash = (SELECT block_hash FROM audit_block WHERE id = $HEAD_ID) FROM audit_block WHERE id = $HEAD_ID + 1")"
check "after new writes and seals, every record's audit_history is what a scan finds" 0 "$(histories_off)"
check "verify_audit is ok after new writes and seals" ok "$(q -c "SELECT string_agg(status, ',') FROM verify_audit()")"
check "verify_audit is ok after new writes with the digest kept before the upgrade" ok \
    "$(q -v d="$DIGEST" <<<"SELECT string_agg(status, ',') FROM verify_audit(:'d')")"

# ---- what 0.2.0 added, on tables audited under the old version ------------------
[ "$OLD_VERSION" != 0.1.0 ] ||
check "the update records each audited table's columns (the start of as-of and renames)" "leads,scratch" \
    "$(q -c "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM audit_log
             WHERE action = 'DDL' AND new_values->>'command' = 'ALTER EXTENSION' AND new_values ? 'columns'" | sed 's/public\.//g')"
check "a record written under $OLD_VERSION is, as of now, the table's row" t \
    "$(q -c "SELECT bool_and(audit_row_as_of('leads', jsonb_build_object('id', l.id), now()) = to_jsonb(l))
             FROM leads l WHERE l.id <= 300")"
check "the table as of now, rebuilt from rows of both versions, is the table" t \
    "$(q -c "SELECT (SELECT count(*) FROM audit_table_as_of('leads', now()) s
                     WHERE s NOT IN (SELECT to_jsonb(l) FROM leads l)) = 0
                AND (SELECT count(*) FROM audit_table_as_of('leads', now())) = (SELECT count(*) FROM leads)")"
q -c "SELECT audit_enable('leads', redact => array['email'], exclude => array['meta'])" >/dev/null
q -c "ALTER TABLE leads RENAME COLUMN email TO mail"
q -c "UPDATE leads SET mail = 'x@example.com', meta = '{}' WHERE id = 1"
check "options on a table audited under $OLD_VERSION: redacted (after a rename), excluded" "t|f" \
    "$(q -c "SELECT new_values->>'mail' LIKE 'hmac-sha256:%', new_values ? 'meta' FROM audit_log ORDER BY id DESC LIMIT 1")"
q -c "SELECT count(*) FROM audit_seal()" >/dev/null
check "verify_audit is ok after the options" ok "$(q -c "SELECT string_agg(status, ',') FROM verify_audit()")"

# ---- what 0.3.0 adds: an audited partition attaches to an audited table -------
q >/dev/null <<'SQL'
CREATE TABLE up_parent (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE up_child (id int PRIMARY KEY);
SELECT audit_enable('up_parent');
SELECT audit_enable('up_child');
ALTER TABLE up_parent ATTACH PARTITION up_child FOR VALUES FROM (0) TO (100);
INSERT INTO up_parent VALUES (1);
SQL
check "after the update, an audited partition attaches to an audited table, its rows captured once" 1 \
    "$(q -c "SELECT count(*) FROM audit_log WHERE table_name = 'public.up_child' AND action = 'INSERT'")"

# ---- what 0.3.0 adds: the Merkle tree over the ledger sealed before ------------
# Each block sealed under the old version is in the tree, in chain order, with
# RFC 9162's root of the rows sealed up to it (MTH written out in SQL), and
# the tree goes on with the new blocks.
q -f tests/vectors/merkle.sql -c "
    CREATE TABLE pg_temp.tree_check AS
    SELECT (SELECT count(*) FROM audit_block) AS blocks,
           (SELECT count(*) FROM audit_tree) AS heads,
           (SELECT max(tree_size) FROM audit_tree) = (SELECT sum(row_count) FROM audit_block) AS sizes,
           (SELECT bool_and(t.root = pg_temp.ref_mth(pg_temp.ref_leaves(t.tree_size)))
            FROM audit_tree t WHERE t.block_id <= $HEAD_ID) AS old_roots" \
    -c "SELECT blocks = heads AND sizes AND old_roots FROM pg_temp.tree_check" >"$WORK/tree.check"
check "every block sealed under $OLD_VERSION entered the tree, with RFC 9162's root of the rows up to it" t \
    "$(tail -1 "$WORK/tree.check")"
check "verify_audit rebuilds the tree and finds it intact" ok "$(q -c "SELECT string_agg(status, ',') FROM verify_audit()")"

# ---- the objects: exactly those of a fresh install -----------------------------
DB=fresh q -c "CREATE EXTENSION lead_audit"
q -f tests/upgrade/objects.sql >"$WORK/objects.upgraded"
DB=fresh q -f tests/upgrade/objects.sql >"$WORK/objects.fresh"
check_cmd "the upgraded extension's objects are those of a fresh $NEW_VERSION install" \
    diff -u "$WORK/objects.fresh" "$WORK/objects.upgraded"
check "the objects listing is not empty" yes \
    "$([ "$(grep -c '^function|' "$WORK/objects.fresh")" -ge 5 ] && echo yes || echo no)"

finish upgrade
