#!/usr/bin/env bash
# Installs what building, testing and running lead_audit needs, skipping
# whatever is already there: Debian packages, cargo-pgrx 0.18.0, and
# `cargo pgrx init` for the system PostgreSQL 15.
set -euo pipefail

PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

packages=(postgresql-15 postgresql-server-dev-15 libclang-dev clang sudo binutils pgbouncer)  # binutils: the package (strip, objdump); pgbouncer: the pooler test
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

if ! grep -qs '^pg15' "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
    echo "==> cargo pgrx init --pg15=$PG_CONFIG"
    cargo pgrx init --pg15="$PG_CONFIG" >/dev/null
fi
