#!/usr/bin/env bash
# Builds the Debian package postgresql-15-lead-audit from the release build:
# the library, the control file and every SQL file (the install script of
# this version and the upgrade scripts from earlier ones), laid out where
# Debian's PostgreSQL 15 looks for them.
#
#   scripts/package.sh        -> target/debian/postgresql-15-lead-audit_<version>-1_<arch>.deb
#
# Install it with `dpkg -i` (or `apt install ./<file>.deb`, which also pulls
# postgresql-15 in); tests/run_package.sh checks it.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
NAME=postgresql-15-lead-audit
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
ARCH=$(dpkg --print-architecture)
OUT=target/debian
STAGE=$OUT/$NAME
DEB=$OUT/${NAME}_${VERSION}-1_${ARCH}.deb

rm -rf "$STAGE" "$OUT/pgrx"
mkdir -p "$OUT"
# The release build, laid out under its install paths (usr/lib/postgresql/15/lib,
# usr/share/postgresql/15/extension).
cargo pgrx package --pg-config "$PG_CONFIG" --out-dir "$OUT/pgrx" >"$OUT/package.log" 2>&1 ||
    { tail -30 "$OUT/package.log" >&2; exit 1; }
mkdir -p "$STAGE"
cp -a "$OUT/pgrx/." "$STAGE/"
doc=$STAGE/usr/share/doc/$NAME
mkdir -p "$doc"
cp README.md "$doc/README.md"
cat >"$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: lead_audit
License: Apache-2.0

Files: *
License: Apache-2.0
 On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.
COPYRIGHT
# Files PostgreSQL reads, readable by all, owned by root (dpkg-deb --root-owner-group).
find "$STAGE" -type d -exec chmod 0755 {} +
find "$STAGE" -type f -exec chmod 0644 {} +
strip --strip-unneeded "$STAGE$("$PG_CONFIG" --pkglibdir)/lead_audit.so"

mkdir -p "$STAGE/DEBIAN"
cat >"$STAGE/DEBIAN/control" <<CONTROL
Package: $NAME
Version: $VERSION-1
Architecture: $ARCH
Maintainer: lead_audit developers <lead-audit@localhost>
Depends: postgresql-15, libc6, libgcc-s1
Section: database
Priority: optional
Installed-Size: $(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
Description: tamper-evident change history for any PostgreSQL table
 lead_audit is a PostgreSQL 15 extension: SELECT audit_enable('leads') and
 every INSERT, UPDATE, DELETE and TRUNCATE of that table is recorded in
 audit_log (who, what, when, the JSON diff), checksummed and sealed into a
 hash chain that verify_audit() checks. Failed attempts are recorded too
 when the library is in shared_preload_libraries.
CONTROL
dpkg-deb --root-owner-group --build "$STAGE" "$DEB" >/dev/null
echo "$DEB"
