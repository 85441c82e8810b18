"""The transparency-log formats lead_audit hands out, checked in Python.

Written from the specifications, apart from lead_audit's Rust code (which
uses the tlog_tiles and signed_note crates), so that each checks the other:

- the Merkle tree of RFC 9162 (section 2.1): leaf and node hashes, the tree
  head, and the verification of inclusion and consistency proofs exactly as
  sections 2.1.3.2 and 2.1.4.2 write them;
- C2SP signed-note: notes, signature lines, verifier and private keys in Go's
  text forms (Ed25519);
- C2SP tlog-checkpoint, tlog-cosignature (``cosignature/v1``), tlog-proof;
- C2SP tlog-tiles: the paths of tiles and entry bundles.

The Merkle and text parts need only the standard library; signatures need
the ``cryptography`` package (``pip install 'lead-audit[proofs]'``).
"""

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04
PROOF_HEADER = "c2sp.org/tlog-proof@v1"
# signed-note: at most this many signature lines are read.
MAX_SIGNATURES = 100


class FormatError(ValueError):
    """A note, checkpoint, key, proof or receipt that is not well formed."""


# ---------------------------------------------------------------------------
# RFC 9162, section 2.1
# ---------------------------------------------------------------------------


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of the leaf hashes: the largest power of two smaller than n
    splits the tree."""
    if not leaves:
        return EMPTY_ROOT
    level = list(leaves)
    # Bottom-up: each level pairs its items; an odd one out moves up as is,
    # which gives RFC 9162's split.
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def _lsb(n: int) -> bool:
    return n & 1 == 1


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes], root_hash: bytes) -> bool:
    """RFC 9162, 2.1.3.2."""
    if index < 0 or index >= size or any(len(p) != HASH_SIZE for p in path):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if _lsb(fn) or fn == sn:
            r = node_hash(p, r)
            if not _lsb(fn):
                while not _lsb(fn) and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> bool:
    """RFC 9162, 2.1.4.2; a tree of 0 leaves is consistent with any, and a
    tree with itself (an empty proof, equal roots)."""
    if old_size < 0 or new_size < old_size or any(len(p) != HASH_SIZE for p in path):
        return False
    if old_size == 0:
        return not path
    if old_size == new_size:
        return not path and old_root == new_root
    if not path:
        return False
    path = list(path)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while _lsb(fn):
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if _lsb(fn) or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not _lsb(fn):
                while not _lsb(fn) and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


# ---------------------------------------------------------------------------
# C2SP signed-note
# ---------------------------------------------------------------------------


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(f"{what} is not base64") from None


def _key_name_ok(name: str) -> bool:
    return bool(name) and not any(c.isspace() or c == "+" for c in name)


def key_id(name: str, alg: int, public: bytes) -> int:
    return int.from_bytes(hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public).digest()[:4], "big")


def _ed25519() -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "signatures need the cryptography package: pip install 'lead-audit[proofs]'"
        ) from None
    return ed25519


@dataclass(frozen=True)
class VerifierKey:
    """A verifier key, ``<name>+<hex key id>+<base64 of alg || public key>``:
    an Ed25519 note key (alg 0x01) or a cosigner's (alg 0x04)."""

    name: str
    id: int
    alg: int
    public: bytes

    @classmethod
    def parse(cls, text: str) -> "VerifierKey":
        parts = text.strip().split("+", 2)
        if len(parts) != 3 or not _key_name_ok(parts[0]) or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
            raise FormatError("a verifier key is <name>+<8 hex digits>+<base64 key>")
        key = _b64(parts[2], "the verifier key")
        if len(key) != 33 or key[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1):
            raise FormatError("only Ed25519 verifier keys (types 0x01 and 0x04) are supported")
        vk = cls(parts[0], int(parts[1], 16), key[0], key[1:])
        if key_id(vk.name, vk.alg, vk.public) != vk.id:
            raise FormatError("the verifier key's id does not match its key")
        return vk

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (without its 4-byte key id) signs the note text."""
        ed25519 = _ed25519()
        key = ed25519.Ed25519PublicKey.from_public_bytes(self.public)
        if self.alg == ALG_COSIGNATURE_V1:
            if len(signature) != 72:
                return False
            timestamp = int.from_bytes(signature[:8], "big")
            if timestamp >= 1 << 63:
                return False
            message = b"cosignature/v1\ntime %d\n" % timestamp + text
            signature = signature[8:]
        else:
            message = text
        try:
            key.verify(signature, message)
        except Exception:
            return False
        return True


@dataclass(frozen=True)
class PrivateKey:
    """A private key in Go's note form:
    ``PRIVATE+KEY+<name>+<hex key id>+<base64 of 0x01 || 32-byte seed>``."""

    name: str
    seed: bytes

    @classmethod
    def parse(cls, text: str) -> "PrivateKey":
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or not _key_name_ok(parts[2]):
            raise FormatError("a private key is PRIVATE+KEY+<name>+<key id>+<key>")
        key = _b64(parts[4], "the private key")
        if len(key) != 33 or key[0] != ALG_ED25519:
            raise FormatError("only Ed25519 private keys are supported")
        pk = cls(parts[2], key[1:])
        if not re.fullmatch(r"[0-9a-f]{8}", parts[3]) or int(parts[3], 16) != key_id(pk.name, ALG_ED25519, pk.public()):
            raise FormatError("the private key's id does not match its key")
        return pk

    @classmethod
    def generate(cls, name: str) -> "PrivateKey":
        if not _key_name_ok(name):
            raise FormatError("a key name has no spaces and no '+'")
        import os

        return cls(name, os.urandom(32))

    def _key(self) -> Any:
        return _ed25519().Ed25519PrivateKey.from_private_bytes(self.seed)

    def public(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        raw: bytes = self._key().public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return raw

    def text(self) -> str:
        kid = key_id(self.name, ALG_ED25519, self.public())
        return f"PRIVATE+KEY+{self.name}+{kid:08x}+" + base64.b64encode(bytes([ALG_ED25519]) + self.seed).decode()

    def verifier_key(self, alg: int = ALG_ED25519) -> str:
        kid = key_id(self.name, alg, self.public())
        return f"{self.name}+{kid:08x}+" + base64.b64encode(bytes([alg]) + self.public()).decode()

    def signature_line(self, text: bytes) -> str:
        """The note signature line of this key over a note's text."""
        sig = self._key().sign(text)
        kid = key_id(self.name, ALG_ED25519, self.public())
        return f"— {self.name} " + base64.b64encode(kid.to_bytes(4, "big") + sig).decode() + "\n"

    def cosignature_line(self, text: bytes, timestamp: int) -> str:
        """A cosignature/v1 line of this key (as a witness's) over a checkpoint's text."""
        sig = self._key().sign(b"cosignature/v1\ntime %d\n" % timestamp + text)
        kid = key_id(self.name, ALG_COSIGNATURE_V1, self.public())
        blob = kid.to_bytes(4, "big") + timestamp.to_bytes(8, "big") + sig
        return f"— {self.name} " + base64.b64encode(blob).decode() + "\n"


