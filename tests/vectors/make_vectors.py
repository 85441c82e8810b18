#!/usr/bin/env python3
"""Writes the golden vectors of lead_audit's canonical forms and ledger checks.

    python3 tests/vectors/make_vectors.py          # rewrites rows.json, blocks.json, ledger.json
    python3 tests/vectors/make_vectors.py --check  # exit 1 if they differ from what it would write

Input: ledger.audit_log / ledger.audit_block / ledger.digest.json, a small real
ledger written and sealed by lead_audit 0.1.0 on PostgreSQL 15 (COPY output),
and ledger_v2.audit_log, rows written by 0.2.0 (committed changes and failed
attempts, row form v2). Their checksums and block hashes were computed by the
extension: they are the truth. This script refuses to write a row or block
vector whose recomputed hash differs from the stored one.

- rows.json: per audit row, its form, its columns as COPY gives them
  (unescaped; 0.1.0's rows get NULL outcome and error), the texts the form
  covers (18 for v1, 20 for v2), the canonical bytes (UTF-8) and their SHA-256.
- blocks.json: per block, its header, leaves, rows_hash, canonical form v1 and hash.
- ledger.json: the ledger decoded (blocks with raw hashes, rows with stored
  and recomputed checksums) and cases, each a change to it with the findings
  (status, audit_id, block_id, in verify_audit's order) written by hand below.

Read by: src/forms/mod.rs and src/ledger/classify.rs (unit tests), src/tests/mod.rs
(the SQL re-implementation and the writer, in the database), and
clients/python/tests/test_verify.py (the independent verifier, lead_audit.verify).
"""

import copy
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "clients", "python", "src"))
from lead_audit import verify as v  # noqa: E402


def text(b):
    return None if b is None else b.decode("utf-8")


def row_vectors(log):
    out = []
    for fields in log:
        v2 = fields[v.OUTCOME] is not None
        texts = list(fields[:v.CHECKSUM]) + (list(fields[v.OUTCOME:]) if v2 else [])
        texts[v.LOGGED_AT] = b"%d" % v.timestamptz_us(texts[v.LOGGED_AT])
        canonical = v.canonical_row(fields)
        digest = v.hashlib.sha256(canonical).digest()
        stored = v.parse_bytea(fields[v.CHECKSUM])
        if digest != stored:
            sys.exit(f"row {text(fields[0])}: recomputed checksum differs from the stored one")
        out.append({"form": "lead_audit:row:v2" if v2 else "lead_audit:row:v1",
                    "columns": [text(f) for f in fields], "form_fields": [text(t) for t in texts],
                    "canonical": canonical.decode("utf-8"), "sha256": digest.hex()})
    return out


def block_vectors(blocks):
    out = []
    for b in blocks:
        if not b.leaves_match() or b.computed_hash() != b.block_hash:
            sys.exit(f"block {b.id}: recomputed hashes differ from the stored ones")
        out.append({"id": b.id, "from_xid": b.from_xid, "to_xid": b.to_xid, "first_id": b.first_id,
                    "last_id": b.last_id, "row_count": b.row_count, "sealed_at_us": b.sealed_at_us,
                    "leaves": [[i, c.hex()] for i, c in b.leaves()], "rows_hash": b.rows_hash.hex(),
                    "prev_hash": b.prev_hash.hex(), "canonical": b.canonical().decode("utf-8"),
                    "block_hash": b.block_hash.hex()})
    return out


def decoded(blocks, log):
    bs = [{"id": b.id, "from_xid": b.from_xid, "to_xid": b.to_xid, "first_id": b.first_id, "last_id": b.last_id,
           "row_count": b.row_count, "sealed_at_us": b.sealed_at_us, "rows_hash": b.rows_hash.hex(),
           "prev_hash": b.prev_hash.hex(), "block_hash": b.block_hash.hex(), "row_ids": list(b.row_ids),
           "row_checksums": b.row_checksums.hex()} for b in blocks]
    rows = []
    for fields in log:
        r = v.LogRow.from_copy(fields)
        rows.append({"id": r.id, "tx_id": r.tx_id, "stored": r.stored.hex(), "computed": r.computed.hex()})
    return {"blocks": bs, "rows": rows}


