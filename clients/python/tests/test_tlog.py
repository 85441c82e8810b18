"""Unit tests of the transparency-log checks (lead_audit.tlog, lead_audit.receipts):
no database needed.

tests/vectors/merkle.json holds RFC 6962's published vectors and trees,
proofs, a signed checkpoint and a cosignature made by make_merkle.py from
RFC 9162's recursive definitions; lead_audit's Rust answers to the same file.
"""

import base64
import hashlib
import io
import json
import os
import contextlib
import tempfile
import unittest

from lead_audit import receipts, tlog

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "..", "..", "..", "tests", "vectors", "merkle.json")) as f:
    V = json.load(f)
ENTRIES = [bytes.fromhex(e) for e in V["tree"]["entries"]]
LEAVES = [tlog.leaf_hash(e) for e in ENTRIES]
ROOTS = {int(n): bytes.fromhex(r) for n, r in V["tree"]["roots"].items()}


def split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def path(m: int, d: list[bytes]) -> list[bytes]:
    """RFC 9162's PATH(m, D[n]), to make receipts in the tests."""
    if len(d) == 1:
        return []
    k = split(len(d))
    if m < k:
        return path(m, d[:k]) + [tlog.root(d[k:])]
    return path(m - k, d[k:]) + [tlog.root(d[:k])]


class Tree(unittest.TestCase):
    def test_rfc_6962_reference_roots(self) -> None:
        leaves = [tlog.leaf_hash(bytes.fromhex(x)) for x in V["rfc6962"]["leaves"]]
        for n, want in enumerate(V["rfc6962"]["roots"]):
            self.assertEqual(tlog.root(leaves[:n]).hex(), want, n)

    def test_roots(self) -> None:
        for n, r in ROOTS.items():
            self.assertEqual(tlog.root(LEAVES[:n]), r, n)

    def test_inclusion_proofs_verify_and_nothing_else_does(self) -> None:
        for c in V["tree"]["inclusion"]:
            i, n = c["index"], c["size"]
            p = [bytes.fromhex(x) for x in c["path"]]
            self.assertTrue(tlog.verify_inclusion(i, n, LEAVES[i], p, ROOTS[n]), c)
            self.assertFalse(tlog.verify_inclusion(i, n, LEAVES[i], p, ROOTS[n][::-1]))
            self.assertFalse(tlog.verify_inclusion(i, n, tlog.leaf_hash(b"x"), p, ROOTS[n]))
            self.assertFalse(tlog.verify_inclusion(n, n, LEAVES[i], p, ROOTS[n]))
            if n > 1:
                self.assertFalse(tlog.verify_inclusion((i + 1) % n, n, LEAVES[i], p, ROOTS[n]))
                self.assertFalse(tlog.verify_inclusion(i, n, LEAVES[i], p[:-1], ROOTS[n]))
                self.assertFalse(tlog.verify_inclusion(i, n, LEAVES[i], p + [p[0]], ROOTS[n]))
                bad = list(p)
                bad[-1] = bytes(32)
                self.assertFalse(tlog.verify_inclusion(i, n, LEAVES[i], bad, ROOTS[n]))

    def test_consistency_proofs_verify_and_nothing_else_does(self) -> None:
        for c in V["tree"]["consistency"]:
            o, n = c["old"], c["new"]
            p = [bytes.fromhex(x) for x in c["proof"]]
            self.assertTrue(tlog.verify_consistency(o, n, ROOTS[o], ROOTS[n], p), c)
            self.assertFalse(tlog.verify_consistency(o, n, ROOTS[n], ROOTS[o], p))
            self.assertFalse(tlog.verify_consistency(o, n, ROOTS[o], ROOTS[n], p[1:]))
            self.assertFalse(tlog.verify_consistency(n, o, ROOTS[n], ROOTS[o], p))
            bad = list(p)
            bad[0] = hashlib.sha256(bad[0]).digest()
            self.assertFalse(tlog.verify_consistency(o, n, ROOTS[o], ROOTS[n], bad))
        # From the empty tree, and to itself.
        self.assertTrue(tlog.verify_consistency(0, 9, tlog.EMPTY_ROOT, ROOTS[9], []))
        self.assertTrue(tlog.verify_consistency(9, 9, ROOTS[9], ROOTS[9], []))
        self.assertFalse(tlog.verify_consistency(9, 9, ROOTS[9], ROOTS[8], []))

    def test_tile_paths(self) -> None:
        self.assertEqual(tlog.tile_path(0, 0), "tile/0/000")
        self.assertEqual(tlog.tile_path(1, 1234067), "tile/1/x001/x234/067")
        self.assertEqual(tlog.tile_path(0, 5, 17), "tile/0/005.p/17")
        self.assertEqual(tlog.entries_path(1000), "tile/entries/x001/000")


