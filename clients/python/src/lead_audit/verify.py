"""Verify a lead_audit ledger outside the database (``lead-audit-verify``).

Recomputes every audit row's checksum and every block of the hash chain from
the output of

    COPY audit_log TO STDOUT
    COPY audit_block TO STDOUT

(PostgreSQL's COPY text format, with DateStyle ISO; any TimeZone) using only
Python's standard library, and reports problems with the same statuses and ids
as the SQL function verify_audit():

    lead-audit-verify audit_log.copy audit_block.copy \\
        [--digest JSON_OR_FILE] [--from-id N] [--to-id N]

Receipts (audit_proof) and consistency proofs are checked with
``--receipt`` and ``--consistency`` (lead_audit.receipts).

It also takes the same COPY output from a database itself, in one read-only
snapshot (needs psycopg: ``pip install 'lead-audit[verify]'``):

    lead-audit-verify --connect "host=... dbname=..." [--digest ...]

Without the package installed, ``python3 -m lead_audit.verify`` with the
package's ``src`` folder on PYTHONPATH runs the same (file mode).

Prints one line per finding, "status<TAB>audit_id<TAB>block_id<TAB>detail"
(an empty field for NULL), in verify_audit()'s order, then a summary line.
Exit status: 0 intact, 1 problems found, 2 bad input or usage.

The forms are documented in docs/canonical-forms.md and src/forms/; the
checks and statuses follow src/ledger/classify.rs rule for rule. Both implementations answer to the golden vectors in
tests/vectors/ (clients/python/tests/test_verify.py reads them): nothing malformed is
read as zeros; a hash that is not 32 bytes, a block whose lists disagree or a
seal time that is not finite is a finding.
"""

import argparse
import bisect
import decimal
import functools
import hashlib
import json
import os
import re
import sys
import traceback
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

ROW_PREFIX = b"lead_audit:row:v1\n"  # rows without an outcome (written by 0.1.0)
ROW_V2_PREFIX = b"lead_audit:row:v2\n"  # rows with an outcome (since 0.2.0)
BLOCK_PREFIX = b"lead_audit:block:v1\n"

AUDIT_LOG_COLUMNS = (
    "id", "tx_id", "logged_at", "table_oid", "table_name", "action", "soft_delete", "record_pk",
    "old_values", "new_values", "changed_columns", "actor_id", "client_ip", "user_agent",
    "request_id", "context", "db_user", "application_name", "checksum", "outcome", "error",
)
# audit_log as 0.1.0 made it: up to checksum. Its COPY output still verifies.
AUDIT_LOG_COLUMNS_V1 = AUDIT_LOG_COLUMNS[:AUDIT_LOG_COLUMNS.index("outcome")]
AUDIT_BLOCK_COLUMNS = (
    "id", "sealed_at", "from_xid", "to_xid", "first_id", "last_id", "row_count", "row_ids",
    "row_checksums", "rows_hash", "prev_hash", "block_hash",
)
LOGGED_AT = AUDIT_LOG_COLUMNS.index("logged_at")
CHECKSUM = AUDIT_LOG_COLUMNS.index("checksum")
OUTCOME = AUDIT_LOG_COLUMNS.index("outcome")

# verify_audit() checks the log in passes of this many rows (src/ledger/classify.rs,
# PASS_ROWS; lead_audit.verify_pass_rows); a few statuses depend on the passes, so
# we cut the same (--pass-rows).
PASS_ROWS = 1_000_000
I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1
ZERO_HASH = bytes(32)
# Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
PG_EPOCH_OFFSET_US = 946_684_800_000_000


Field = bytes | None  # one COPY field, unescaped; None for NULL
Finding = tuple[str, "int | None", "int | None", str]  # status, audit_id, block_id, detail
Range = tuple[int, int]
Leaf = tuple[int, bytes]  # audit id, sealed checksum
Digest = tuple[int, str]  # block id, lowercase hex block hash


class BadInput(Exception):
    """Input the verifier cannot read (exit status 2)."""


# ---------------------------------------------------------------------------
# COPY text format
# ---------------------------------------------------------------------------

_SIMPLE_ESCAPES = {
    ord("b"): 0x08, ord("f"): 0x0C, ord("n"): 0x0A, ord("r"): 0x0D, ord("t"): 0x09, ord("v"): 0x0B,
}
_OCTAL = frozenset(b"01234567")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_HEX_DIGITS = re.compile(rb"(?:[0-9a-fA-F]{2})*")


