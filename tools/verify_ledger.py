#!/usr/bin/env python3
"""Verify a lead_audit ledger outside the database.

Recomputes every audit row's checksum and every block of the hash chain from
the output of

    COPY audit_log TO STDOUT      (in a session with TimeZone = 'UTC')
    COPY audit_block TO STDOUT

using only Python's standard library, and reports problems with the same
statuses and ids as the SQL function verify_audit():

    python3 tools/verify_ledger.py audit_log.copy audit_block.copy [--digest JSON_OR_FILE]

Prints one line per finding, "status<TAB>audit_id<TAB>block_id<TAB>detail",
then a summary line. Exit status: 0 intact, 1 problems found, 2 bad input.
The forms are documented in the README ("Tamper evidence").
"""

import argparse
import datetime
import hashlib
import json
import os
import re
import sys

ROW_PREFIX = b"lead_audit:row:v1\n"
BLOCK_PREFIX = b"lead_audit:block:v1\n"
AUDIT_LOG_COLUMNS = 19  # id ... application_name, checksum
AUDIT_BLOCK_COLUMNS = 12
EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()


class BadInput(Exception):
    pass


_ESCAPES = {ord("b"): b"\b", ord("f"): b"\f", ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("v"): b"\v"}


def unescape(field):
    """One field of COPY's text format (bytes, without the tabs) -> bytes, or None for \\N."""
    if field == b"\\N":
        return None
    if b"\\" not in field:
        return field
    out = bytearray()
    i, n = 0, len(field)
    while i < n:
        c = field[i]
        if c != 0x5C:  # backslash
            out.append(c)
            i += 1
            continue
        i += 1
        if i >= n:
            raise BadInput("a field ends with a lone backslash")
        c = field[i]
        if c in _ESCAPES:
            out += _ESCAPES[c]
            i += 1
        elif 0x30 <= c <= 0x37:  # \ooo
            j = i
            while j < n and j < i + 3 and 0x30 <= field[j] <= 0x37:
                j += 1
            out.append(int(field[i:j], 8) & 0xFF)
            i = j
        elif c == ord("x") and i + 1 < n and chr(field[i + 1]) in "0123456789abcdefABCDEF":
            j = i + 1
            while j < n and j < i + 3 and chr(field[j]) in "0123456789abcdefABCDEF":
                j += 1
            out.append(int(field[i + 1:j], 16))
            i = j
        else:
            out.append(c)
            i += 1
    return bytes(out)


def read_copy(path, columns):
    rows = []
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip(b"\n")
            if line == b"\\.":
                break
            fields = line.split(b"\t")
            if len(fields) != columns:
                raise BadInput(f"{path}:{lineno}: {len(fields)} fields, expected {columns}")
            rows.append([unescape(x) for x in fields])
    return rows


_TS = re.compile(
    rb"^(\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?$"
)


def timestamptz_us(text):
    """A timestamptz as COPY prints it (ISO DateStyle, any offset) -> microseconds since the Unix epoch."""
    m = _TS.match(text)
    if not m:
        raise BadInput(f"cannot read timestamp {text!r} (use TimeZone = 'UTC' and DateStyle = 'ISO')")
    y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
    frac = int((m.group(7) or b"0").ljust(6, b"0"))
    sign = 1 if m.group(8) == b"+" else -1
    offset = int(m.group(9)) * 3600 + int(m.group(10) or 0) * 60 + int(m.group(11) or 0)
    days = datetime.date(y, mo, d).toordinal() - EPOCH_ORDINAL
    seconds = days * 86400 + h * 3600 + mi * 60 + s - sign * offset
    return seconds * 1_000_000 + frac


def bytea(text):
    if text is None or not text.startswith(b"\\x"):
        raise BadInput(f"not a hex bytea: {text!r}")
    return bytes.fromhex(text[2:].decode())


def field(value):
    return b"~" if value is None else str(len(value)).encode() + b":" + value


def row_checksum(row):
    """SHA-256 of the canonical form of an audit_log row (all columns but checksum)."""
    parts = [ROW_PREFIX]
    for i, value in enumerate(row[:AUDIT_LOG_COLUMNS - 1]):
        if i == 2 and value is not None:  # logged_at
            value = str(timestamptz_us(value)).encode()
        parts.append(field(value))
    return hashlib.sha256(b"".join(parts)).digest()


def rows_hash(leaves):
    h = hashlib.sha256()
    for audit_id, checksum in leaves:
        h.update(b"%d:%s\n" % (audit_id, checksum.hex().encode()))
    return h.digest()


def block_hash(b):
    fields = [b["id"], b["from_xid"], b["to_xid"], b["first_id"], b["last_id"], b["row_count"],
              b["rows_hash"].hex(), b["prev_hash"].hex(), b["sealed_at_us"]]
    return hashlib.sha256(BLOCK_PREFIX + b"".join(field(str(f).encode()) for f in fields)).digest()


def parse_block(r):
    ids = [int(x) for x in r[7].decode().strip("{}").split(",") if x]
    sums = bytea(r[8])
    return {
        "id": int(r[0]), "sealed_at_us": timestamptz_us(r[1]), "from_xid": int(r[2]), "to_xid": int(r[3]),
        "first_id": int(r[4]), "last_id": int(r[5]), "row_count": int(r[6]),
        "leaves": [(ids[i], sums[32 * i:32 * i + 32]) for i in range(len(ids))], "leaf_bytes": len(sums),
        "rows_hash": bytea(r[9]), "prev_hash": bytea(r[10]), "block_hash": bytea(r[11]),
    }