class Notes(unittest.TestCase):
    def test_the_vectors_note_verifies_with_its_keys_only(self) -> None:
        n = V["note"]
        key = tlog.PrivateKey.parse(n["private_key"])
        self.assertEqual(key.verifier_key(), n["verifier_key"])
        note = tlog.Note.parse(n["signed"] + n["cosignature"])
        log = tlog.VerifierKey.parse(n["verifier_key"])
        witness = tlog.VerifierKey.parse(n["witness_verifier_key"])
        self.assertTrue(note.signed_by(log))
        self.assertTrue(note.signed_by(witness))
        # The log's key is not a cosigner's, nor the reverse (their ids differ).
        self.assertFalse(tlog.Note(note.text, note.signatures[1:]).signed_by(log))
        self.assertFalse(tlog.Note(note.text, note.signatures[:1]).signed_by(witness))
        # A changed text verifies with neither.
        changed = tlog.Note(note.text.replace(b"1100", b"1101"), note.signatures)
        self.assertFalse(changed.signed_by(log) or changed.signed_by(witness))
        # Signing again gives the same bytes (Ed25519 is deterministic).
        self.assertEqual(key.signature_line(note.text), note.signatures[0].line)
        wkey = tlog.PrivateKey.parse(n["witness_private_key"])
        self.assertEqual(wkey.cosignature_line(note.text, n["cosignature_time"]), n["cosignature"])

    def test_malformed_texts_are_format_errors(self) -> None:
        for bad in ["", "text\n", "text\n\nno dash\n", "text\n\n— name !!!\n", "text\n\n— name AAAA\n",
                    "te\x01xt\n\n— name AAAAAAAA\n"]:
            with self.assertRaises(tlog.FormatError, msg=repr(bad)):
                tlog.Note.parse(bad)
        for bad in ["", "a+b", "name+zzzzzzzz+AAAA", "name+00000000+" + base64.b64encode(b"\x01" + bytes(32)).decode()]:
            with self.assertRaises(tlog.FormatError, msg=repr(bad)):
                tlog.VerifierKey.parse(bad)
        for bad_checkpoint in [b"o\n1\n", b"o\n01\n" + base64.b64encode(bytes(32)) + b"\n", b"o\n1\nAAAA\n"]:
            with self.assertRaises(tlog.FormatError, msg=repr(bad_checkpoint)):
                tlog.Checkpoint.parse(bad_checkpoint)


def form(*fields: bytes | None) -> bytes:
    return b"lead_audit:row:v2\n" + b"".join(b"~" if f is None else b"%d:%s" % (len(f), f) for f in fields)


ROW = form(b"7", b"700", b"1700000000000000", b"16384", b"public.leads", b"UPDATE", None, b'{"id": 7}',
           b'{"status": "new"}', b'{"status": "lost"}', b"{status}", b"42", None, None, b"req-1", None,
           b"app", b"psql", b"committed", None)


def make_receipt(index: int = 3, size: int = 9, row: bytes = ROW) -> tuple[str, tlog.VerifierKey, list[tlog.PrivateKey]]:
    """A receipt for `row` as leaf `index` of a tree of `size`, signed by the
    vectors' log key and cosigned by two witnesses."""
    entries = [hashlib.sha256(b"other %d" % i).digest() for i in range(size)]
    entries[index] = hashlib.sha256(row).digest()
    leaves = [tlog.leaf_hash(e) for e in entries]
    checkpoint = tlog.Checkpoint("example.com/lead_audit/crm", size, tlog.root(leaves))
    key = tlog.PrivateKey.parse(V["note"]["private_key"])
    witnesses = [tlog.PrivateKey("witness.example/w%d" % i, hashlib.sha256(b"w%d" % i).digest()) for i in (1, 2)]
    text = checkpoint.text()
    note = text.decode() + "\n" + key.signature_line(text)
    note += "".join(w.cosignature_line(text, 1_800_000_000) for w in witnesses)
    lines = ["c2sp.org/tlog-proof@v1", "extra " + base64.b64encode(row).decode(), f"index {index}"]
    lines += [base64.b64encode(p).decode() for p in path(index, leaves)]
    receipt = "\n".join(lines) + "\n\n" + note
    return receipt, tlog.VerifierKey.parse(V["note"]["verifier_key"]), witnesses


