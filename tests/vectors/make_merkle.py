#!/usr/bin/env python3
"""Writes the golden vectors of lead_audit's Merkle tree and checkpoints.

    python3 tests/vectors/make_merkle.py          # rewrites merkle.json
    python3 tests/vectors/make_merkle.py --check  # exit 1 if it differs from what it would write

The tree's proofs are made here by RFC 9162's own recursive definitions
(MTH, PATH and PROOF/SUBPROOF, sections 2.1.1, 2.1.3.1 and 2.1.4.1), written
out below independently of lead_audit's Rust (which uses the tlog_tiles
crate) and of the Python verifier's checks (lead_audit.tlog, which follows
the verification algorithms of 2.1.3.2 and 2.1.4.2). The published RFC 6962
test vectors (transparency-dev/merkle's testonly/constants.go) come first:
if the definitions below drifted from the standard, they would not match.

- rfc6962: the reference leaves (hex) and the root of each size 0..8;
- tree: 1,100 entries (32-byte checksums) and, for sizes that cross the
  stored levels (256 leaves), roots, inclusion paths and consistency proofs;
- note: a signing key made from a fixed seed (for tests only), a checkpoint
  and the signed note it gives (Ed25519 signatures are deterministic), and a
  witness key's cosignature/v1 of it at a fixed time.

Read by: src/tree/merkle.rs and src/checkpoint/note.rs (unit tests),
clients/python/tests/test_tlog.py, tests/crosscheck/ (Go's sumdb/tlog and note).
"""

import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "clients", "python", "src"))
from lead_audit import tlog  # noqa: E402

OUT = os.path.join(HERE, "merkle.json")


def h(b: bytes) -> str:
    return b.hex()


def k_split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = k_split(len(d))
    return tlog.node_hash(mth(d[:k]), mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]): the inclusion path of leaf m."""
    if len(d) == 1:
        return []
    k = k_split(len(d))
    if m < k:
        return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = k_split(n)
    if m <= k:
        return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


def proof(m: int, d: list[bytes]) -> list[bytes]:
    """PROOF(m, D[n]), 0 < m < n."""
    return subproof(m, d, True)


RFC_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f"]
RFC_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
SIZES = [1, 2, 3, 7, 8, 9, 255, 256, 257, 513, 1000, 1100]


def vectors() -> dict:
    rfc = [tlog.leaf_hash(bytes.fromhex(x)) for x in RFC_LEAVES]
    for n, want in enumerate(RFC_ROOTS):
        assert h(mth(rfc[:n])) == want, f"RFC 6962 root of size {n}"
    entries = [hashlib.sha256(b"lead_audit vector %d" % i).digest() for i in range(1100)]
    leaves = [tlog.leaf_hash(e) for e in entries]
    roots = {n: mth(leaves[:n]) for n in SIZES}
    inclusion = []
    for n in SIZES:
        for i in sorted({0, 1, n // 2, n - 2, n - 1, 255, 256, 511, 999} & set(range(n))):
            inclusion.append({"index": i, "size": n, "path": [h(p) for p in path(i, leaves[:n])]})
    consistency = []
    for old in SIZES:
        for new in SIZES:
            if 0 < old < new:
                consistency.append({"old": old, "new": new,
                                    "proof": [h(p) for p in proof(old, leaves[:new])]})
    key = tlog.PrivateKey("example.com/lead_audit", hashlib.sha256(b"lead_audit test key").digest())
    witness = tlog.PrivateKey("witness.example/w1", hashlib.sha256(b"lead_audit test witness").digest())
    checkpoint = tlog.Checkpoint("example.com/lead_audit/crm", 1100, roots[1100])
    text = checkpoint.text()
    signed = text.decode() + "\n" + key.signature_line(text)
    timestamp = 1_800_000_000
    return {
        "rfc6962": {"leaves": RFC_LEAVES, "roots": RFC_ROOTS},
        "tree": {
            "entries": [h(e) for e in entries],
            "roots": {str(n): h(r) for n, r in roots.items()},
            "inclusion": inclusion,
            "consistency": consistency,
        },
        "note": {
            "private_key": key.text(),
            "verifier_key": key.verifier_key(),
            "checkpoint": text.decode(),
            "signed": signed,
            "witness_private_key": witness.text(),
            "witness_verifier_key": witness.verifier_key(tlog.ALG_COSIGNATURE_V1),
            "cosignature_time": timestamp,
            "cosignature": witness.cosignature_line(text, timestamp),
        },
    }


def main() -> int:
    data = json.dumps(vectors(), indent=1, sort_keys=True) + "\n"
    if sys.argv[1:] == ["--check"]:
        with open(OUT) as f:
            same = f.read() == data
        print("merkle.json is current" if same else "merkle.json differs from what make_merkle.py writes")
        return 0 if same else 1
    with open(OUT, "w") as f:
        f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