def unescape(field: bytes) -> bytes | None:
    """One field of COPY's text format (bytes, between the tabs) -> its bytes, or None for \\N.

    As PostgreSQL's COPY FROM reads it: \\b \\f \\n \\r \\t \\v, \\ooo (1-3 octal
    digits), \\xhh (1-2 hex digits); a backslash before any other character
    stands for that character. Bytes, not characters: an octal or hex escape
    may produce one byte of a multibyte UTF-8 sequence.
    """
    if field == b"\\N":
        return None
    if b"\\" not in field:
        return field
    out = bytearray()
    i, n = 0, len(field)
    while i < n:
        c = field[i]
        if c != 0x5C:  # not a backslash
            j = field.find(b"\\", i)
            j = n if j < 0 else j
            out += field[i:j]
            i = j
            continue
        i += 1
        if i >= n:
            raise BadInput("a field ends with a lone backslash")
        c = field[i]
        if c in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[c])
            i += 1
        elif c in _OCTAL:
            j = i + 1
            while j < n and j < i + 3 and field[j] in _OCTAL:
                j += 1
            out.append(int(field[i:j], 8) & 0xFF)
            i = j
        elif c == ord("x") and i + 1 < n and field[i + 1] in _HEX:
            j = i + 2
            if j < n and field[j] in _HEX:
                j += 1
            out.append(int(field[i + 1:j], 16))
            i = j
        else:
            out.append(c)
            i += 1
    return bytes(out)


def parse_copy_line(line: bytes, ncolumns: int, where: str = "line", fewer: int | None = None) -> list[Field]:
    """One line of COPY text output (without its newline) -> list of bytes|None.

    `fewer`: a shorter field count also accepted (an older table shape), the
    missing trailing fields read as NULL. Every field is unescaped, then must
    be valid UTF-8 (the line is checked whole after unescaping: escapes may
    split a character's bytes)."""
    raw = line.split(b"\t")
    if len(raw) != ncolumns and len(raw) != fewer:
        expected = ncolumns if fewer is None else f"{fewer} or {ncolumns}"
        raise BadInput(f"{where}: {len(raw)} fields, expected {expected}")
    fields = [unescape(f) for f in raw] + [None] * (ncolumns - len(raw))
    try:
        b"\t".join(f for f in fields if f is not None).decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadInput(f"{where}: not valid UTF-8 ({e.reason} at byte {e.start})") from None
    return fields


def parse_copy(lines: Iterable[bytes], ncolumns: int, where: str, fewer: int | None = None) -> Iterator[list[Field]]:
    """Yields the rows of COPY text output, given line by line (a generator)."""
    for lineno, line in enumerate(lines, 1):
        if line.endswith(b"\n"):
            line = line[:-1]
        if line == b"\\.":  # end-of-data marker, if the dump has one
            break
        yield parse_copy_line(line, ncolumns, f"{where}:{lineno}", fewer)


def read_copy(path: str, ncolumns: int, fewer: int | None = None) -> Iterator[list[Field]]:
    """Yields the rows of a COPY text file (a generator: the file is not held in memory)."""
    with open(path, "rb") as f:
        yield from parse_copy(f, ncolumns, path, fewer)


def read_log(path: str) -> Iterator[list[Field]]:
    """audit_log's COPY output, in today's shape or 0.1.0's."""
    return read_copy(path, len(AUDIT_LOG_COLUMNS), len(AUDIT_LOG_COLUMNS_V1))


def split_lines(chunks: Iterable[bytes | bytearray | memoryview]) -> Iterator[bytes]:
    """COPY data arriving in chunks of any size -> its lines (each with its newline)."""
    rest = b""
    for chunk in chunks:
        data = rest + bytes(chunk)
        lines = data.split(b"\n")
        rest = lines.pop()
        for line in lines:
            yield line + b"\n"
    if rest:
        yield rest


# ---------------------------------------------------------------------------
# Values as PostgreSQL prints them
# ---------------------------------------------------------------------------

_INT = re.compile(rb"-?[0-9]+")


def parse_int(text: bytes | None, what: str = "integer") -> int:
    """A bigint/oid as PostgreSQL prints it (strict: no spaces, no '+', no '_')."""
    if text is None or not _INT.fullmatch(text):
        raise BadInput(f"{what}: not an integer: {text!r}")
    return int(text)


_TIMESTAMPTZ = re.compile(
    rb"(?P<y>[0-9]{4,})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})[ T]"
    rb"(?P<h>[0-9]{2}):(?P<mi>[0-9]{2}):(?P<s>[0-9]{2})(?:\.(?P<f>[0-9]{1,6}))?"
    rb"(?P<sign>[+-])(?P<oh>[0-9]{2})(?::?(?P<om>[0-9]{2})(?::?(?P<os>[0-9]{2}))?)?"
    rb"(?P<bc> BC)?"
)


