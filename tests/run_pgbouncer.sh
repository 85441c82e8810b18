#!/usr/bin/env bash
# A real pooler: PgBouncer (Debian's package) in transaction pooling mode in
# front of a throwaway cluster, with fewer server connections (2) than the
# application's concurrent users (8). The SQLAlchemy example's pooler tests
# (examples/sqlalchemy/tests/test_pooler.py) then run through it: no request's
# context reaches another request's rows, though their transactions share
# server connections.
#
# Environment: LEAD_AUDIT_PGBOUNCER_PORT (5484: the cluster; 5483: PgBouncer),
# LEAD_AUDIT_PGBOUNCER_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh

PG_PORT=${LEAD_AUDIT_PGBOUNCER_PORT:-5484}
POOLER_PORT=$((PG_PORT - 1))
DIR=${LEAD_AUDIT_PGBOUNCER_DIR:-/tmp/lead_audit_pgbouncer}
BOUNCER_DIR=$DIR-bouncer

command -v pgbouncer >/dev/null || { echo "run_pgbouncer: pgbouncer is not installed (scripts/install_deps.sh installs it)" >&2; exit 1; }
cluster "$DIR" "$PG_PORT"

# PgBouncer runs as postgres (it refuses root), trusting local connections as
# the test cluster does.
rm -rf "$BOUNCER_DIR"
mkdir -p "$BOUNCER_DIR"
cat >"$BOUNCER_DIR/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$PG_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $POOLER_PORT
unix_socket_dir = $BOUNCER_DIR
auth_type = trust
auth_file = $BOUNCER_DIR/userlist.txt
pool_mode = transaction
default_pool_size = 2
max_client_conn = 100
admin_users = postgres
logfile = $BOUNCER_DIR/pgbouncer.log
pidfile = $BOUNCER_DIR/pgbouncer.pid
ignore_startup_parameters = extra_float_digits
INI
echo '"postgres" ""' >"$BOUNCER_DIR/userlist.txt"
chown -R postgres:postgres "$BOUNCER_DIR"
runuser -u postgres -- pgbouncer -d -q "$BOUNCER_DIR/pgbouncer.ini"
on_exit "kill \$(cat '$BOUNCER_DIR/pgbouncer.pid' 2>/dev/null) 2>/dev/null; rm -rf '$BOUNCER_DIR'"
# (PgBouncer refuses the startup parameter `options`, which PGOPTIONS sends.)
unset PGOPTIONS
bouncer() { psql -X -q -At -h 127.0.0.1 -p "$POOLER_PORT" -U postgres "$@"; }
for _ in $(seq 1 50); do
    bouncer -d postgres -c "SELECT 1" >/dev/null 2>&1 && break
    sleep 0.1
done
check "PgBouncer answers, in transaction mode" "1|transaction" \
    "$(bouncer -d postgres -c "SELECT 1" 2>&1)|$(bouncer -d pgbouncer -c "SHOW CONFIG" 2>&1 | awk -F'|' '$1 == "pool_mode" {print $2}')"

# The SQLAlchemy example's pooler tests through PgBouncer (the Python client
# installed from its wheel, as tests/run_python.sh does).
python_env "$DIR-venv"
on_exit "rm -rf '$DIR-venv'"
if (cd examples/sqlalchemy && PGHOST=127.0.0.1 PGPORT=$PG_PORT PGUSER=postgres LEAD_AUDIT_POOLER_PORT=$POOLER_PORT \
    "$DIR-venv/bin/python" -m pytest -q -p no:cacheprovider tests/test_pooler.py); then
    check "the pooler tests pass through PgBouncer" ok ok
else
    check "the pooler tests pass through PgBouncer" ok failed
fi
finish pgbouncer