@dataclass
class Signature:
    name: str
    id: int
    signature: bytes  # without the key id
    line: str

    @classmethod
    def parse(cls, line: str) -> "Signature":
        if not line.startswith("— "):
            raise FormatError("a signature line starts with '— '")
        name, sep, b64 = line[2:].partition(" ")
        if not sep or not _key_name_ok(name):
            raise FormatError("a signature line is '— <key name> <base64>'")
        blob = _b64(b64, "a signature")
        if len(blob) < 5:
            raise FormatError("a signature is a key id and a signature")
        return cls(name, int.from_bytes(blob[:4], "big"), blob[4:], line + "\n")


@dataclass
class Note:
    """A signed note: its text (ending with a newline) and its signatures."""

    text: bytes
    signatures: list[Signature] = field(default_factory=list)

    @classmethod
    def parse(cls, data: str) -> "Note":
        # Blank lines after the last signature line are not part of the note
        # (a file or a psql output often ends with one more newline).
        data = data.rstrip("\n") + "\n"
        if len(data) > 1_000_000:
            raise FormatError("a note is at most 1 MB")
        if any(ord(c) < 0x20 and c != "\n" for c in data):
            raise FormatError("a note holds no control characters but newlines")
        text, sep, sigs = data.rpartition("\n\n")
        if not sep or not sigs.endswith("\n"):
            raise FormatError("a note is its text, a blank line and signature lines")
        lines = sigs[:-1].split("\n")
        if len(lines) > MAX_SIGNATURES:
            raise FormatError("too many signatures")
        return cls((text + "\n").encode(), [Signature.parse(line) for line in lines])

    def signed_by(self, key: VerifierKey) -> bool:
        """Whether a signature line of ``key`` (its name and id) verifies."""
        return any(
            s.name == key.name and s.id == key.id and key.verify(self.text, s.signature)
            for s in self.signatures
        )

    def __str__(self) -> str:
        return self.text.decode() + "\n" + "".join(s.line for s in self.signatures)


