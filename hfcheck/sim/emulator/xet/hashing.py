"""Xet hashes (hub-docs docs/xet/hashing.md): the CAS refuses content whose hashes differ.

A chunk hash is blake3 keyed with DATA_KEY; xorb and file hashes are the root of a Merkle
tree over (hash, size) pairs whose fan-out is cut by the hashes themselves (2 to 9 children);
a file hash is that root hashed once more with an all-zero key. Hashes travel as text with
the bytes of each 8-byte group reversed.
"""

from __future__ import annotations

from collections.abc import Sequence

from blake3 import blake3

DATA_KEY = bytes(
    [
        102,
        151,
        245,
        119,
        91,
        149,
        80,
        222,
        49,
        53,
        203,
        172,
        165,
        151,
        24,
        28,
        157,
        228,
        33,
        16,
        155,
        235,
        43,
        88,
        180,
        208,
        176,
        75,
        147,
        173,
        242,
        41,
    ]
)
INTERNAL_NODE_KEY = bytes(
    [
        1,
        126,
        197,
        199,
        165,
        71,
        41,
        150,
        253,
        148,
        102,
        102,
        180,
        138,
        2,
        230,
        93,
        221,
        83,
        111,
        55,
        199,
        109,
        210,
        248,
        99,
        82,
        230,
        74,
        83,
        113,
        63,
    ]
)
VERIFICATION_KEY = bytes(
    [
        127,
        24,
        87,
        214,
        206,
        86,
        237,
        102,
        18,
        127,
        249,
        19,
        231,
        165,
        195,
        243,
        164,
        205,
        38,
        213,
        181,
        219,
        73,
        230,
        65,
        36,
        152,
        127,
        40,
        251,
        148,
        195,
    ]
)
ZERO_KEY = bytes(32)
MEAN_FANOUT = 4
MAX_GROUP = 2 * MEAN_FANOUT + 1


def hash_to_text(raw: bytes) -> str:
    """The API's text form: each 8-byte group read as a little-endian u64, in hex."""
    if len(raw) != 32:
        raise ValueError("a Xet hash has 32 bytes")
    return "".join(raw[i : i + 8][::-1].hex() for i in range(0, 32, 8))


def text_to_hash(text: str) -> bytes:
    """Inverse of `hash_to_text`; ValueError for anything but 64 hex digits."""
    if len(text) != 64:
        raise ValueError("a Xet hash is 64 hex digits")
    raw = bytes.fromhex(text)
    return b"".join(raw[i : i + 8][::-1] for i in range(0, 32, 8))


def chunk_hash(data: bytes) -> bytes:
    return blake3(data, key=DATA_KEY).digest()


def _next_cut(nodes: Sequence[tuple[bytes, int]], start: int) -> int:
    """End (exclusive) of the group starting at `start`: 2 to 9 nodes, cut after a node
    whose last 8 bytes, as a little-endian u64, are divisible by 4."""
    left = len(nodes) - start
    if left <= 2:
        return len(nodes)
    end = start + min(MAX_GROUP, left)
    for i in range(start + 2, end):
        if int.from_bytes(nodes[i][0][24:32], "little") % MEAN_FANOUT == 0:
            return i + 1
    return end


def _merge(nodes: Sequence[tuple[bytes, int]]) -> tuple[bytes, int]:
    text = "".join(f"{hash_to_text(h)} : {size}\n" for h, size in nodes)
    return blake3(text.encode(), key=INTERNAL_NODE_KEY).digest(), sum(size for _, size in nodes)


def merkle_root(leaves: Sequence[tuple[bytes, int]]) -> bytes:
    """Root of the aggregated-hash tree over (hash, size) leaves (32 zero bytes if none)."""
    level = list(leaves)
    if not level:
        return bytes(32)
    while len(level) > 1:
        merged: list[tuple[bytes, int]] = []
        i = 0
        while i < len(level):
            cut = _next_cut(level, i)
            merged.append(_merge(level[i:cut]))
            i = cut
        level = merged
    return level[0][0]


def xorb_hash(chunks: Sequence[tuple[bytes, int]]) -> bytes:
    return merkle_root(chunks)


def file_hash(chunks: Sequence[tuple[bytes, int]]) -> bytes:
    """File hash from its chunks' (hash, size); an empty file hashes to 32 zero bytes."""
    if not chunks:
        return bytes(32)
    return blake3(merkle_root(chunks), key=ZERO_KEY).digest()


def verification_hash(chunk_hashes: Sequence[bytes]) -> bytes:
    """The hash a shard carries per term: the term's raw chunk hashes, concatenated, keyed."""
    return blake3(b"".join(chunk_hashes), key=VERIFICATION_KEY).digest()


__all__ = ["chunk_hash", "file_hash", "hash_to_text", "merkle_root", "text_to_hash", "verification_hash", "xorb_hash"]