def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (astronomical year: 0 = 1 BC)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _days_in_month(y: int, m: int) -> int:
    if m == 2:
        return 29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28
    return 30 if m in (4, 6, 9, 11) else 31


@functools.lru_cache(maxsize=4096)  # the rows of one transaction share logged_at
def timestamptz_us(text: bytes | None) -> int:
    """A timestamptz as PostgreSQL prints it in DateStyle ISO, with any numeric
    offset (+00, +05:30, -08, +05:53:28, ... BC) -> microseconds since the Unix
    epoch, exactly (integer arithmetic only). 'infinity' and '-infinity' give
    PostgreSQL's internal values shifted to the Unix epoch (64-bit wrap-around,
    as the extension computes them)."""
    if text in (b"infinity", b"-infinity"):
        internal = I64_MAX if text == b"infinity" else I64_MIN
        return wrap_i64(internal + PG_EPOCH_OFFSET_US)
    m = _TIMESTAMPTZ.fullmatch(text or b"")
    if not m:
        raise BadInput(f"cannot read timestamp {text!r} (dump with DateStyle = 'ISO')")
    y, mo, d, h, mi, s = (int(m.group(k)) for k in ("y", "mo", "d", "h", "mi", "s"))
    if m.group("bc"):
        y = 1 - y
    if not (1 <= mo <= 12 and 1 <= d <= _days_in_month(y, mo) and h <= 23 and mi <= 59 and s <= 59):
        raise BadInput(f"not a valid timestamp: {text!r}")
    frac = int((m.group("f") or b"0").ljust(6, b"0"))
    offset = int(m.group("oh")) * 3600 + int(m.group("om") or 0) * 60 + int(m.group("os") or 0)
    if m.group("sign") == b"-":
        offset = -offset
    seconds = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset
    return seconds * 1_000_000 + frac


def wrap_i64(v: int) -> int:
    """v as a two's complement 64-bit integer (Rust's wrapping arithmetic)."""
    return (v + (1 << 63)) % (1 << 64) - (1 << 63)


def parse_bytea(text: bytes | None, what: str = "bytea") -> bytes:
    """A bytea as PostgreSQL prints it: hex (\\x0a1b...) or escape format."""
    if text is None:
        raise BadInput(f"{what}: NULL")
    if text.startswith(b"\\x"):
        digits = text[2:]
        if not _HEX_DIGITS.fullmatch(digits):
            raise BadInput(f"{what}: bad hex bytea {text[:80]!r}")
        return bytes.fromhex(digits.decode("ascii"))
    out = bytearray()  # bytea_output = 'escape': \\ and \ooo
    i, n = 0, len(text)
    while i < n:
        if text[i] != 0x5C:
            out.append(text[i])
            i += 1
        elif text[i + 1:i + 2] == b"\\":
            out.append(0x5C)
            i += 2
        elif len(text[i + 1:i + 4]) == 3 and all(c in _OCTAL for c in text[i + 1:i + 4]):
            out.append(int(text[i + 1:i + 4], 8) & 0xFF)
            i += 4
        else:
            raise BadInput(f"{what}: bad escaped bytea {text[:80]!r}")
    return bytes(out)


_INT_ARRAY = re.compile(rb"(?:(?:\[-?[0-9]+:-?[0-9]+\])+=)?(\{[-0-9,{}A-Za-z]*\})")


def parse_int8_array(text: bytes | None, what: str = "bigint[]") -> list[int | None]:
    """A bigint[] as PostgreSQL prints it ({1,2,3}) -> list of int, None for a NULL
    element. A multidimensional array is read flat, in storage order, as
    verify_audit reads it."""
    m = _INT_ARRAY.fullmatch(text or b"")
    body = m.group(1) if m else b""
    if not m or body.count(b"{") != body.count(b"}"):
        raise BadInput(f"{what}: not a bigint array: {(text or b'')[:80]!r}")
    elements = body.replace(b"{", b"").replace(b"}", b"")
    if not elements:
        return []
    return [None if x == b"NULL" else parse_int(x, what) for x in elements.split(b",")]


# ---------------------------------------------------------------------------
# The canonical forms (docs/canonical-forms.md; src/forms/)
# ---------------------------------------------------------------------------

def field(value: bytes | None) -> bytes:
    """'~' for NULL, else '<byte length>:<bytes>'."""
    if value is None:
        return b"~"
    return b"%d:%s" % (len(value), value)


