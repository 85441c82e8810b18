#!/usr/bin/env bash
# The Debian package of PG's major: built from the release build
# (scripts/package.sh), its contents, metadata and linkage checked. On 15 it
# is also installed with dpkg -i into the system PostgreSQL and used (no
# server package of the other majors exists for Debian 12): CREATE EXTENSION, an audited write, a seal,
# verify_audit, the background worker. Then removed with dpkg -r, and a debug
# build installed again (`cargo pgrx install`, as `make install-debug` does),
# so the suites that run after it find the extension where they expect it.
#
# Environment: LEAD_AUDIT_PACKAGE_PORT (5487), LEAD_AUDIT_PACKAGE_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh

NAME=postgresql-$PG-lead-audit
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
DPKG_LOG=$(mktemp /tmp/lead_audit_dpkg.XXXXXX)   # dpkg's own output (postgresql-common's triggers)
on_exit "rm -f '$DPKG_LOG'"
# Where the package puts them: Debian's layout for this major.
LIBDIR=/usr/lib/postgresql/$PG/lib
EXTDIR=/usr/share/postgresql/$PG/extension

echo "== building the package"
DEB=$(bash scripts/package.sh)
check "the package is built" yes "$([ -f "$DEB" ] && echo yes || echo no)"

contents=$(dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's|^\./|/|')
for f in "$LIBDIR/lead_audit.so" "$EXTDIR/lead_audit.control" "$EXTDIR/lead_audit--$VERSION.sql" \
         "/usr/share/doc/$NAME/copyright" "/usr/share/doc/$NAME/README.md" "/usr/share/doc/$NAME/CHANGELOG.md" \
         "/usr/share/doc/$NAME/docs/sql-api.md"; do
    check "the package holds $f" yes "$(grep -qxF "$f" <<<"$contents" && echo yes || echo no)"
done
# Every SQL file of the source tree that PostgreSQL needs is in it.
for f in sql/lead_audit--*--*.sql; do
    check "the package holds the upgrade script $(basename "$f")" yes \
        "$(grep -qxF "$EXTDIR/$(basename "$f")" <<<"$contents" && echo yes || echo no)"
done
check "the package's name, version and dependency" "$NAME|$VERSION-1|postgresql-$PG" \
    "$(dpkg-deb -f "$DEB" Package)|$(dpkg-deb -f "$DEB" Version)|$(dpkg-deb -f "$DEB" Depends | cut -d, -f1)"
check "every file is root's and readable by all" "" \
    "$(dpkg-deb -c "$DEB" | awk '$2 != "root/root" || substr($1, 8, 1) != "r" {print $6}')"
needed=$(objdump -p "$(dirname "$DEB")/$NAME$LIBDIR/lead_audit.so" | awk '/NEEDED/ {print $2}' | sort | tr '\n' ' ')
check "the library needs only what the dependencies provide (libc, libgcc)" "" \
    "$(tr ' ' '\n' <<<"$needed" | grep -v -E '^(libc\.so|libm\.so|libgcc_s\.so|libdl\.so|libpthread\.so|ld-linux|$)' || true)"

check "the library is a PostgreSQL module (Pg_magic_func, _PG_init)" "Pg_magic_func _PG_init" \
    "$(nm -D --defined-only "$(dirname "$DEB")/$NAME$LIBDIR/lead_audit.so" | awk '$3 == "Pg_magic_func" || $3 == "_PG_init" {print $3}' | sort | tr '\n' ' ' | sed 's/ $//')"

# No server package of the other majors exists for Debian 12: their packages
# are checked above, for contents and linkage; 15's is installed and used.
if [ "$PG" != 15 ]; then
    finish package
    exit $?
fi

# ---- installed with dpkg, used ---------------------------------------------------
restore() {
    $SUDO dpkg -r "$NAME" >/dev/null 2>&1 || true
    cargo pgrx install --pg-config "$PGBIN/pg_config" ${SUDO:+--sudo} >/dev/null 2>&1 ||
        echo "run_package: could not put the previous build back (cargo pgrx install)" >&2
}
on_exit restore
$SUDO rm -f "$LIBDIR/lead_audit.so" "$EXTDIR"/lead_audit*   # what make install left: the package brings its own
$SUDO dpkg -i "$DEB" >"$DPKG_LOG" 2>&1 || { cat "$DPKG_LOG" >&2; exit 1; }
check "dpkg installed it" "ii" "$(dpkg-query -W -f '${db:Status-Abbrev}' "$NAME" | tr -d ' ')"
check "its files are where PostgreSQL $PG looks" yes \
    "$([ -f "$LIBDIR/lead_audit.so" ] && [ -f "$EXTDIR/lead_audit.control" ] && echo yes || echo no)"

cluster "${LEAD_AUDIT_PACKAGE_DIR:-/tmp/lead_audit_package}" "${LEAD_AUDIT_PACKAGE_PORT:-5487}" \
    -c shared_preload_libraries=lead_audit -c lead_audit.seal_interval=0
q >/dev/null <<'SQL'
CREATE EXTENSION lead_audit;
CREATE TABLE leads (id int PRIMARY KEY, email text);
SELECT audit_enable('leads');
BEGIN;
SET LOCAL lead_audit.actor_id = '42';
INSERT INTO leads VALUES (1, 'a@example.com');
UPDATE leads SET email = 'b@example.com' WHERE id = 1;
COMMIT;
SELECT count(*) FROM audit_seal();
SQL
check "the packaged extension is the current version" "$VERSION" \
    "$(q -c "SELECT extversion FROM pg_extension WHERE extname = 'lead_audit'")"
check "writes are audited" "INSERT,UPDATE|42" \
    "$(q -c "SELECT string_agg(action, ',' ORDER BY id), max(actor_id) FROM audit_log WHERE record_pk IS NOT NULL")"
check "verify_audit is ok" ok "$(q -c "SELECT string_agg(status, ',') FROM verify_audit()")"
check "the background worker runs from the packaged library" 1 \
    "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'lead_audit sealer'")"

$SUDO dpkg -r "$NAME" >"$DPKG_LOG" 2>&1 || { cat "$DPKG_LOG" >&2; exit 1; }
check "dpkg -r removes its files" no \
    "$([ -e "$LIBDIR/lead_audit.so" ] || [ -e "$EXTDIR/lead_audit.control" ] && echo yes || echo no)"
finish package
