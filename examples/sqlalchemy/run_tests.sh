#!/usr/bin/env bash
# Run the SQLAlchemy example's tests against a PostgreSQL 15 cluster that has
# lead_audit installed.
#
#   examples/sqlalchemy/run_tests.sh [pytest args...]
#
# The cluster is PGHOST/PGPORT/PGUSER (default 127.0.0.1 / 5494 / postgres;
# PGPASSWORD if it needs one). When nothing answers there and PGHOST is local,
# a throwaway cluster is started with scripts/pgcluster.sh and destroyed at the
# end. Python packages go to examples/sqlalchemy/.venv (git-ignored).
# Exits non-zero when anything fails.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5494} PGUSER=${PGUSER:-postgres}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
cluster_dir=${LA_SQLALCHEMY_CLUSTER:-/tmp/la_sqlalchemy}
venv=$here/.venv

# 1. The virtual environment, with the pinned packages.
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"

# 2. A cluster: the one at PGHOST:PGPORT, or a throwaway one.
status=0
"$PGBIN/pg_isready" -q -h "$PGHOST" -p "$PGPORT" -t 3 || status=$?
if [ "$status" = 2 ]; then   # no response: nothing listens there
    case "$PGHOST" in
    127.0.0.1 | localhost) ;;
    *) echo "run_tests.sh: no PostgreSQL answers at $PGHOST:$PGPORT" >&2; exit 1 ;;
    esac
    echo "run_tests.sh: starting a throwaway cluster in $cluster_dir on port $PGPORT"
    "$root/scripts/pgcluster.sh" start "$cluster_dir" "$PGPORT"
    trap '"$root/scripts/pgcluster.sh" destroy "$cluster_dir"' EXIT
elif [ "$status" != 0 ]; then
    # 1: still starting up (or shutting down); give it a moment
    "$PGBIN/pg_isready" -q -h "$PGHOST" -p "$PGPORT" -t 30 ||
        { echo "run_tests.sh: PostgreSQL at $PGHOST:$PGPORT is not accepting connections" >&2; exit 1; }
fi

# 3. The tests (they create the database lead_audit_sqlalchemy afresh).
cd "$here"
"$venv/bin/python" -m pytest "$@"