def cases(base, digest):
    """Each case: a change to the ledger and the findings it must give, by hand.
    The ledger: rows 1-19 sealed in block 1, 20-22 in block 2 (horizon: tx 777),
    rows 23 and 24 not sealed yet (so every case with a problem also counts them:
    one 'unsealed' finding, which sorts first)."""
    def row(ledger, audit_id):
        return next(r for r in ledger["rows"] if r["id"] == audit_id)

    def block(ledger, block_id):
        return next(b for b in ledger["blocks"] if b["id"] == block_id)

    def other_hash(h):
        return ("ff" if not h.startswith("ff") else "00") + h[2:]

    U = ["unsealed", None, None]
    out = []

    def case(name, change, findings, digest_=None, range_=None, pass_rows=None):
        ledger = copy.deepcopy(base)
        change(ledger)
        c = {"name": name, "blocks": ledger["blocks"], "rows": ledger["rows"], "digest": digest_,
             "range": range_, "findings": findings}
        if pass_rows is not None:
            c["pass_rows"] = pass_rows
        out.append(c)

    def swap_checksums(ledger, a, b):
        ra, rb = row(ledger, a), row(ledger, b)
        ra["stored"], rb["stored"] = rb["stored"], ra["stored"]

    case("intact", lambda l: None, [["ok", None, None]])
    case("a sealed row's content edited", lambda l: row(l, 5).update(computed=other_hash(row(l, 5)["computed"])),
         [U, ["modified", 5, 1]])
    case("a sealed row carries another row's sealed checksum",
         lambda l: row(l, 3).update(stored=row(l, 4)["stored"]), [U, ["moved", 3, 1]])
    case("a row carries the sealed checksum of a row in another block",
         lambda l: row(l, 20).update(stored=row(l, 1)["stored"]), [U, ["moved", 20, 2]])
    case("a sealed row's checksum cut to 5 bytes",
         lambda l: row(l, 7).update(stored=row(l, 7)["stored"][:10]), [U, ["modified", 7, 1]])
    case("a sealed row's checksum NULL", lambda l: row(l, 8).update(stored=None), [U, ["modified", 8, 1]])
    case("a sealed row deleted", lambda l: l["rows"].remove(row(l, 10)), [U, ["deleted", 10, 1]])
    case("a row forged inside the sealed range",
         lambda l: l["rows"].append({"id": 30, "tx_id": 776, "stored": "ab" * 32, "computed": "ab" * 32}),
         [U, ["forged", 30, None]])
    case("an unsealed row's content edited",
         lambda l: row(l, 24).update(computed=other_hash(row(l, 24)["computed"])), [U, ["modified", 24, None]])
    case("a block's hash cut to 31 bytes (the next block no longer links to it)",
         lambda l: block(l, 1).update(block_hash=block(l, 1)["block_hash"][:62]),
         [U, ["block_modified", None, 1], ["broken_link", None, 2]])
    case("a block's prev_hash cut to 16 bytes",
         lambda l: block(l, 2).update(prev_hash=block(l, 2)["prev_hash"][:32]),
         [U, ["broken_link", None, 2], ["block_modified", None, 2]])
    case("a block's seal time not finite", lambda l: block(l, 2).update(sealed_at_us=None),
         [U, ["block_modified", None, 2]])
    case("a block's row_count edited", lambda l: block(l, 2).update(row_count=4),
         [U, ["block_modified", None, 2], ["block_modified", None, 2]])
    case("a block lists one id more than it has checksums",
         lambda l: block(l, 2)["row_ids"].append(23), [U, ["block_modified", None, 2]])
    case("a block's checksums cut short (its last row is then in no block)",
         lambda l: block(l, 2).update(row_checksums=block(l, 2)["row_checksums"][:2 * 86]),
         [U, ["block_modified", None, 2], ["forged", 22, None]])
    case("a block lists a NULL id (that row is then in no block)",
         lambda l: block(l, 1)["row_ids"].__setitem__(4, None), [U, ["block_modified", None, 1], ["forged", 5, None]])
    case("the first block deleted (its rows are then in no block)", lambda l: l["blocks"].remove(block(l, 1)),
         [U, ["broken_link", None, 2]] + [["forged", i, None] for i in range(1, 20)])
    d_id, d_hash = digest
    case("a kept digest, intact", lambda l: None, [["ok", None, None]], {"block_id": d_id, "block_hash": d_hash})
    case("a kept digest in upper case, intact", lambda l: None, [["ok", None, None]],
         {"block_id": d_id, "block_hash": d_hash.upper()})
    case("a kept digest whose block was re-sealed with another hash", lambda l: None,
         [U, ["digest_mismatch", None, d_id]], {"block_id": d_id, "block_hash": other_hash(d_hash)})
    case("a kept digest whose block is gone", lambda l: None, [U, ["digest_mismatch", None, 5]],
         {"block_id": 5, "block_hash": d_hash})
    case("a range that leaves out an edited row", lambda l: row(l, 5).update(computed=row(l, 6)["computed"]),
         [["ok", None, None]], None, [20, 24])
    case("a range that holds an edited row", lambda l: row(l, 5).update(computed=row(l, 6)["computed"]),
         [["modified", 5, 1]], None, [1, 19])
    case("a row forged with a huge id (one row: one more row to check, not 4e12 passes)",
         lambda l: l["rows"].append({"id": 4 * 10**18, "tx_id": 776, "stored": "cd" * 32, "computed": "cd" * 32}),
         [U, ["forged", 4 * 10**18, None]])
    case("a row forged with a negative id",
         lambda l: l["rows"].append({"id": -5, "tx_id": 776, "stored": "cd" * 32, "computed": "cd" * 32}),
         [U, ["forged", -5, None]])
    case("checksums swapped between rows 3 and 20, one pass", lambda l: swap_checksums(l, 3, 20),
         [U, ["moved", 3, 1], ["moved", 20, 2]])
    case("checksums swapped between rows 3 and 20, passes of 10 rows (each pass knows its own leaves)",
         lambda l: swap_checksums(l, 3, 20), [U, ["modified", 3, 1], ["modified", 20, 2]], pass_rows=10)
    case("a sealed row deleted, passes of 10 rows", lambda l: l["rows"].remove(row(l, 10)),
         [U, ["deleted", 10, 1]], pass_rows=10)
    return out