def canonical_row(fields: Sequence[Field]) -> bytes:
    """The canonical form of an audit_log row: fields as COPY gives them (unescaped),
    in table order. A row with an outcome has the form v2 (the 18 columns before
    checksum, then outcome and error); one without, the form v1 (the 18 columns).
    logged_at becomes Unix microseconds."""
    v2 = len(fields) > OUTCOME and fields[OUTCOME] is not None
    covered = list(fields[:CHECKSUM]) + (list(fields[OUTCOME:OUTCOME + 2]) if v2 else [])
    parts = [ROW_V2_PREFIX if v2 else ROW_PREFIX]
    for i, value in enumerate(covered):
        if i == LOGGED_AT and value is not None:
            value = b"%d" % timestamptz_us(value)
        parts.append(field(value))
    return b"".join(parts)


def row_checksum(fields: Sequence[Field]) -> bytes:
    return hashlib.sha256(canonical_row(fields)).digest()


def rows_hash(leaves: Iterable[Leaf]) -> bytes:
    """SHA-256 over "<id>:<hex checksum>\\n" for each (id, checksum), in the given order."""
    h = hashlib.sha256()
    for audit_id, checksum in leaves:
        h.update(b"%d:%s\n" % (audit_id, checksum.hex().encode()))
    return h.digest()


def block_canonical(block_id: int, from_xid: int, to_xid: int, first_id: int, last_id: int, row_count: int,
                    rows_hash_: bytes, prev_hash: bytes, sealed_at_us: int) -> bytes:
    values = [b"%d" % v for v in (block_id, from_xid, to_xid, first_id, last_id, row_count)]
    values += [rows_hash_.hex().encode(), prev_hash.hex().encode(), b"%d" % sealed_at_us]
    return BLOCK_PREFIX + b"".join(field(v) for v in values)


# ---------------------------------------------------------------------------
# The ledger
# ---------------------------------------------------------------------------

def hash32(value: bytes | None) -> bytes | None:
    """Exactly 32 bytes, or None (a stored hash or checksum of another length)."""
    return value if value is not None and len(value) == 32 else None


