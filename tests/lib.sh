# Shared by the bash test suites (source it; it defines functions only).
#
#   cluster DIR PORT [postgres options...]  a throwaway cluster, destroyed on exit
#   q [psql args...]                         psql on it as postgres (-At, stop on error);
#                                            DB=name picks the database (default postgres)
#   check NAME EXPECTED ACTUAL               PASS when ACTUAL is EXPECTED
#   check_cmd NAME COMMAND...                PASS when COMMAND succeeds (its output shown if not)
#   on_exit COMMAND                          run COMMAND when the suite exits, last first
#   check_log NAME LOG [ALLOWED]            PASS when the server log LOG has no WARNING,
#                                            PANIC or crash (lines matching the
#                                            regex ALLOWED excepted)
#   finish SUITE                             checks the server log of every cluster the suite
#                                            started (check_log, lines matching $LOG_ALLOWED
#                                            excepted), then "SUITE: N passed, M failed";
#                                            fails if any failed
#   python_env DIR                           a fresh virtual environment with the Python client
#                                            installed from its wheel, and the tests' packages
#
# Every suite prints one PASS or FAIL line per check and ends with finish.

LIB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The server under test: PG=major (default 15, the system's); PGBIN its bin/.
PG=${PG:-15}
PGBIN=${PGBIN:-$("$LIB_ROOT/scripts/postgres.sh" bindir "$PG")}
export PG PGBIN
PATH=$PGBIN:$PATH
export PGOPTIONS="${PGOPTIONS:--c client_min_messages=warning}"
passed=0
failed=0
CLUSTERS=()
_on_exit=()

on_exit() {
    _on_exit=("$*" "${_on_exit[@]}")
    trap '_run_on_exit' EXIT
}

_run_on_exit() {
    local cmd
    for cmd in "${_on_exit[@]}"; do eval "$cmd" || true; done
}

cluster() {
    local dir=$1 port=$2
    shift 2
    CLUSTER_DIR=$dir
    PORT=$port
    CLUSTERS+=("$dir")
    "$LIB_ROOT/scripts/pgcluster.sh" destroy "$dir" # left over from an interrupted run
    on_exit "'$LIB_ROOT/scripts/pgcluster.sh' destroy '$dir'"
    "$LIB_ROOT/scripts/pgcluster.sh" start "$dir" "$port" "$@"
}

q() {
    psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d "${DB:-postgres}" "$@"
}

check() {
    if [ "$2" = "$3" ]; then
        echo "PASS $1"
        passed=$((passed + 1))
    else
        echo "FAIL $1: expected '$2', got '$3'"
        failed=$((failed + 1))
    fi
}

check_cmd() {
    local what=$1 out
    shift
    if out=$("$@" 2>&1); then
        echo "PASS $what"
        passed=$((passed + 1))
    else
        echo "FAIL $what"
        printf '%s\n' "$out" | sed -n '1,40s/^/    /p'
        failed=$((failed + 1))
    fi
}

check_log() {
    local name=$1 log=$2 allowed=${3:-^$} bad
    bad=$(grep -E 'WARNING: |PANIC: |terminated by signal|was terminated by|resource was not closed' "$log" |
        grep -Ev "$allowed" | head -5 || true)
    check "$name: server log has no WARNING, PANIC or crash" "" "$bad"
}

finish() {
    local dir
    for dir in "${CLUSTERS[@]}"; do
        [ -f "$dir/server.log" ] && check_log "$(basename "$dir")" "$dir/server.log" "${LOG_ALLOWED:-^$}"
    done
    echo "$1: $passed passed, $failed failed"
    [ "$failed" = 0 ] && [ "$passed" -gt 0 ]
}

python_env() {
    local dir=$1 build
    rm -rf "$dir"
    python3 -m venv "$dir"
    # Built from a copy, so the checkout gets no build/ or egg-info.
    build=$(mktemp -d /tmp/lead_audit_wheel.XXXXXX)
    cp -r "$LIB_ROOT/clients/python" "$build/lead-audit"
    "$dir/bin/pip" wheel --quiet --disable-pip-version-check --no-deps -w "$dir/dist" "$build/lead-audit"
    rm -rf "$build"
    WHEEL=$(ls "$dir"/dist/lead_audit-*.whl)
    "$dir/bin/pip" install --quiet --disable-pip-version-check "$WHEEL[sqlalchemy,verify,proofs,web]" \
        -r "$LIB_ROOT/clients/python/requirements-test.txt" \
        -r "$LIB_ROOT/examples/sqlalchemy/requirements.txt" \
        -r "$LIB_ROOT/examples/fastapi/requirements.txt"
}
