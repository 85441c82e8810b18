"""Every relative link of the given Markdown files resolves.

    python check_links.py ROOT FILE.md ...

Each file is parsed as CommonMark (markdown-it-py), so links inside code
spans and fenced blocks are not links, and reference-style links are
resolved as a renderer would. Every link and image whose target has no
scheme must name a file or directory that exists (relative to the file, or
to ROOT when it starts with /); a #fragment must be the anchor of a heading
of the target Markdown file, as GitHub makes them (the mdit-py-plugins
anchors plugin: lowercase, spaces to '-', other punctuation dropped, -1, -2
... for repeated headings). A link that is only #fragment names its own file.

Prints one PASS line per file whose links all resolve and one FAIL line per
broken link, then "links: N passed, M failed" (links); exits 1 when a link
is broken, 2 on bad usage.
"""

import pathlib
import sys
import urllib.parse

from markdown_it import MarkdownIt
from mdit_py_plugins.anchors import anchors_plugin

PARSER = MarkdownIt("commonmark").enable("table").use(anchors_plugin, max_level=6)


def tokens(path):
    """Every token of the file, inline children included."""
    for token in PARSER.parse(path.read_text(encoding="utf-8")):
        yield token
        yield from token.children or []


def anchors(path, cache={}):
    if path not in cache:
        cache[path] = {t.attrs["id"] for t in tokens(path) if t.type == "heading_open"}
    return cache[path]


def links(path):
    """(line, target) of every link and image of the file."""
    line = 0
    for token in tokens(path):
        if token.map:
            line = token.map[0] + 1
        if token.type == "link_open":
            yield line, token.attrs.get("href", "")
        elif token.type == "image":
            yield line, token.attrs.get("src", "")


def broken(root, path, target):
    """Why `target`, linked from `path`, does not resolve; None when it does."""
    parts = urllib.parse.urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    name = urllib.parse.unquote(parts.path)
    if not name:
        dest = path
    elif name.startswith("/"):
        dest = root / name.lstrip("/")
    else:
        dest = path.parent / name
    if not dest.exists():
        return "no such file or directory"
    if parts.fragment:
        if dest.is_dir() or dest.suffix.lower() != ".md":
            return "a #fragment on something that is not a Markdown file"
        if urllib.parse.unquote(parts.fragment) not in anchors(dest.resolve()):
            return f"no heading with the anchor #{parts.fragment} in {dest.name}"
    return None


def main(argv):
    if len(argv) < 2:
        print("usage: check_links.py ROOT FILE.md ...", file=sys.stderr)
        return 2
    root = pathlib.Path(argv[0]).resolve()
    passed = failed = 0
    for name in argv[1:]:
        path = (root / name).resolve()
        found = [(line, t) for line, t in links(path) if not urllib.parse.urlsplit(t).scheme]
        bad = [(line, t, why) for line, t in found if (why := broken(root, path, t))]
        for line, target, why in bad:
            print(f"FAIL {name}:{line}: ({target}): {why}")
        failed += len(bad)
        passed += len(found) - len(bad)
        if not bad:
            print(f"PASS {name} ({len(found)} relative links)")
    print(f"links: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