class Block:
    """One audit_block row as stored: hashes of whatever length they have, ids
    and checksums as listed (src/ledger/block.rs, StoredBlock)."""

    def __init__(self, block_id: int, from_xid: int, to_xid: int, first_id: int, last_id: int, row_count: int,
                 sealed_at_us: int | None, rows_hash_: bytes, prev_hash: bytes, block_hash: bytes,
                 row_ids: list[int | None], row_checksums: bytes) -> None:
        self.id, self.from_xid, self.to_xid = block_id, from_xid, to_xid
        self.first_id, self.last_id, self.row_count = first_id, last_id, row_count
        self.sealed_at_us = sealed_at_us  # None: not a finite time
        self.rows_hash, self.prev_hash, self.block_hash = rows_hash_, prev_hash, block_hash
        self.row_ids = row_ids  # list of int|None
        self.row_checksums = row_checksums  # bytes

    @classmethod
    def from_copy(cls, fields: Sequence[Field], where: str = "audit_block") -> "Block":
        (bid, sealed_at, from_xid, to_xid, first_id, last_id, row_count, row_ids, row_checksums,
         rows_hash_, prev_hash, block_hash) = fields
        block_id = parse_int(bid, f"{where}: id")
        if sealed_at in (b"infinity", b"-infinity"):
            sealed_at_us = None
        else:
            sealed_at_us = timestamptz_us(sealed_at)
            if not I64_MIN <= sealed_at_us <= I64_MAX:
                raise BadInput(f"{where}: block {block_id}: sealed_at {sealed_at!r} is out of range")
        return cls(block_id, parse_int(from_xid, f"{where}: from_xid"), parse_int(to_xid, f"{where}: to_xid"),
                   parse_int(first_id, f"{where}: first_id"), parse_int(last_id, f"{where}: last_id"),
                   parse_int(row_count, f"{where}: row_count"), sealed_at_us,
                   parse_bytea(rows_hash_, f"{where}: rows_hash"), parse_bytea(prev_hash, f"{where}: prev_hash"),
                   parse_bytea(block_hash, f"{where}: block_hash"),
                   parse_int8_array(row_ids, f"{where}: row_ids"), parse_bytea(row_checksums, f"{where}: row_checksums"))

    @classmethod
    def from_vector(cls, d: dict[str, Any]) -> "Block":
        """A block of tests/vectors/ledger.json (hashes and checksums in hex)."""
        return cls(d["id"], d["from_xid"], d["to_xid"], d["first_id"], d["last_id"], d["row_count"],
                   d["sealed_at_us"], bytes.fromhex(d["rows_hash"]), bytes.fromhex(d["prev_hash"]),
                   bytes.fromhex(d["block_hash"]), d["row_ids"], bytes.fromhex(d["row_checksums"]))

    def header_ok(self) -> bool:
        """Every part the block's hash covers is well formed."""
        return (self.sealed_at_us is not None and hash32(self.rows_hash) is not None
                and hash32(self.prev_hash) is not None)

    def canonical(self) -> bytes:
        if self.sealed_at_us is None:  # header_ok() is false: nothing to hash
            raise BadInput(f"block {self.id}: sealed_at is not a finite time")
        return block_canonical(self.id, self.from_xid, self.to_xid, self.first_id, self.last_id,
                               self.row_count, self.rows_hash, self.prev_hash, self.sealed_at_us)

    def computed_hash(self) -> bytes:
        return hashlib.sha256(self.canonical()).digest()

    def hash_matches(self) -> bool:
        return self.header_ok() and self.computed_hash() == self.block_hash

    def leaves(self) -> list[Leaf] | None:
        """The leaves when the lists agree (no NULL id, 32 bytes per id), else None."""
        ids, sums = self.row_ids, self.row_checksums
        whole = [i for i in ids if i is not None]
        if len(sums) != 32 * len(ids) or len(whole) != len(ids):
            return None
        return [(audit_id, sums[32 * n:32 * n + 32]) for n, audit_id in enumerate(whole)]

    def listed_leaves(self) -> list[Leaf]:
        """(id, checksum) as far as the lists agree: each non-NULL id with the whole
        32 bytes at its position; what rows are matched against."""
        whole = len(self.row_checksums) // 32
        return [(audit_id, self.row_checksums[32 * n:32 * n + 32])
                for n, audit_id in enumerate(self.row_ids[:whole]) if audit_id is not None]

    def leaves_match(self) -> bool:
        leaves = self.leaves()
        if leaves is None:
            return False
        ids = [i for i, _ in leaves]
        return (all(a < b for a, b in zip(ids, ids[1:])) and bool(ids) and ids[0] == self.first_id
                and ids[-1] == self.last_id and len(ids) == self.row_count
                and rows_hash(leaves) == self.rows_hash)


class LogRow:
    """What the checks need of one audit_log row: id, tx_id, stored and recomputed checksums."""

    __slots__ = ("id", "tx_id", "stored", "computed")

    def __init__(self, audit_id: int, tx_id: int, stored: bytes | None, computed: bytes) -> None:
        self.id, self.tx_id = audit_id, tx_id
        self.stored = hash32(stored)  # None: NULL or not 32 bytes
        self.computed = computed

    @classmethod
    def from_copy(cls, fields: Sequence[Field], where: str = "audit_log") -> "LogRow":
        parse_int(fields[3], f"{where}: table_oid")
        stored = fields[CHECKSUM]
        return cls(parse_int(fields[0], f"{where}: id"), parse_int(fields[1], f"{where}: tx_id"),
                   None if stored is None else parse_bytea(stored, f"{where}: checksum"), row_checksum(fields))

    @classmethod
    def from_vector(cls, d: dict[str, Any]) -> "LogRow":
        stored = d["stored"]
        return cls(d["id"], d["tx_id"], None if stored is None else bytes.fromhex(stored), bytes.fromhex(d["computed"]))


def _jsonb_number(literal: str) -> int | float:
    """A JSON number with a fraction or exponent, as verify_audit sees it once in jsonb:
    a numeric whose scale is max(0, fraction digits - exponent); scale 0 is an integer
    (1e0, 1.50e2), anything else is not (2.0, 20e-1)."""
    m = re.fullmatch(r"-?[0-9]+(?:\.([0-9]*))?(?:[eE]([-+]?[0-9]+))?", literal)
    if m and len(m.group(1) or "") - int(m.group(2) or 0) <= 0:
        return int(decimal.Decimal(literal))
    return float(literal)


