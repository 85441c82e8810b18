#!/usr/bin/env bash
# The Python client (clients/python) as its users get it, and the two example
# applications built on it:
#   1. the package built as a wheel and installed into a fresh virtual
#      environment with its extras (and, apart, without any: the context, the
#      middleware and the verifier's file mode need nothing else);
#   2. mypy --strict on the package, its tests and the FastAPI application;
#   3. against a throwaway cluster with lead_audit preloaded (failed attempts
#      are recorded): the client's tests, run on the installed wheel, the
#      SQLAlchemy example's and the FastAPI example's; among the client's,
#      the viewer's pages in headless Chromium (screenshots kept, below).
#
# Environment: LEAD_AUDIT_PYTHON_DIR (/tmp/lead_audit_python), LEAD_AUDIT_PYTHON_PORT (5494).
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh

DIR=${LEAD_AUDIT_PYTHON_DIR:-/tmp/lead_audit_python}
VENV=$DIR-venv
BARE=$DIR-bare
on_exit "rm -rf '$BARE'"

echo "== the wheel, in a fresh virtual environment"
python_env "$VENV"
PY=$VENV/bin/python
check "the wheel is lead-audit 0.3.0, pure Python" "lead_audit-0.3.0-py3-none-any.whl" "$(basename "$WHEEL")"
check "it carries py.typed" yes "$("$PY" -c 'import importlib.resources as r; print("yes" if r.files("lead_audit").joinpath("py.typed").is_file() else "no")')"
check "lead_audit is imported from the environment, not the checkout" "$VENV" \
    "$(cd /tmp && "$PY" -c 'import lead_audit, os; print(os.path.realpath(lead_audit.__file__))' | grep -o "^$VENV")"
check "it carries the viewer's templates and static files" "base.html viewer.css viewer.js" \
    "$("$PY" -c 'import importlib.resources as r; f = r.files("lead_audit"); print(*[n for n in ("templates/base.html", "static/viewer.css", "static/viewer.js") if f.joinpath(n).is_file()])' | sed 's#[a-z]*/##g')"
check_cmd "lead-audit-verify is installed as a console script" "$VENV/bin/lead-audit-verify" --help
check_cmd "lead-audit is installed as a console script" "$VENV/bin/lead-audit" --help

python3 -m venv "$BARE"
"$BARE/bin/pip" install --quiet --disable-pip-version-check "$WHEEL"
check "without extras, nothing else is installed" "lead-audit" \
    "$("$BARE/bin/pip" list --format=freeze --exclude pip --exclude setuptools 2>/dev/null | cut -d= -f1 | tr '\n' ' ' | sed 's/ $//')"
check_cmd "without extras, the verifier's file mode verifies the golden ledger" \
    "$BARE/bin/lead-audit-verify" tests/vectors/ledger.audit_log tests/vectors/ledger.audit_block --digest tests/vectors/ledger.digest.json
check_cmd "without extras, the context and the ASGI middleware import" \
    "$BARE/bin/python" -c 'import lead_audit, lead_audit.asgi'
status=0
out=$("$BARE/bin/lead-audit-verify" --connect '' 2>&1) || status=$?
check "without extras, --connect says which extra it needs (exit 2)" "2 yes" \
    "$status $(grep -qF "lead-audit[verify]" <<<"$out" && echo yes || echo no)"

echo "== types"
check_cmd "mypy --strict: the package and its tests" bash -c "cd clients/python && '$VENV/bin/mypy' src tests"
check_cmd "mypy --strict: the FastAPI example application" \
    bash -c "cd examples/fastapi && '$VENV/bin/mypy' --strict lead_api"

echo "== against a cluster"
cluster "$DIR" "${LEAD_AUDIT_PYTHON_PORT:-5494}" -c shared_preload_libraries=lead_audit
export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres
# The viewer's browser tests keep their screenshots here.
export LEAD_AUDIT_ARTIFACTS=${LEAD_AUDIT_ARTIFACTS:-$DIR-screenshots}
rm -rf "$LEAD_AUDIT_ARTIFACTS"
unset PYTHONPATH
for suite in clients/python examples/sqlalchemy examples/fastapi; do
    if (cd "$suite" && "$PY" -m pytest -q -p no:cacheprovider); then
        check "the tests of $suite pass" ok ok
    else
        check "the tests of $suite pass" ok failed
    fi
done
check "the viewer's browser tests kept their screenshots" 6 "$(ls "$LEAD_AUDIT_ARTIFACTS"/*.png 2>/dev/null | wc -l)"
echo "screenshots: $LEAD_AUDIT_ARTIFACTS"
finish python
