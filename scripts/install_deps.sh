#!/usr/bin/env bash
# Installs what building, testing and running lead_audit needs, skipping
# whatever is already there: Debian packages, cargo-pgrx 0.18.0, the
# PostgreSQL servers of the majors in $MAJORS (default: the system's 15; the
# others are fetched once by scripts/postgres.sh), and `cargo pgrx init` for
# every one of them.
set -euo pipefail
cd "$(dirname "$0")/.."

MAJORS=${MAJORS:-15}
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

# binutils: the package (strip, objdump); pgbouncer: the pooler test; Go and
# its x/mod (sumdb/tlog, sumdb/note): the proofs' independent cross-check;
# chromium and its driver: the viewer's browser tests.
packages=(postgresql-15 postgresql-server-dev-15 libclang-dev clang sudo binutils pgbouncer
          golang-go golang-golang-x-mod-dev chromium chromium-driver)
# The Python example needs venv; Debian's python3 ships it separately.
python3 -m venv --help >/dev/null 2>&1 || packages+=(python3-venv)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! cargo pgrx --version 2>/dev/null | grep -q '0\.18\.0'; then
    echo "==> installing cargo-pgrx 0.18.0 (takes a few minutes)"
    cargo install cargo-pgrx --version 0.18.0 --locked
fi

# `cargo pgrx init` writes its configuration anew: it is given every major
# already configured as well as the new ones.
config="${PGRX_HOME:-$HOME/.pgrx}/config.toml"
wanted=() missing=0
for m in $(scripts/postgres.sh majors); do
    if grep -qs "^pg$m" "$config" || [[ " $MAJORS " == *" $m "* ]]; then
        wanted+=("--pg$m=$(scripts/postgres.sh bindir "$m")/pg_config")
        grep -qs "^pg$m" "$config" || missing=1
    fi
done
if [ "$missing" = 1 ]; then
    echo "==> cargo pgrx init ${wanted[*]}"
    cargo pgrx init "${wanted[@]}" >/dev/null
fi