def parse_digest(text: str) -> Digest:
    """A digest as audit_digest() returns it -> (block_id, lowercase block_hash)."""
    try:
        d = json.loads(text, parse_float=_jsonb_number)
    except (ValueError, ArithmeticError) as e:
        raise BadInput(f"the digest is not JSON: {e}") from None
    block_id = d.get("block_id") if isinstance(d, dict) else None
    block_hash = d.get("block_hash") if isinstance(d, dict) else None
    if (not isinstance(block_id, int) or isinstance(block_id, bool) or not I64_MIN <= block_id <= I64_MAX
            or not isinstance(block_hash, str)):
        raise BadInput('a digest is a JSON object with "block_id" and "block_hash", as audit_digest() returns')
    # ASCII lowercase only, as verify_audit compares (Rust's to_ascii_lowercase).
    return block_id, "".join(c.lower() if c.isascii() else c for c in block_hash)


def pass_starts(sorted_ids: list[int], rng: Range, every: int) -> list[int]:
    """The ids at positions 0, every, 2 * every, ... of the ids in rng."""
    frm, to = rng
    inside = sorted_ids[bisect.bisect_left(sorted_ids, frm):bisect.bisect_right(sorted_ids, to)]
    return inside[::every]


def passes(starts: list[int], rng: Range) -> list[Range]:
    """verify_audit's id ranges (src/ledger/classify.rs, passes()): the requested
    range cut at the first id of each pass of rows; the first pass begins at the
    range's start, the last ends at its end."""
    frm, to = rng
    if frm > to:
        return []
    out, begin = [], frm
    for nxt in starts[1:]:
        out.append((begin, nxt - 1))
        begin = nxt
    out.append((begin, to))
    return out


def _finding(status: str, audit_id: int | None, block_id: int | None, detail: str) -> Finding:
    return (status, audit_id, block_id, detail)


def check_chain(blocks: list[Block]) -> list[Finding]:
    out: list[Finding] = []
    prev: Block | None = None
    for b in blocks:
        expected_id = prev.id + 1 if prev else 1
        expected_prev = prev.block_hash if prev else ZERO_HASH
        if b.id != expected_id:
            out.append(_finding("broken_link", None, b.id,
                                f"block {b.id} follows block {expected_id - 1}: blocks are missing"))
        elif b.prev_hash != expected_prev:
            out.append(_finding("broken_link", None, b.id,
                                f"block {b.id} does not link to the hash of block {expected_id - 1}"))
        if not b.header_ok():
            out.append(_finding("block_modified", None, b.id,
                                f"block {b.id} is malformed (a hash that is not 32 bytes, "
                                "or a sealed_at that is not a finite time)"))
        elif not b.hash_matches():
            out.append(_finding("block_modified", None, b.id, f"block {b.id}'s hash does not match its content"))
        prev = b
    return out


def check_digest(digest: Digest, blocks: list[Block]) -> list[Finding]:
    block_id, block_hash = digest
    match = next((b for b in blocks if b.id == block_id), None)
    if match is None:
        return [_finding("digest_mismatch", None, block_id,
                         f"block {block_id} of the digest is no longer in the chain")]
    if match.block_hash.hex() != block_hash or not match.hash_matches():
        return [_finding("digest_mismatch", None, block_id, f"block {block_id} no longer has the digest's hash")]
    return []


def check_leaves(block: Block) -> list[Finding]:
    if not block.leaves_match():
        return [_finding("block_modified", None, block.id, f"block {block.id}'s rows do not match its rows_hash")]
    return []


def check_rows(rows: list["LogRow"], blocks: list[Block], rng: Range, horizon: int) -> tuple[list[Finding], int, int]:
    """The rows of one pass against the leaves listed by the blocks it overlaps
    (src/ledger/classify.rs, Matcher). Returns (findings, rows seen, unsealed rows)."""
    frm, to = rng
    entries = sorted(((audit_id, b.id, checksum) for b in blocks for audit_id, checksum in b.listed_leaves()
                      if frm <= audit_id <= to), key=lambda e: e[0])
    index: dict[int, list[int]] = {}
    for n, e in enumerate(entries):
        index.setdefault(e[0], []).append(n)
    seen = [False] * len(entries)
    out, mismatched = [], []
    count = unsealed = 0
    for r in rows:
        count += 1
        same = index.get(r.id, ())
        # the first unseen entry with this id, else the first one
        taken = next((n for n in same if not seen[n]), same[0] if same else None)
        content_ok = r.stored == r.computed
        if taken is not None:
            seen[taken] = True
            _, block_id, sealed = entries[taken]
            if r.stored != sealed:
                mismatched.append((r.id, r.stored, block_id))
            elif not content_ok:
                out.append(_finding("modified", r.id, block_id, "the row's content does not match its checksum"))
        elif r.tx_id < horizon:
            out.append(_finding("forged", r.id, None, "the row is in the sealed range but no block holds it"))
        else:
            unsealed += 1
            if not content_ok:
                out.append(_finding("modified", r.id, None, "the row's content does not match its checksum"))
    if mismatched:
        by_checksum: dict[bytes | None, int] = {}
        for audit_id, _, checksum in entries:
            by_checksum.setdefault(checksum, audit_id)
        for audit_id, stored, block_id in mismatched:
            other = by_checksum.get(stored) if stored is not None else None
            if other is not None:
                out.append(_finding("moved", audit_id, block_id,
                                    f"the row carries the checksum sealed for audit row {other}"))
            else:
                out.append(_finding("modified", audit_id, block_id, "the row's checksum is not the one its block sealed"))
    for n, (audit_id, block_id, _) in enumerate(entries):
        if not seen[n]:
            out.append(_finding("deleted", audit_id, block_id, "a sealed row is missing"))
    return out, count, unsealed


