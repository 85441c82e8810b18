"""Offline checks of what lead_audit's Merkle tree hands out
(``lead-audit-verify --receipt`` and ``--consistency``).

A receipt (``audit_proof(audit_id)``, C2SP tlog-proof) proves one audit row:
its extra data is the row's canonical form, whose SHA-256 is the row's
checksum, the leaf's entry; the inclusion path leads from that leaf to the
root of a checkpoint the log signed and witnesses cosigned. Checking it needs
only the log's verifier key (``audit_verifier_key()``) and the witnesses'
keys, never the database.

    lead-audit-verify --receipt FILE --log-key VKEY \\
        [--witness-key VKEY ...] [--quorum N] [--origin ORIGIN]
    lead-audit-verify --consistency OLD_CHECKPOINT NEW_CHECKPOINT PROOF_FILE --log-key VKEY

The consistency proof file holds one base64 hash per line, as
``audit_consistency(old, new)`` gives them (``encode(h, 'base64')``).
Exit status: 0 proven, 1 rejected (the reason is printed), 2 bad input.
"""

import argparse
import base64
import binascii
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import tlog
from .verify import AUDIT_LOG_COLUMNS, ROW_PREFIX, ROW_V2_PREFIX


class Rejected(Exception):
    """A well-formed receipt or proof that does not prove what it says."""


def decode_row(form: bytes) -> dict[str, str | None]:
    """The columns of an audit row from its canonical form (row v1 or v2):
    each field is '~' (NULL) or '<length>:<bytes>'."""
    if form.startswith(ROW_V2_PREFIX):
        names = [c for c in AUDIT_LOG_COLUMNS if c != "checksum"]
        rest = form[len(ROW_V2_PREFIX):]
    elif form.startswith(ROW_PREFIX):
        names = [c for c in AUDIT_LOG_COLUMNS[:AUDIT_LOG_COLUMNS.index("checksum")]]
        rest = form[len(ROW_PREFIX):]
    else:
        raise tlog.FormatError("the receipt's row is not a lead_audit row form")
    values: dict[str, str | None] = {}
    for name in names:
        if rest.startswith(b"~"):
            values[name] = None
            rest = rest[1:]
            continue
        length, colon, rest = rest.partition(b":")
        if not colon or not length.isdigit() or len(length) > 10 or int(length) > len(rest):
            raise tlog.FormatError(f"the receipt's row form is cut at {name}")
        n = int(length)
        try:
            values[name] = rest[:n].decode("utf-8")
        except UnicodeDecodeError:
            raise tlog.FormatError(f"the receipt's row has a {name} that is not UTF-8") from None
        rest = rest[n:]
    if rest:
        raise tlog.FormatError("the receipt's row form has bytes after its last field")
    return values


@dataclass
class Proven:
    index: int
    checkpoint: tlog.Checkpoint
    cosigned_by: list[str]
    checksum: bytes
    row: dict[str, str | None]


def check_witnesses(note: tlog.Note, witnesses: Sequence[tlog.VerifierKey], quorum: int) -> list[str]:
    cosigned = [w.name for w in witnesses if note.signed_by(w)]
    if len(cosigned) < quorum:
        raise Rejected(
            f"{len(cosigned)} of the {len(witnesses)} witnesses cosigned the checkpoint; the quorum is {quorum}")
    return cosigned


def verify_receipt(
    text: str,
    log_key: tlog.VerifierKey,
    witnesses: Sequence[tlog.VerifierKey] = (),
    quorum: int = 0,
    origin: str | None = None,
) -> Proven:
    receipt = tlog.Receipt.parse(text)
    if receipt.extra is None:
        raise tlog.FormatError("the receipt carries no row (no extra line)")
    if not receipt.note.signed_by(log_key):
        raise Rejected("the checkpoint is not signed by the log's key")
    if origin is not None and receipt.checkpoint.origin != origin:
        raise Rejected(f"the checkpoint is of the log {receipt.checkpoint.origin!r}, not {origin!r}")
    cosigned = check_witnesses(receipt.note, witnesses, quorum)
    checksum = hashlib.sha256(receipt.extra).digest()
    if not tlog.verify_inclusion(receipt.index, receipt.checkpoint.size, tlog.leaf_hash(checksum),
                                 receipt.path, receipt.checkpoint.root):
        raise Rejected(
            f"the row is not leaf {receipt.index} of the tree of {receipt.checkpoint.size} the checkpoint signs: "
            "the inclusion path does not lead to its root")
    return Proven(receipt.index, receipt.checkpoint, cosigned, checksum, decode_row(receipt.extra))