def main():
    log = list(v.read_log(os.path.join(HERE, "ledger.audit_log")))
    log_v2 = list(v.read_log(os.path.join(HERE, "ledger_v2.audit_log")))
    block_rows = list(v.read_copy(os.path.join(HERE, "ledger.audit_block"), len(v.AUDIT_BLOCK_COLUMNS)))
    blocks = [v.Block.from_copy(b) for b in block_rows]
    with open(os.path.join(HERE, "ledger.digest.json"), "rb") as f:
        digest = v.parse_digest(f.read().decode("utf-8"))
    outputs = {
        "rows.json": {"forms": ["lead_audit:row:v1", "lead_audit:row:v2"], "rows": row_vectors(log + log_v2)},
        "blocks.json": {"form": "lead_audit:block:v1", "blocks": block_vectors(blocks)},
        "ledger.json": {"cases": cases(decoded(blocks, log), digest)},
    }
    check = sys.argv[1:] == ["--check"]
    stale = []
    for name, data in outputs.items():
        text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
        path = os.path.join(HERE, name)
        if check:
            with open(path, encoding="utf-8") as f:
                if f.read() != text:
                    stale.append(name)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    if stale:
        sys.exit(f"out of date (run tests/vectors/make_vectors.py): {', '.join(stale)}")


if __name__ == "__main__":
    main()
