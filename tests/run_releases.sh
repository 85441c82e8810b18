#!/usr/bin/env bash
# Released versions stay as released (sql/releases.txt, scripts/releases.py):
# every released upgrade script in sql/ is unchanged, every upgrade script to a
# released version is recorded, each release's commit is in the repository and
# says that version, and when the version being built is a released one, its
# install script is the released one. Then the check itself is shown to fail
# on a copy where a released script was edited or recorded wrongly.
#
# Needs the build's install script: generated here with `cargo pgrx schema`.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh

WORK=$(mktemp -d /tmp/lead_audit_releases.XXXXXX)
on_exit "rm -rf '$WORK'"
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
SCRIPT=$WORK/lead_audit--$VERSION.sql
cargo pgrx schema "pg$PG" --no-default-features --features "pg$PG" -o "$SCRIPT" >"$WORK/schema.log" 2>&1 ||
    { tail -20 "$WORK/schema.log" >&2; exit 1; }

check_cmd "the released scripts are as released (building $VERSION)" \
    python3 scripts/releases.py check --current "$VERSION" "$SCRIPT"

for v in $(python3 scripts/releases.py versions); do
    commit=$(python3 scripts/releases.py commit "$v")
    check "release $v: its commit is here and its Cargo.toml says $v" "$v" \
        "$(git show "$commit:Cargo.toml" 2>/dev/null | sed -n 's/^version = "\(.*\)"$/\1/p' | head -1)"
done

# The check fails when it should: on a copy of sql/ and scripts/...
copy() {
    rm -rf "$WORK/copy"
    mkdir -p "$WORK/copy"
    cp -r sql scripts "$WORK/copy/"
}
fails_with() { # what, expected message, command...
    local what=$1 message=$2 out rc=0
    shift 2
    out=$("$@" 2>&1) || rc=$?
    check "$what" "1|1" "$rc|$(grep -c -- "$message" <<<"$out" || true)"
}
# ...a released upgrade script edited (even a comment),
copy
released=$(awk '!/^#/ && $3 ~ /--.*--/ {print $3; exit}' sql/releases.txt)
echo "-- an edit" >>"$WORK/copy/sql/$released"
fails_with "an edited released upgrade script fails the check" "was changed after its release" \
    python3 "$WORK/copy/scripts/releases.py" check
# ...an upgrade script to a released version left out of the record,
copy
first=$(python3 scripts/releases.py versions | sed -n 1p)
touch "$WORK/copy/sql/lead_audit--0.0.9--$first.sql"
fails_with "an unrecorded upgrade script to a released version fails the check" "is not in the record" \
    python3 "$WORK/copy/scripts/releases.py" check
# ...and a released version's install script that differs from the record
# (this build's script, claimed as the first release's).
copy
cp "$SCRIPT" "$WORK/lead_audit--$first.sql"
fails_with "a released version whose install script changed fails the check" "differs from its release" \
    python3 "$WORK/copy/scripts/releases.py" check --current "$first" "$WORK/lead_audit--$first.sql"
# The install script's hash does not depend on the order pgrx emits it in.
python3 - "$SCRIPT" "$WORK/reversed/lead_audit--$VERSION.sql" <<'PY'
import pathlib, re, sys
text = pathlib.Path(sys.argv[1]).read_text()
blocks = re.findall(r"/\* <begin connected objects> \*/\n.*?/\* </end connected objects> \*/\n", text, flags=re.S)
out = pathlib.Path(sys.argv[2])
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text("\n".join(reversed(blocks)))
PY
check "an install script's hash is the same in any order of its objects" \
    "$(python3 scripts/releases.py hash "$SCRIPT")" \
    "$(python3 scripts/releases.py hash "$WORK/reversed/lead_audit--$VERSION.sql")"
finish releases