def verify(log_rows, block_rows, digest=None):
    """Returns (findings, summary); a finding is (status, audit_id, block_id, detail)."""
    findings = []
    blocks = sorted((parse_block(r) for r in block_rows), key=lambda b: b["id"])

    prev = None
    for b in blocks:
        expected_id = prev["id"] + 1 if prev else 1
        expected_prev = prev["block_hash"] if prev else bytes(32)
        if b["id"] != expected_id:
            findings.append(("broken_link", None, b["id"], f"block {b['id']} follows block {expected_id - 1}: blocks are missing"))
        elif b["prev_hash"] != expected_prev:
            findings.append(("broken_link", None, b["id"], f"block {b['id']} does not link to the hash of block {expected_id - 1}"))
        if block_hash(b) != b["block_hash"]:
            findings.append(("block_modified", None, b["id"], f"block {b['id']}'s hash does not match its content"))
        leaves = b["leaves"]
        ids = [i for i, _ in leaves]
        if (ids != sorted(set(ids)) or not leaves or ids[0] != b["first_id"] or ids[-1] != b["last_id"]
                or len(leaves) != b["row_count"] or b["leaf_bytes"] != 32 * len(leaves)
                or rows_hash(leaves) != b["rows_hash"]):
            findings.append(("block_modified", None, b["id"], f"block {b['id']}'s rows do not match its rows_hash"))
        prev = b

    if digest is not None:
        did, dhash = digest.get("block_id"), str(digest.get("block_hash", "")).lower()
        match = [b for b in blocks if b["id"] == did]
        if not match:
            findings.append(("digest_mismatch", None, did, f"block {did} of the digest is no longer in the chain"))
        elif match[0]["block_hash"].hex() != dhash or block_hash(match[0]) != match[0]["block_hash"]:
            findings.append(("digest_mismatch", None, did, f"block {did} no longer has the digest's hash"))

    horizon = max((b["to_xid"] for b in blocks), default=0)
    expected = {}
    for b in blocks:
        for audit_id, checksum in b["leaves"]:
            expected[audit_id] = (b["id"], checksum)
    by_checksum = {checksum: audit_id for audit_id, (_, checksum) in expected.items()}
    seen = set()
    unsealed = 0
    for r in log_rows:
        audit_id, tx_id = int(r[0]), int(r[1])
        stored = bytea(r[AUDIT_LOG_COLUMNS - 1]) if r[AUDIT_LOG_COLUMNS - 1] is not None else bytes(32)
        computed = row_checksum(r)
        if audit_id in expected:
            seen.add(audit_id)
            block, sealed = expected[audit_id]
            if stored != sealed:
                other = by_checksum.get(stored)
                if other is not None:
                    findings.append(("moved", audit_id, block, f"the row carries the checksum sealed for audit row {other}"))
                else:
                    findings.append(("modified", audit_id, block, "the row's checksum is not the one its block sealed"))
            elif computed != stored:
                findings.append(("modified", audit_id, block, "the row's content does not match its checksum"))
        elif tx_id < horizon:
            findings.append(("forged", audit_id, None, "the row is in the sealed range but no block holds it"))
        else:
            unsealed += 1
            if computed != stored:
                findings.append(("modified", audit_id, None, "the row's content does not match its checksum"))
    for audit_id, (block, _) in expected.items():
        if audit_id not in seen:
            findings.append(("deleted", audit_id, block, "a sealed row is missing"))
    if unsealed and findings:
        findings.append(("unsealed", None, None, f"{unsealed} rows are not sealed yet (audit_seal() seals them)"))
    # verify_audit's order: by audit id, then block id, NULLs first.
    findings.sort(key=lambda f: ((f[1] is not None, f[1] or 0), (f[2] is not None, f[2] or 0)))
    summary = (f"{len(log_rows)} audit rows verified ({len(log_rows) - unsealed} sealed in {len(blocks)} blocks, "
               f"{unsealed} not sealed yet)")
    return findings, summary


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("audit_log", help="file with the output of COPY audit_log TO STDOUT")
    p.add_argument("audit_block", help="file with the output of COPY audit_block TO STDOUT")
    p.add_argument("--digest", help="a digest from audit_digest(): JSON text, or a file holding it")
    args = p.parse_args(argv)
    try:
        digest = None
        if args.digest:
            text = open(args.digest).read() if os.path.exists(args.digest) else args.digest
            digest = json.loads(text)
        findings, summary = verify(read_copy(args.audit_log, AUDIT_LOG_COLUMNS),
                                   read_copy(args.audit_block, AUDIT_BLOCK_COLUMNS), digest)
    except (BadInput, ValueError, OSError) as e:
        print(f"verify_ledger: {e}", file=sys.stderr)
        return 2
    for status, audit_id, block_id, detail in findings:
        print(f"{status}\t{'' if audit_id is None else audit_id}\t{'' if block_id is None else block_id}\t{detail}")
    problems = [f for f in findings if f[0] != "unsealed"]
    if problems:
        print(f"{len(problems)} problems; {summary}")
        return 1
    print(f"ok: {summary}; every checksum, block and link matches")
    return 0


if __name__ == "__main__":
    sys.exit(main())