class Receipts(unittest.TestCase):
    def test_a_receipt_proves_its_row(self) -> None:
        receipt, log, witnesses = make_receipt()
        wkeys = [tlog.VerifierKey.parse(w.verifier_key(tlog.ALG_COSIGNATURE_V1)) for w in witnesses]
        proven = receipts.verify_receipt(receipt, log, wkeys, 2, "example.com/lead_audit/crm")
        self.assertEqual((proven.index, proven.checkpoint.size), (3, 9))
        self.assertEqual(proven.row["id"], "7")
        self.assertEqual(proven.row["new_values"], '{"status": "lost"}')
        self.assertIsNone(proven.row["soft_delete"])
        self.assertEqual(proven.cosigned_by, ["witness.example/w1", "witness.example/w2"])

    def test_tampered_receipts_are_rejected_with_the_reason(self) -> None:
        receipt, log, witnesses = make_receipt()
        wkeys = [tlog.VerifierKey.parse(w.verifier_key(tlog.ALG_COSIGNATURE_V1)) for w in witnesses]
        changed_row = ROW.replace(b"lost", b"won!")
        cases = {
            "the row": receipt.replace(base64.b64encode(ROW).decode(), base64.b64encode(changed_row).decode()),
            "the index": receipt.replace("index 3", "index 4"),
            "a path hash": receipt.replace("\n\n", "\n" + base64.b64encode(bytes(32)).decode() + "\n\n", 1),
            "the root": receipt.replace("\n9\n", "\n8\n"),
        }
        for what, text in cases.items():
            with self.assertRaises(receipts.Rejected, msg=what):
                receipts.verify_receipt(text, log, wkeys, 2)
        other = tlog.VerifierKey.parse(tlog.PrivateKey("example.com/lead_audit", bytes(32)).verifier_key())
        with self.assertRaisesRegex(receipts.Rejected, "not signed by the log's key"):
            receipts.verify_receipt(receipt, other, wkeys, 2)
        with self.assertRaisesRegex(receipts.Rejected, "1 of the 2 witnesses"):
            receipts.verify_receipt(receipt.replace(receipt.rsplit("\n", 2)[1] + "\n", ""), log, wkeys, 2)
        with self.assertRaisesRegex(receipts.Rejected, "not 'elsewhere'"):
            receipts.verify_receipt(receipt, log, wkeys, 2, "elsewhere")

    def test_the_command_line(self) -> None:
        receipt, log, witnesses = make_receipt()
        with tempfile.TemporaryDirectory() as d:
            file = os.path.join(d, "row.tlog-proof")
            with open(file, "w") as f:
                f.write(receipt)
            args = ["--receipt", file, "--log-key", V["note"]["verifier_key"]]
            for w in witnesses:
                args += ["--witness-key", w.verifier_key(tlog.ALG_COSIGNATURE_V1)]
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                self.assertEqual(receipts.main(args), 0)
            self.assertEqual(json.loads(out.getvalue())["row"]["request_id"], "req-1")
            with open(file, "w") as f:
                f.write(receipt.replace("index 3", "index 2"))
            with contextlib.redirect_stdout(io.StringIO()):
                self.assertEqual(receipts.main(args), 1)
            with open(file, "w") as f:
                f.write("not a receipt")
            with contextlib.redirect_stderr(io.StringIO()):
                self.assertEqual(receipts.main(args), 2)

    def test_rows_decode_or_are_format_errors(self) -> None:
        self.assertEqual(receipts.decode_row(ROW)["action"], "UPDATE")
        for bad in [b"", b"lead_audit:row:v2\n", ROW + b"~", ROW[:-5], b"other:row\n" + ROW[18:]]:
            with self.assertRaises(tlog.FormatError, msg=repr(bad[:30])):
                receipts.decode_row(bad)


if __name__ == "__main__":
    unittest.main()
