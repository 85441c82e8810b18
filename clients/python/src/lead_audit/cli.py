"""``lead-audit``: the log's keys, signing outside the database, witnesses,
and the log exported as C2SP tlog-tiles.

    lead-audit keygen NAME --out FILE [--witness]
        A new Ed25519 key in Go's note form, written to FILE (mode 0600); its
        verifier key on stdout (a witness's with --witness: cosignature/v1).
    lead-audit sign --connect CONNINFO --key FILE
        Signs the newest tree head (audit_tree_head()) with a key the database
        never sees, and stores the checkpoint (audit_add_checkpoint()).
    lead-audit witness --connect CONNINFO --witness URL VKEY [--witness ...]
        Asks each witness (C2SP tlog-witness add-checkpoint, with the
        consistency proof from the size it last cosigned) to cosign the newest
        checkpoint, checks each cosignature with the witness's key, and stores
        them (audit_add_cosignatures()).
    lead-audit export-tiles DIR --connect CONNINFO
        Writes the log as C2SP tlog-tiles under DIR: the checkpoint, the hash
        tiles and the entry bundles (each entry a row's 32-byte checksum),
        adding to what an earlier export wrote after proving the new
        checkpoint extends it. Reads as any role that may read audit_block.
    lead-audit serve --dsn URL [--host H] [--port P] [--allow-writer]
        Serves the audit trail's viewer and JSON API (lead_audit.web) with
        uvicorn, for an auditor. URL is a SQLAlchemy URL or a libpq conninfo.
        Refuses a role that is a superuser or may write to an audited table or
        to the log, unless --allow-writer. On 127.0.0.1 (the default) every
        request is served; on any other address only with HTTP basic auth
        (user "auditor", the password in LEAD_AUDIT_SERVE_PASSWORD).

Exit status: 0 done, 1 a witness or the log refused (the reason is printed),
2 bad input, usage or connection.
"""

import argparse
import base64
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from . import tlog


class Failed(Exception):
    """A witness or the log refused."""


class BadInput(Exception):
    pass


def connect(conninfo: str) -> Any:
    try:
        import psycopg
    except ImportError:
        raise BadInput("--connect needs psycopg: pip install 'lead-audit[verify]'") from None
    try:
        return psycopg.connect(conninfo, autocommit=True)
    except psycopg.Error as e:
        raise BadInput(f"the database: {str(e).strip()}") from None


def one(conn: Any, query: str, *args: Any) -> Any:
    row = conn.execute(query, args).fetchone()
    return None if row is None else row[0]


def keygen(name: str, out: str, witness: bool) -> int:
    key = tlog.PrivateKey.generate(name)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.text() + "\n")
    print(key.verifier_key(tlog.ALG_COSIGNATURE_V1 if witness else tlog.ALG_ED25519))
    return 0


def sign(conn: Any, key_file: str) -> int:
    with open(key_file, encoding="utf-8") as f:
        key = tlog.PrivateKey.parse(f.read())
    head = one(conn, "SELECT audit_tree_head()")
    if head is None:
        print("nothing to sign: the log has no sealed row yet")
        return 0
    note = head + "\n" + key.signature_line(head.encode())
    size = one(conn, "SELECT audit_add_checkpoint(%s)", note)
    print(f"signed the checkpoint of {size} rows")
    return 0


