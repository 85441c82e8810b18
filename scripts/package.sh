#!/usr/bin/env bash
# Builds the Debian package postgresql-<major>-lead-audit from the release
# build for one PostgreSQL major (PG, default 15): the library, the control
# file and every SQL file (the install script of this version and the upgrade
# scripts from earlier ones), laid out where Debian's (and the PostgreSQL
# project's apt repository's) postgresql-<major> looks for them:
# /usr/lib/postgresql/<major>/lib and /usr/share/postgresql/<major>/extension,
# whatever server it was built against.
#
#   PG=17 scripts/package.sh  -> target/debian/postgresql-17-lead-audit_<version>-1_<arch>.deb
#
# Install it with `dpkg -i` (or `apt install ./<file>.deb`, which also pulls
# postgresql-<major> in); tests/run_package.sh checks it.
set -euo pipefail
cd "$(dirname "$0")/.."

PG=${PG:-15}
PG_CONFIG=${PG_CONFIG:-$(scripts/postgres.sh bindir "$PG")/pg_config}
NAME=postgresql-$PG-lead-audit
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
ARCH=$(dpkg --print-architecture)
OUT=target/debian/pg$PG
STAGE=$OUT/$NAME
DEB=$OUT/${NAME}_${VERSION}-1_${ARCH}.deb

rm -rf "$STAGE" "$OUT/pgrx"
mkdir -p "$OUT"
# The release build, laid out under the server's own install paths, then
# moved to Debian's.
cargo pgrx package --pg-config "$PG_CONFIG" --out-dir "$OUT/pgrx" >"$OUT/package.log" 2>&1 ||
    { tail -30 "$OUT/package.log" >&2; exit 1; }
LIBDIR=/usr/lib/postgresql/$PG/lib
EXTDIR=/usr/share/postgresql/$PG/extension
mkdir -p "$STAGE$LIBDIR" "$STAGE$EXTDIR"
cp "$OUT/pgrx$("$PG_CONFIG" --pkglibdir)/lead_audit.so" "$STAGE$LIBDIR/"
cp "$OUT/pgrx$("$PG_CONFIG" --sharedir)/extension"/lead_audit* "$STAGE$EXTDIR/"
doc=$STAGE/usr/share/doc/$NAME
mkdir -p "$doc/docs"
# The README and the reference pages it links to, side by side as in the
# source tree; what changed per release.
cp README.md CHANGELOG.md "$doc/"
cp docs/*.md "$doc/docs/"
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
strip --strip-unneeded "$STAGE$LIBDIR/lead_audit.so"

mkdir -p "$STAGE/DEBIAN"
cat >"$STAGE/DEBIAN/control" <<CONTROL
Package: $NAME
Version: $VERSION-1
Architecture: $ARCH
Maintainer: lead_audit developers <lead-audit@localhost>
Depends: postgresql-$PG, libc6, libgcc-s1
Section: database
Priority: optional
Installed-Size: $(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
Description: tamper-evident change history for any PostgreSQL table
 lead_audit is a PostgreSQL $PG extension: SELECT audit_enable('leads') and
 every INSERT, UPDATE, DELETE and TRUNCATE of that table is recorded in
 audit_log (who, what, when, the JSON diff), checksummed and sealed into a
 hash chain that verify_audit() checks. Failed attempts are recorded too
 when the library is in shared_preload_libraries.
CONTROL
dpkg-deb --root-owner-group --build "$STAGE" "$DEB" >/dev/null
echo "$DEB"