def sort_key(f: Finding) -> tuple[bool, int, bool, int]:
    """verify_audit's order: by audit_id, then block_id, NULLs first (a stable sort)."""
    return (f[1] is not None, f[1] or 0, f[2] is not None, f[2] or 0)


class Result:
    def __init__(self, findings: list[Finding], rows: int, unsealed: int, blocks: int) -> None:
        self.findings, self.rows, self.unsealed, self.blocks = findings, rows, unsealed, blocks

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f[0] != "unsealed"]

    def summary(self) -> str:
        counts = (f"{self.rows} audit rows verified ({self.rows - self.unsealed} sealed in {self.blocks} blocks, "
                  f"{self.unsealed} not sealed yet)")
        if self.problems:
            by_status: dict[str, int] = {}
            for f in self.problems:
                by_status[f[0]] = by_status.get(f[0], 0) + 1
            what = ", ".join(f"{n} {s}" for s, n in by_status.items())
            return f"{len(self.problems)} problems ({what}); {counts}"
        return f"ok: {counts}; every checksum, block and link matches"


def verify(log_rows: Iterable["LogRow | Sequence[Field]"], block_rows: Iterable["Block | Sequence[Field]"],
           digest: Digest | None = None, rng: Range = (I64_MIN, I64_MAX), pass_rows: int = PASS_ROWS) -> "Result":
    """log_rows, block_rows: parsed COPY rows (lists of bytes|None); digest: (block_id, hex) or None.
    Returns a Result whose findings are (status, audit_id, block_id, detail) in verify_audit's order."""
    blocks = [b if isinstance(b, Block) else Block.from_copy(b) for b in block_rows]
    block_ids = [b.id for b in blocks]
    if len(set(block_ids)) != len(block_ids):
        raise BadInput("audit_block: duplicate block ids")
    blocks.sort(key=lambda b: b.id)
    rows = [r if isinstance(r, LogRow) else LogRow.from_copy(r) for r in log_rows]

    findings = check_chain(blocks)
    if digest is not None:
        findings += check_digest(digest, blocks)
    horizon = max((b.to_xid for b in blocks), default=0)
    # verify_audit scans the whole log in table order, a bounded range in id order.
    by_id = sorted(rows, key=lambda r: r.id)
    row_ids = [r.id for r in by_id]
    checked, total, unsealed = set(), 0, 0
    for frm, to in passes(pass_starts(row_ids, rng, max(1, pass_rows)), rng):
        overlapping = [b for b in blocks if b.first_id <= to and b.last_id >= frm]
        for b in overlapping:
            if b.id not in checked:
                checked.add(b.id)
                findings += check_leaves(b)
        if (frm, to) == (I64_MIN, I64_MAX):
            scanned = rows
        else:
            scanned = by_id[bisect.bisect_left(row_ids, frm):bisect.bisect_right(row_ids, to)]
        found, n, u = check_rows(scanned, overlapping, (frm, to), horizon)
        findings += found
        total += n
        unsealed += u
    if findings and unsealed:
        findings.append(_finding("unsealed", None, None,
                                 f"{unsealed} rows are not sealed yet (audit_seal() seals them)"))
    findings.sort(key=sort_key)
    return Result(findings, total, unsealed, len(blocks))


def format_finding(f: Finding) -> str:
    status, audit_id, block_id, detail = f
    return f"{status}\t{'' if audit_id is None else audit_id}\t{'' if block_id is None else block_id}\t{detail}"


def read_digest_arg(arg: str) -> Digest:
    """--digest: a file holding the digest, or the JSON text itself."""
    if os.path.isfile(arg):
        with open(arg, "rb") as f:
            return parse_digest(f.read().decode("utf-8"))
    if arg.lstrip().startswith("{"):
        return parse_digest(arg)
    raise BadInput(f"--digest: no such file, and not a JSON object: {arg!r}")