def witness_once(conn: Any, url: str, key: tlog.VerifierKey, note: tlog.Note) -> list[str]:
    """The cosignature lines of one witness for the checkpoint ``note``."""
    checkpoint = tlog.Checkpoint.parse(note.text)
    # Where the witness stands: the size we last stored a cosignature of it
    # for; a 409 corrects it.
    old = one(conn, "SELECT coalesce(max(tree_size), 0) FROM audit_cosignature"
                    " WHERE split_part(signature, ' ', 2) = %s", key.name)
    for _ in range(3):
        proof = one(conn, "SELECT audit_consistency(%s, %s)", old, checkpoint.size) if old else []
        body = f"old {old}\n" + "".join(base64.b64encode(bytes(h)).decode() + "\n" for h in proof)
        body += "\n" + str(note)
        request = urllib.request.Request(url.rstrip("/") + "/add-checkpoint", data=body.encode(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as e:
            reply = e.read().decode(errors="replace")
            if e.code == 409 and e.headers.get("Content-Type", "").startswith("text/x.tlog.size"):
                old = int(reply.strip())
                continue
            raise Failed(f"{url} refused the checkpoint ({e.code}): {reply.strip()[:200]}") from None
        except (urllib.error.URLError, OSError) as e:
            raise Failed(f"{url}: {e}") from None
        lines = [line for line in text.split("\n") if line]
        cosigned = tlog.Note(note.text, [tlog.Signature.parse(line) for line in lines])
        if not cosigned.signed_by(key):
            raise Failed(f"{url} answered without a valid cosignature of {key.name}")
        return [s.line for s in cosigned.signatures if s.name == key.name]
    raise Failed(f"{url} kept answering 409 Conflict")


def witness(conn: Any, witnesses: Sequence[tuple[str, str]]) -> int:
    current = one(conn, "SELECT audit_checkpoint()")
    note = tlog.Note.parse(current)
    own = tlog.Note(note.text, note.signatures[:1])  # the log's signature only
    total = 0
    for url, vkey in witnesses:
        key = tlog.VerifierKey.parse(vkey)
        lines = witness_once(conn, url, key, own)
        added = one(conn, "SELECT audit_add_cosignatures(%s)", str(own) + "".join(lines))
        total += added
        print(f"{key.name}: cosigned the checkpoint of {tlog.Checkpoint.parse(note.text).size} rows")
    return 0


# ---------------------------------------------------------------------------
# export-tiles
# ---------------------------------------------------------------------------


def _write(directory: str, path: str, data: bytes) -> None:
    target = os.path.join(directory, path)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = target + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, target)


def _read_tile(directory: str, level: int, index: int, width: int) -> list[bytes]:
    with open(os.path.join(directory, tlog.tile_path(level, index, width)), "rb") as f:
        data = f.read()
    if len(data) != width * tlog.HASH_SIZE:
        raise BadInput(f"{tlog.tile_path(level, index, width)} is not {width} hashes")
    return [data[i:i + 32] for i in range(0, len(data), 32)]


def _read_entries(directory: str, index: int, width: int) -> list[bytes]:
    with open(os.path.join(directory, tlog.entries_path(index, width)), "rb") as f:
        data = f.read()
    out = []
    while data:
        n = int.from_bytes(data[:2], "big")
        out.append(data[2:2 + n])
        data = data[2 + n:]
    if len(out) != width:
        raise BadInput(f"{tlog.entries_path(index, width)} does not hold {width} entries")
    return out


class Tiles:
    """The right edge of the exported tree: at each level, the hashes of the
    last tile not complete yet, and the entries of the last bundle."""

    def __init__(self, directory: str, size: int) -> None:
        self.dir, self.size = directory, size
        self.levels: list[list[bytes]] = []
        level = 0
        while True:
            count = size >> (tlog.TILE_HEIGHT * level)
            width = count % tlog.TILE_WIDTH
            self.levels.append(_read_tile(directory, level, count // tlog.TILE_WIDTH, width) if width else [])
            if count < tlog.TILE_WIDTH:
                break
            level += 1
        width = size % tlog.TILE_WIDTH
        self.entries = _read_entries(directory, size // tlog.TILE_WIDTH, width) if width else []

    def push(self, entry: bytes) -> None:
        self.entries.append(entry)
        if len(self.entries) == tlog.TILE_WIDTH:
            index = self.size // tlog.TILE_WIDTH
            _write(self.dir, tlog.entries_path(index), b"".join(len(e).to_bytes(2, "big") + e for e in self.entries))
            self.entries = []
        item, level = tlog.leaf_hash(entry), 0
        self.size += 1
        while True:
            if level == len(self.levels):
                self.levels.append([])
            self.levels[level].append(item)
            if len(self.levels[level]) < tlog.TILE_WIDTH:
                break
            index = (self.size >> (tlog.TILE_HEIGHT * level)) // tlog.TILE_WIDTH - 1
            _write(self.dir, tlog.tile_path(level, index), b"".join(self.levels[level]))
            item = tlog.root(self.levels[level])
            self.levels[level] = []
            level += 1

    def finish(self) -> None:
        """The partial tiles and bundle of the right edge."""
        for level, hashes in enumerate(self.levels):
            if hashes:
                index = (self.size >> (tlog.TILE_HEIGHT * level)) // tlog.TILE_WIDTH
                _write(self.dir, tlog.tile_path(level, index, len(hashes)), b"".join(hashes))
        if self.entries:
            index = self.size // tlog.TILE_WIDTH
            _write(self.dir, tlog.entries_path(index, len(self.entries)),
                   b"".join(len(e).to_bytes(2, "big") + e for e in self.entries))

    def root(self) -> bytes:
        """The tree's root from the edge: each level's partial tile hashes are
        complete subtrees, from the highest level down."""
        pieces: list[bytes] = []
        for level in reversed(range(len(self.levels))):
            pieces.extend(self._subtrees(self.levels[level]))
        if not pieces:
            return tlog.EMPTY_ROOT
        r = pieces[-1]
        for p in reversed(pieces[:-1]):
            r = tlog.node_hash(p, r)
        return r

    @staticmethod
    def _subtrees(hashes: list[bytes]) -> list[bytes]:
        """The maximal complete subtrees of a partial tile, left to right."""
        out, i = [], 0
        while i < len(hashes):
            k = 1
            while i % (k * 2) == 0 and i + k * 2 <= len(hashes):
                k *= 2
            out.append(tlog.root(hashes[i:i + k]))
            i += k
        return out


def export_tiles(conn: Any, directory: str) -> int:
    note = tlog.Note.parse(one(conn, "SELECT audit_checkpoint()"))
    checkpoint = tlog.Checkpoint.parse(note.text)
    log_key = tlog.VerifierKey.parse(one(conn, "SELECT audit_verifier_key()"))
    if not note.signed_by(log_key):
        raise Failed("the newest checkpoint is not signed by the log's key")
    old_size = 0
    kept = os.path.join(directory, "checkpoint")
    if os.path.exists(kept):
        with open(kept, encoding="utf-8") as f:
            old_note = tlog.Note.parse(f.read())
        old = tlog.Checkpoint.parse(old_note.text)
        if old.origin != checkpoint.origin or not old_note.signed_by(log_key):
            raise Failed("the directory holds another log's tiles")
        proof = one(conn, "SELECT audit_consistency(%s, %s)", old.size, checkpoint.size) or []
        if not tlog.verify_consistency(old.size, checkpoint.size, old.root, checkpoint.root,
                                       [bytes(h) for h in proof]):
            raise Failed(f"the log's tree of {checkpoint.size} does not extend the exported tree of {old.size}")
        old_size = old.size
    tiles = Tiles(directory, old_size)
    rows = conn.execute(
        "SELECT t.tree_size - b.row_count, b.row_checksums FROM audit_tree t"
        " JOIN audit_block b ON b.id = t.block_id"
        " WHERE t.tree_size > %s AND t.tree_size - b.row_count < %s ORDER BY t.tree_size",
        (old_size, checkpoint.size))
    for start, sums in rows:
        sums = bytes(sums)
        for i in range(max(start, tiles.size), min(start + len(sums) // 32, checkpoint.size)):
            tiles.push(sums[(i - start) * 32:(i - start + 1) * 32])
    if tiles.size != checkpoint.size:
        raise Failed(f"the blocks hold {tiles.size} of the checkpoint's {checkpoint.size} leaves")
    if tiles.root() != checkpoint.root:
        raise Failed("the blocks' leaves do not hash to the checkpoint's root")
    tiles.finish()
    _write(directory, "checkpoint", str(note).encode())
    print(f"exported the tree of {checkpoint.size} rows to {directory}")
    return 0


WRITERS = """
SELECT r.rolsuper AS superuser,
       coalesce((SELECT string_agg(t.table_name::text, ', ' ORDER BY 1) FROM audit_tables t
                 WHERE has_table_privilege(t.table_name, 'INSERT, UPDATE, DELETE, TRUNCATE')), '') AS tables,
       has_table_privilege('audit_log', 'INSERT, UPDATE, DELETE, TRUNCATE') AS log
FROM pg_roles r WHERE r.rolname = current_user
"""


def serving_role_refusal(conn: Any) -> str | None:
    """Why the role of ``conn`` may not serve the viewer, or None."""
    superuser, tables, log = conn.execute(WRITERS).fetchone()
    if superuser:
        return "the role is a superuser"
    if tables:
        return f"the role may write to audited tables: {tables}"
    if log:
        return "the role may write to audit_log"
    return None


def serve(dsn: str, host: str, port: int, allow_writer: bool) -> int:
    try:
        import secrets

        import uvicorn
        from fastapi import FastAPI, Request
        from fastapi.responses import RedirectResponse
        from sqlalchemy import create_engine

        from .web import NOT_AUTHORIZED, audit_router
    except ImportError:
        raise BadInput("serve needs the web extra: pip install 'lead-audit[web]'") from None
    import psycopg

    # psycopg takes a URL or a conninfo as written; the engine only pools its connections.
    engine = create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(dsn))
    try:
        with engine.connect() as c:
            refusal = serving_role_refusal(c.connection.driver_connection)
    except Exception as e:
        if type(e).__module__.startswith(("psycopg", "sqlalchemy")):
            raise BadInput(f"the database: {str(getattr(e, 'orig', None) or e).strip()}") from None
        raise
    if refusal and not allow_writer:
        raise BadInput(f"{refusal}; serve the viewer as a read-only role (docs/clients.md), "
                       "or pass --allow-writer")
    password = os.environ.get("LEAD_AUDIT_SERVE_PASSWORD")
    local = host in ("127.0.0.1", "::1", "localhost")
    if not local and not password:
        raise BadInput(f"serving on {host} needs a password: set LEAD_AUDIT_SERVE_PASSWORD")

    def authorize(request: Request) -> bool:
        if password is None:
            return local
        expected = "Basic " + base64.b64encode(f"auditor:{password}".encode()).decode()
        return secrets.compare_digest(request.headers.get("authorization", ""), expected)

    app = FastAPI(title="lead_audit", docs_url="/audit/docs", openapi_url="/audit/openapi.json")
    app.include_router(audit_router(engine, authorize=authorize), prefix="/audit")

    @app.exception_handler(403)
    async def forbidden(request: Request, exc: Exception) -> Any:
        from fastapi.responses import JSONResponse
        detail = getattr(exc, "detail", "forbidden")
        if password and detail == NOT_AUTHORIZED:
            # A browser asks for the password when told how (RFC 7617).
            return JSONResponse({"detail": detail}, 401, headers={"WWW-Authenticate": 'Basic realm="lead_audit"'})
        return JSONResponse({"detail": detail}, 403)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/audit/ui")

    print(f"lead-audit: serving the audit trail on http://{host}:{port}/audit/ui", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="lead-audit", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    k = sub.add_parser("keygen", help="a new Ed25519 key for the log or a witness")
    k.add_argument("name")
    k.add_argument("--out", required=True)
    k.add_argument("--witness", action="store_true", help="print the key as a cosigner's (cosignature/v1)")
    s = sub.add_parser("sign", help="sign the newest tree head outside the database")
    s.add_argument("--connect", required=True, metavar="CONNINFO")
    s.add_argument("--key", required=True, metavar="FILE")
    w = sub.add_parser("witness", help="collect witnesses' cosignatures of the newest checkpoint")
    w.add_argument("--connect", required=True, metavar="CONNINFO")
    w.add_argument("--witness", nargs=2, action="append", required=True, metavar=("URL", "VKEY"))
    e = sub.add_parser("export-tiles", help="write the log as C2SP tlog-tiles")
    e.add_argument("directory")
    e.add_argument("--connect", required=True, metavar="CONNINFO")
    v = sub.add_parser("serve", help="serve the audit trail's viewer and JSON API")
    v.add_argument("--dsn", "--connect", required=True, metavar="URL")
    v.add_argument("--host", default="127.0.0.1")
    v.add_argument("--port", type=int, default=8080)
    v.add_argument("--allow-writer", action="store_true",
                   help="serve even as a role that may write to audited tables or is a superuser")
    args = p.parse_args(argv)
    try:
        if args.command == "keygen":
            return keygen(args.name, args.out, args.witness)
        if args.command == "serve":
            return serve(args.dsn, args.host, args.port, args.allow_writer)
        conn = connect(args.connect)
        with conn:
            if args.command == "sign":
                return sign(conn, args.key)
            if args.command == "witness":
                return witness(conn, args.witness)
            return export_tiles(conn, args.directory)
    except Failed as e:
        print(f"lead-audit: {e}", file=sys.stderr)
        return 1
    except (BadInput, tlog.FormatError, OSError, ValueError) as e:
        print(f"lead-audit: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # psycopg's errors: the server's message
        if type(e).__module__.startswith("psycopg"):
            print(f"lead-audit: the database: {str(e).strip()}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
