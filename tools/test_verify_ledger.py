"""Unit tests for the parts of tools/verify_ledger.py that need no database."""

import hashlib
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verify_ledger as v  # noqa: E402


class CopyText(unittest.TestCase):
    def test_unescape(self):
        self.assertIsNone(v.unescape(b"\\N"))
        self.assertEqual(v.unescape(b"a\\tb\\nc\\\\d"), b"a\tb\nc\\d")
        self.assertEqual(v.unescape(b"\\101\\x42"), b"AB")
        self.assertEqual(v.unescape(b"\\\\x00ff"), b"\\x00ff")

    def test_timestamps(self):
        self.assertEqual(v.timestamptz_us(b"1970-01-01 00:00:00+00"), 0)
        self.assertEqual(v.timestamptz_us(b"1970-01-01 00:00:01.5+00"), 1_500_000)
        self.assertEqual(v.timestamptz_us(b"1970-01-01 05:30:00+05:30"), 0)
        self.assertEqual(v.timestamptz_us(b"1969-12-31 16:00:00-08"), 0)
        self.assertEqual(v.timestamptz_us(b"2000-01-01 00:00:00.000001+00"), 946_684_800_000_001)
        with self.assertRaises(v.BadInput):
            v.timestamptz_us(b"Sat Jan 01 00:00:00 2000 PST")


class Forms(unittest.TestCase):
    def test_row_checksum_uses_length_prefixed_fields(self):
        row = [b"1", b"700", b"1970-01-01 00:00:00.000002+00"] + [None] * 15 + [b"\\x00"]
        expected = hashlib.sha256(b"lead_audit:row:v1\n1:13:7001:2" + b"~" * 15).digest()
        self.assertEqual(v.row_checksum(row), expected)

    def test_rows_hash(self):
        leaves = [(1, bytes([0xAB]) * 32), (7, bytes([1]) * 32)]
        text = "1:%s\n7:%s\n" % ("ab" * 32, "01" * 32)
        self.assertEqual(v.rows_hash(leaves), hashlib.sha256(text.encode()).digest())


if __name__ == "__main__":
    unittest.main()