def verify_consistency(old: str, new: str, proof: Sequence[bytes], log_key: tlog.VerifierKey) -> None:
    notes = [tlog.Note.parse(t) for t in (old, new)]
    for which, note in zip(("old", "new"), notes):
        if not note.signed_by(log_key):
            raise Rejected(f"the {which} checkpoint is not signed by the log's key")
    a, b = (tlog.Checkpoint.parse(n.text) for n in notes)
    if a.origin != b.origin:
        raise Rejected(f"the checkpoints are of two logs: {a.origin!r} and {b.origin!r}")
    if not tlog.verify_consistency(a.size, b.size, a.root, b.root, proof):
        raise Rejected(f"the tree of {b.size} does not extend the tree of {a.size}: the proof does not hold")


def read_proof_lines(text: str) -> list[bytes]:
    out = []
    for line in text.split():
        try:
            out.append(base64.b64decode(line, validate=True))
        except (binascii.Error, ValueError):
            raise tlog.FormatError(f"a consistency proof line is not base64: {line[:40]!r}") from None
    if len(out) > 64:
        raise tlog.FormatError("a consistency proof has at most 64 hashes")
    return out


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def _key(text: str) -> tlog.VerifierKey:
    return tlog.VerifierKey.parse(_read(text) if "+" not in text else text)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="lead-audit-verify",
        description="Check a lead_audit receipt (audit_proof) or consistency proof offline.",
        epilog="Exit status: 0 proven, 1 rejected, 2 bad input or usage.")
    p.add_argument("--receipt", metavar="FILE", help="a receipt from audit_proof(audit_id)")
    p.add_argument("--consistency", nargs=3, metavar=("OLD", "NEW", "PROOF"),
                   help="two signed checkpoints and the consistency proof between them (files)")
    p.add_argument("--log-key", required=True, metavar="VKEY",
                   help="the log's verifier key (audit_verifier_key()), or a file holding it")
    p.add_argument("--witness-key", action="append", default=[], metavar="VKEY",
                   help="a trusted witness's cosigner key (or a file); repeat for each witness")
    p.add_argument("--quorum", type=int, default=None,
                   help="cosignatures needed (default: every --witness-key)")
    p.add_argument("--origin", help="the log's origin the checkpoint must name")
    args = p.parse_args(argv)
    if (args.receipt is None) == (args.consistency is None):
        p.error("give --receipt or --consistency")
    try:
        log_key = _key(args.log_key)
        witnesses = [_key(w) for w in args.witness_key]
        quorum = len(witnesses) if args.quorum is None else args.quorum
        if not 0 <= quorum <= len(witnesses):
            raise tlog.FormatError(f"--quorum must be between 0 and the {len(witnesses)} witness keys")
        if args.receipt is not None:
            proven = verify_receipt(_read(args.receipt), log_key, witnesses, quorum, args.origin)
            out: dict[str, Any] = {
                "proven": True,
                "log": proven.checkpoint.origin,
                "tree_size": proven.checkpoint.size,
                "index": proven.index,
                "cosigned_by": proven.cosigned_by,
                "checksum": proven.checksum.hex(),
                "row": proven.row,
            }
            print(json.dumps(out, indent=1, ensure_ascii=False))
        else:
            old, new, proof = args.consistency
            verify_consistency(_read(old), _read(new), read_proof_lines(_read(proof)), log_key)
            print("proven: the new checkpoint's tree extends the old one's")
    except Rejected as e:
        print(f"rejected: {e}")
        return 1
    except (tlog.FormatError, OSError, UnicodeDecodeError) as e:
        print(f"lead-audit-verify: {e}", file=sys.stderr)
        return 2
    return 0
