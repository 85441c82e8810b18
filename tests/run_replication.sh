#!/usr/bin/env bash
# Capture in replica mode: lead_audit's triggers fire ALWAYS, so changes made
# with session_replication_role = replica and changes applied by logical
# replication are recorded like any other.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh

PORT=${LEAD_AUDIT_REPLICATION_PORT:-5499}
cluster "${LEAD_AUDIT_REPLICATION_DIR:-/tmp/lead_audit_replication}" "$PORT" -c wal_level=logical
q -c "CREATE DATABASE pub" && q -c "CREATE DATABASE sub"

for db in pub sub; do
    DB=$db q <<'SQL'
CREATE EXTENSION lead_audit;
CREATE TABLE leads (id int PRIMARY KEY, email text) PARTITION BY RANGE (id);
CREATE TABLE leads_low PARTITION OF leads FOR VALUES FROM (0) TO (1000);
CREATE TABLE leads_high PARTITION OF leads FOR VALUES FROM (1000) TO (MAXVALUE);
SELECT audit_enable('leads');
SQL
done >/dev/null
export DB=sub

check "lead_audit's triggers fire ALWAYS, on every partition" "A|6" \
    "$(q -c "SELECT string_agg(DISTINCT tgenabled::text, ','), count(*) FROM pg_trigger
             WHERE tgfoid IN ('audit_capture_row()'::regprocedure, 'audit_capture_truncate()'::regprocedure)")"
q -c "CREATE TABLE leads_later PARTITION OF leads FOR VALUES FROM (-1000) TO (0)"
check "a partition created later gets them ALWAYS too" "A,A" \
    "$(q -c "SELECT string_agg(tgenabled::text, ',' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'leads_later'::regclass")"

# Replica mode, as a superuser's restore or a replication tool would use it.
q -c "SET session_replication_role = replica; INSERT INTO leads VALUES (1, 'replica mode'); UPDATE leads SET email = 'still replica' WHERE id = 1;"
check "writes in replica mode are captured" "INSERT,UPDATE" \
    "$(q -c "SELECT string_agg(action, ',' ORDER BY id) FROM audit_log WHERE record_pk = '{\"id\": 1}'")"

# Logical replication: pub's changes applied in sub are recorded in sub's log.
DB=pub q -c "CREATE PUBLICATION p FOR TABLE leads WITH (publish_via_partition_root = true)"
DB=pub q -c "SELECT pg_create_logical_replication_slot('s', 'pgoutput')" >/dev/null
q -c "CREATE SUBSCRIPTION s CONNECTION 'host=127.0.0.1 port=$PORT user=postgres dbname=pub' PUBLICATION p
      WITH (create_slot = false, slot_name = 's', copy_data = false)"
DB=pub q -c "BEGIN; SET LOCAL lead_audit.actor_id = 'publisher-user'; INSERT INTO leads VALUES (7, 'from pub'), (1007, 'from pub'); COMMIT;"
DB=pub q -c "UPDATE leads SET email = 'changed on pub' WHERE id = 7"
for _ in $(seq 1 60); do
    [ "$(q -c "SELECT count(*) FROM audit_log WHERE record_pk IN ('{\"id\": 7}', '{\"id\": 1007}')")" = 3 ] && break
    sleep 0.5
done
check "changes applied by logical replication are captured" "INSERT|public.leads_low
INSERT|public.leads_high
UPDATE|public.leads_low" \
    "$(q -c "SELECT action, table_name FROM audit_log WHERE record_pk IN ('{\"id\": 7}', '{\"id\": 1007}') ORDER BY id")"
check "an applied change carries the subscriber's context (its owner), not the publisher's" "|postgres||" \
    "$(q -c "SELECT DISTINCT coalesce(actor_id, ''), db_user, coalesce(application_name, ''), coalesce(client_ip::text, '')
             FROM audit_log WHERE record_pk = '{\"id\": 7}'")"
check "the publisher recorded its own change with its own context" "publisher-user" \
    "$(DB=pub q -c "SELECT actor_id FROM audit_log WHERE record_pk = '{\"id\": 7}' AND action = 'INSERT'")"
q -c "DROP SUBSCRIPTION s"

# A table owner who is not a superuser cannot take the triggers back to
# origin-only firing (replica mode would then skip them).
q >/dev/null <<'SQL'
CREATE ROLE table_owner LOGIN;
GRANT CREATE, USAGE ON SCHEMA public TO table_owner;
CREATE TABLE owned (id int PRIMARY KEY);
ALTER TABLE owned OWNER TO table_owner;
SELECT audit_enable('owned');
SQL

out=$(psql -X -q -At -h 127.0.0.1 -p "$PORT" -U table_owner -d sub \
    -c "ALTER TABLE owned ENABLE TRIGGER lead_audit_capture" 2>&1 || true)
check "an owner cannot make the triggers origin-only" "ERROR:  lead_audit: trigger lead_audit_capture on public.owned may not be limited to origin sessions (replica mode would skip it)" \
    "$(head -1 <<<"$out")"
check "verify_audit ok" ok "$(q -c "SELECT string_agg(status, ',') FROM verify_audit()")"
# The apply worker of PostgreSQL 16 and 17 itself warns of a relation left
# open ("relcache reference leak", "resource was not closed") for the
# partitions it routes a root's changes to, with or without lead_audit (seen
# with a plain PL/pgSQL trigger in its place): that warning is PostgreSQL's.
LOG_ALLOWED='WARNING:  (resource was not closed|relcache reference leak): relation "leads_(low|high)"' \
    finish replication