def read_database(conninfo: str) -> tuple[list[list[Field]], list[list[Field]]]:
    """The COPY output of audit_log and audit_block, read from a database in one
    read-only REPEATABLE READ transaction, so the log and the chain are of the
    same moment. psycopg is imported here only: the file mode needs nothing
    outside the standard library."""
    try:
        import psycopg
        from psycopg import sql
    except ImportError:
        raise BadInput("--connect needs psycopg: pip install 'lead-audit[verify]'") from None
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            conn.execute("SET LOCAL DateStyle = ISO")
            found = conn.execute(
                "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
                " WHERE e.extname = 'lead_audit'").fetchone()
            if found is None:
                raise BadInput("lead_audit is not installed in this database")
            tables = []
            for table, ncolumns, fewer in (("audit_log", len(AUDIT_LOG_COLUMNS), len(AUDIT_LOG_COLUMNS_V1)),
                                           ("audit_block", len(AUDIT_BLOCK_COLUMNS), None)):
                query = sql.SQL("COPY {}.{} TO STDOUT").format(sql.Identifier(found[0]), sql.Identifier(table))
                with conn.cursor().copy(query) as copy:
                    tables.append(list(parse_copy(split_lines(copy), ncolumns, table, fewer)))
            conn.execute("COMMIT")
    except psycopg.Error as e:
        raise BadInput(f"the database: {str(e).strip()}") from None
    return tables[0], tables[1]


def main(argv: Sequence[str] | None = None) -> int:
    args_given = list(sys.argv[1:] if argv is None else argv)
    if "--receipt" in args_given or "--consistency" in args_given:
        from . import receipts  # receipts and consistency proofs: lead_audit.receipts

        return receipts.main(args_given)
    p = argparse.ArgumentParser(
        prog="lead-audit-verify",
        description="Verify a lead_audit ledger outside the database: COPY dumps of audit_log and "
                    "audit_block, or the tables of a database (--connect).",
        epilog="Exit status: 0 intact, 1 problems found, 2 bad input or usage.")
    p.add_argument("audit_log", nargs="?", help="file with the output of COPY audit_log TO STDOUT")
    p.add_argument("audit_block", nargs="?", help="file with the output of COPY audit_block TO STDOUT")
    p.add_argument("--connect", metavar="CONNINFO",
                   help="read both tables from this database instead (a libpq connection string or URI; "
                        "'' for the PG* environment variables); needs psycopg")
    p.add_argument("--digest", metavar="JSON_OR_FILE",
                   help="a digest kept from audit_digest(): its JSON text, or a file holding it")
    p.add_argument("--from-id", type=int, default=I64_MIN, help="verify audit ids from this one (as verify_audit's from_id)")
    p.add_argument("--to-id", type=int, default=I64_MAX, help="verify audit ids up to this one (as verify_audit's to_id)")
    p.add_argument("--pass-rows", type=int, default=PASS_ROWS,
                   help="rows per pass, as lead_audit.verify_pass_rows (for tests; default %(default)s)")
    args = p.parse_args(argv)
    files = (args.audit_log, args.audit_block)
    if (args.connect is None) == (None in files) or (args.connect is not None and files != (None, None)):
        p.error("give the two COPY files, or --connect, not both")
    try:
        digest = read_digest_arg(args.digest) if args.digest is not None else None
        log_copy: Iterable[list[Field]]
        block_copy: Iterable[list[Field]]
        if args.connect is not None:
            log_copy, block_copy = read_database(args.connect)
        else:
            log_copy, block_copy = read_log(args.audit_log), read_copy(args.audit_block, len(AUDIT_BLOCK_COLUMNS))
        log_rows = [LogRow.from_copy(r) for r in log_copy]
        result = verify(log_rows, list(block_copy), digest, (args.from_id, args.to_id), args.pass_rows)
    except (BadInput, OSError, UnicodeDecodeError) as e:
        print(f"lead-audit-verify: {e}", file=sys.stderr)
        return 2
    except Exception:  # a bug here must not read as "problems found" (exit 1)
        traceback.print_exc()
        print("lead-audit-verify: internal error", file=sys.stderr)
        return 2
    out = sys.stdout
    for f in result.findings:
        out.write(format_finding(f) + "\n")
    out.write(result.summary() + "\n")
    out.flush()
    return 1 if result.problems else 0


if __name__ == "__main__":
    sys.exit(main())
