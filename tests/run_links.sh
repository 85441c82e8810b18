#!/usr/bin/env bash
# Every relative link in every Markdown file of the repository resolves: the
# file or directory exists, and a #fragment names a heading of the target
# page by GitHub's anchors (tests/check_links.py, on a CommonMark parser).
# The checker is first shown to catch broken links in a page made for it.
#
#   bash tests/run_links.sh
#
# Needs no build and no server: a virtual environment with the parser
# (tests/requirements-links.txt) in LEAD_AUDIT_LINKS_VENV.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
VENV=${LEAD_AUDIT_LINKS_VENV:-/tmp/lead_audit_links-venv}
WORK=$(mktemp -d /tmp/lead_audit_links.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

if ! "$VENV/bin/python" -c "import markdown_it, mdit_py_plugins" 2>/dev/null; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements-links.txt
fi
check() { "$VENV/bin/python" tests/check_links.py "$@"; }

# The checker fails when it should: a missing file, a missing heading in
# another page and in the same page fail; a code span, a fenced block and a
# web address are not checked; a good link to a heading passes.
mkdir -p "$WORK/docs"
cat >"$WORK/docs/a.md" <<'MD'
# A page

## Second heading

[missing file](nope.md), [missing heading](../README.md#nowhere), [here](#not-here),
`[code](nope.md)`, [web](https://example.com/nope.md), [good](#second-heading).

```
[fenced](nope.md)
```
MD
echo "# Readme" >"$WORK/README.md"
rc=0
out=$(check "$WORK" docs/a.md) || rc=$?
if [ "$rc" = 1 ] && [ "$(grep -c '^FAIL' <<<"$out")" = 3 ] && grep -q '^links: 1 passed, 3 failed$' <<<"$out"; then
    echo "PASS the checker catches the three broken links of its test page, and only them"
else
    echo "FAIL the checker's test page: expected 3 broken links and exit status 1, got ($rc):"
    printf '%s\n' "$out" | sed 's/^/    /'
    exit 1
fi

# The repository's pages: tracked, or new and not ignored.
mapfile -t pages < <( (git ls-files '*.md'; git ls-files --others --exclude-standard '*.md') | sort -u)
check "$ROOT" "${pages[@]}"
