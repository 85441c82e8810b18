#!/usr/bin/env bash
# The ledger across pg_dump and pg_restore into a new cluster, whose
# transaction ids start again far below the restored log's: sealing and
# verification go on (new rows are sealed into the chain after the restored
# head) and a digest kept before the dump still verifies.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh

OLD_PORT=${LEAD_AUDIT_DUMP_OLD_PORT:-5488}
NEW_PORT=${LEAD_AUDIT_DUMP_NEW_PORT:-5489}
WORK=$(mktemp -d /tmp/lead_audit_dump.XXXXXX)
chmod 777 "$WORK"
on_exit "rm -rf '$WORK'"
cluster "${LEAD_AUDIT_DUMP_OLD_DIR:-/tmp/lead_audit_dump_old}" "$OLD_PORT"
cluster "${LEAD_AUDIT_DUMP_NEW_DIR:-/tmp/lead_audit_dump_new}" "$NEW_PORT"
old() { PORT=$OLD_PORT DB=crm q "$@"; }
new() { PORT=$NEW_PORT DB=crm q "$@"; }
PORT=$OLD_PORT q -c "CREATE DATABASE crm"

# The old cluster: a few thousand transactions old, a sealed log, a digest
# kept, and rows written after the last seal.
old >/dev/null <<'SQL'
CREATE TABLE burn (i int);
DO $$ BEGIN
    FOR i IN 1..3000 LOOP
        BEGIN INSERT INTO burn VALUES (i); RAISE EXCEPTION 'next'; EXCEPTION WHEN raise_exception THEN NULL; END;
    END LOOP;
END $$;
CREATE EXTENSION lead_audit;
CREATE TABLE leads (id int PRIMARY KEY, email text);
SELECT audit_enable('leads');
INSERT INTO leads SELECT g, 'lead' || g FROM generate_series(1, 50) g;
UPDATE leads SET email = upper(email) WHERE id <= 10;
CREATE TABLE logins (id int PRIMARY KEY, password text);
SELECT audit_enable('logins', redact => array['password']);
INSERT INTO logins VALUES (1, 'hunter2');
SELECT count(*) FROM audit_seal();
SQL
old -c "SELECT audit_digest()" >"$WORK/digest.json"
old -c "BEGIN; SET LOCAL lead_audit.actor_id = 'late'; DELETE FROM leads WHERE id > 45; COMMIT;"
check "the old cluster's log is intact" ok "$(old -c "SELECT string_agg(status, ',') FROM verify_audit()")"
OLD_MAX_TX=$(old -c "SELECT max(tx_id) FROM audit_log")
OLD_HEAD=$(old -c "SELECT encode(block_hash, 'hex') FROM audit_block ORDER BY id DESC LIMIT 1")
OLD_ROWS=$(old -c "SELECT count(*) FROM audit_log")
OLD_OID=$(old -c "SELECT 'leads'::regclass::oid")
OLD_HISTORY=$(old -c "SELECT string_agg(action || ':' || id, ',') FROM audit_history('leads', '{\"id\": 7}')")
"$PGBIN/pg_dump" -Fc -h 127.0.0.1 -p "$OLD_PORT" -U postgres -f "$WORK/crm.dump" crm

# The new cluster: restore.
PORT=$NEW_PORT q -c "CREATE DATABASE crm"
"$PGBIN/pg_restore" -h 127.0.0.1 -p "$NEW_PORT" -U postgres -d crm --exit-on-error "$WORK/crm.dump"
check "the new cluster counts transactions far below the restored log" t \
    "$(new -c "SELECT pg_current_xact_id()::text::bigint < $OLD_MAX_TX")"
check "every audit row restored (and the restore's own DDL recorded)" t \
    "$(new -c "SELECT count(*) >= $OLD_ROWS FROM audit_log")"
DIGEST=$(cat "$WORK/digest.json")
check "verify_audit is ok after the restore" ok "$(new -c "SELECT string_agg(status, ',') FROM verify_audit()")"
check "the digest kept before the dump verifies" ok \
    "$(new -v d="$DIGEST" <<<"SELECT string_agg(status, ',') FROM verify_audit(:'d')")"

# Life goes on: new writes, sealed into the chain after the restored head.
new -c "BEGIN; SET LOCAL lead_audit.actor_id = 'after restore'; INSERT INTO leads VALUES (100, 'new'); UPDATE leads SET email = 'x' WHERE id = 1; COMMIT;"
check "new rows count above every restored transaction" t \
    "$(new -c "SELECT min(tx_id) > $OLD_MAX_TX FROM audit_log WHERE actor_id = 'after restore'")"
check "verify_audit is ok with new rows not sealed yet" "ok" "$(new -c "SELECT string_agg(status, ',') FROM verify_audit()")"
new -c "SELECT count(*) FROM audit_seal()" >/dev/null
check "every row, restored or new, is sealed" 0 \
    "$(new -c "SELECT count(*) FROM audit_log WHERE id NOT IN (SELECT unnest(row_ids) FROM audit_block)")"
check "the first new block links to the restored head" "$OLD_HEAD" \
    "$(new -c "SELECT encode(prev_hash, 'hex') FROM audit_block
               WHERE id = (SELECT id + 1 FROM audit_block WHERE encode(block_hash, 'hex') = '$OLD_HEAD')")"
check "verify_audit is ok after new seals" ok "$(new -c "SELECT string_agg(status, ',') FROM verify_audit()")"
check "the old digest still verifies" ok \
    "$(new -v d="$DIGEST" <<<"SELECT string_agg(status, ',') FROM verify_audit(:'d')")"
check "a record's history, sealed before the dump, is found under the table's old oid" "INSERT,UPDATE|$OLD_HISTORY" \
    "$(echo "$OLD_HISTORY" | sed 's/:[0-9]*//g')|$(new -c "SELECT string_agg(action || ':' || id, ',')
                                                      FROM audit_history($OLD_OID::oid::regclass, '{\"id\": 7}')")"
check "each cluster the log lived in has its offset (0 where it was born)" "0|t" \
    "$(new -c "SELECT min(xid_offset), max(xid_offset) > 0 FROM audit_epoch")"
# Redaction: the key came with the dump, so equal values still hash alike.
new -c "INSERT INTO logins VALUES (2, 'hunter2')"
check "the redaction key is restored (one key; a value hashes as before the dump)" "1|t|{password}" \
    "$(new -c "SELECT (SELECT count(*) FROM audit_secret),
                      (SELECT count(DISTINCT new_values->>'password') = 1 AND count(*) = 2
                       FROM audit_log WHERE table_name = 'public.logins' AND action = 'INSERT'),
                      (SELECT redact FROM audit_tables WHERE table_name = 'logins'::regclass)")"
finish dump-restore