# ---------------------------------------------------------------------------
# C2SP tlog-checkpoint, tlog-proof
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    @classmethod
    def parse(cls, text: bytes) -> "Checkpoint":
        try:
            lines = text.decode().split("\n")
        except UnicodeDecodeError:
            raise FormatError("a checkpoint is UTF-8") from None
        if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
            raise FormatError("a checkpoint is an origin, a size and a root line, then extension lines")
        if not re.fullmatch(r"0|[1-9][0-9]{0,18}", lines[1]) or int(lines[1]) >= 1 << 63:
            raise FormatError("a checkpoint's size is a decimal number")
        root_hash = _b64(lines[2], "the checkpoint's root")
        if len(root_hash) != HASH_SIZE:
            raise FormatError("a checkpoint's root is 32 bytes")
        return cls(lines[0], int(lines[1]), root_hash)

    def text(self) -> bytes:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n".encode()


@dataclass
class Receipt:
    """A C2SP tlog-proof."""

    extra: bytes | None
    index: int
    path: list[bytes]
    note: Note
    checkpoint: Checkpoint

    @classmethod
    def parse(cls, text: str) -> "Receipt":
        head, sep, note = text.partition("\n\n")
        if not sep:
            raise FormatError("a proof is its lines, a blank line and the checkpoint")
        lines = head.split("\n")
        if lines[0] != PROOF_HEADER:
            raise FormatError(f"a proof starts with {PROOF_HEADER}")
        rest = lines[1:]
        extra = None
        if rest and rest[0].startswith("extra "):
            extra = _b64(rest[0][6:], "the proof's extra data")
            rest = rest[1:]
        if not rest or not re.fullmatch(r"index (0|[1-9][0-9]{0,18})", rest[0]):
            raise FormatError("a proof names its index: 'index N'")
        index = int(rest[0][6:])
        if len(rest) - 1 > 64:
            raise FormatError("an inclusion path has at most 64 hashes")
        path = [_b64(line, "an inclusion path hash") for line in rest[1:]]
        if any(len(p) != HASH_SIZE for p in path):
            raise FormatError("an inclusion path holds 32-byte hashes")
        parsed = Note.parse(note)
        return cls(extra, index, path, parsed, Checkpoint.parse(parsed.text))


def tile_index_path(n: int) -> str:
    """tlog-tiles' encoding of a tile index: 3-digit groups, all but the last prefixed by 'x'."""
    groups = []
    while True:
        groups.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    path = f"tile/{level}/{tile_index_path(index)}"
    return path if width == TILE_WIDTH else f"{path}.p/{width}"


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    path = f"tile/entries/{tile_index_path(index)}"
    return path if width == TILE_WIDTH else f"{path}.p/{width}"
