"""Xorb and shard binary formats (hub-docs docs/xet/xorb.md, shard.md), little-endian.

The CAS must walk a xorb's chunk headers to know each chunk's byte span and must read a
shard's file-info section to learn which chunks make which file. Parsers raise
`XetFormatError` (answered 400) on anything malformed; builders exist so tests and tools can
produce what hf_xet produces.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import lz4.frame

SCHEME_NONE = 0
SCHEME_LZ4 = 1
SCHEME_BG4_LZ4 = 2
CHUNK_HEADER = 8
MAX_CHUNK = (1 << 24) - 1  # sizes are u24

SHARD_TAG = b"HFRepoMetaData\x00" + bytes(
    [85, 105, 103, 69, 106, 123, 129, 87, 131, 165, 189, 217, 92, 205, 209, 74, 169]
)
SHARD_VERSION = 2
RECORD = 48
BOOKEND = b"\xff" * 32 + b"\x00" * 16
FLAG_VERIFICATION = 0x80000000
FLAG_METADATA_EXT = 0x40000000


class XetFormatError(ValueError):
    """A xorb or shard that does not parse."""


# -- xorbs -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChunkSpan:
    """One chunk of a serialized xorb: `offset` of its header, `length` header + data."""

    offset: int
    length: int
    scheme: int
    unpacked: int


def walk_xorb(data: bytes | memoryview) -> list[ChunkSpan]:
    """The chunk spans of a xorb as uploaded (chunks back to back, no footer)."""
    spans: list[ChunkSpan] = []
    pos, n = 0, len(data)
    while pos < n:
        if n - pos < CHUNK_HEADER:
            raise XetFormatError(f"truncated chunk header at byte {pos}")
        version, clen, scheme, ulen = _chunk_header(bytes(data[pos : pos + CHUNK_HEADER]))
        if version != 0:
            raise XetFormatError(f"unknown chunk version {version} at byte {pos}")
        if scheme not in (SCHEME_NONE, SCHEME_LZ4, SCHEME_BG4_LZ4):
            raise XetFormatError(f"unknown compression scheme {scheme} at byte {pos}")
        if pos + CHUNK_HEADER + clen > n:
            raise XetFormatError(f"chunk at byte {pos} runs past the end of the xorb")
        spans.append(ChunkSpan(pos, CHUNK_HEADER + clen, scheme, ulen))
        pos += CHUNK_HEADER + clen
    if not spans:
        raise XetFormatError("empty xorb")
    return spans


def _chunk_header(raw: bytes) -> tuple[int, int, int, int]:
    return raw[0], int.from_bytes(raw[1:4], "little"), raw[4], int.from_bytes(raw[5:8], "little")


def decode_chunk(raw: bytes | memoryview, span: ChunkSpan | None = None) -> bytes:
    """The uncompressed bytes of one serialized chunk (header included in `raw`)."""
    raw = bytes(raw)
    if span is None:
        _, clen, scheme, ulen = _chunk_header(raw[:CHUNK_HEADER])
    else:
        scheme, ulen, clen = span.scheme, span.unpacked, span.length - CHUNK_HEADER
    body = raw[CHUNK_HEADER : CHUNK_HEADER + clen]
    if scheme == SCHEME_NONE:
        out = body
    else:
        try:
            out = lz4.frame.decompress(body)
        except (RuntimeError, ValueError) as exc:
            raise XetFormatError(f"chunk does not decompress: {exc}") from None
        if scheme == SCHEME_BG4_LZ4:
            out = bg4_regroup(out)
    if len(out) != ulen:
        raise XetFormatError(f"chunk unpacks to {len(out)} bytes, header says {ulen}")
    return out


def iter_chunks(data: bytes | memoryview, spans: Sequence[ChunkSpan], base: int = 0) -> Iterator[bytes]:
    """Decoded chunks of `spans`, read from `data` that starts at xorb offset `base`."""
    view = memoryview(data)
    for s in spans:
        yield decode_chunk(view[s.offset - base : s.offset - base + s.length], s)


def _group_sizes(n: int) -> list[int]:
    q, r = divmod(n, 4)
    return [q + (r > 0), q + (r > 1), q + (r > 2), q]


def bg4_split(data: bytes) -> bytes:
    """ByteGrouping4: byte k of every 4 into group k, groups concatenated."""
    return b"".join(data[k::4] for k in range(4))


def bg4_regroup(grouped: bytes) -> bytes:
    """Inverse of `bg4_split`: the first `n % 4` groups are one byte longer."""
    n = len(grouped)
    out = bytearray(n)
    pos = 0
    for k, size in enumerate(_group_sizes(n)):
        out[k::4] = grouped[pos : pos + size]
        pos += size
    return bytes(out)


def encode_chunk(data: bytes, scheme: int = SCHEME_LZ4) -> bytes:
    """One serialized chunk (for tests and tools; hf_xet picks its scheme itself)."""
    if len(data) > MAX_CHUNK:
        raise ValueError("chunk too large for a u24 size")
    if scheme == SCHEME_NONE:
        body = data
    elif scheme == SCHEME_LZ4:
        body = lz4.frame.compress(data)
    elif scheme == SCHEME_BG4_LZ4:
        body = lz4.frame.compress(bg4_split(data))
    else:
        raise ValueError(f"unknown scheme {scheme}")
    if len(body) > MAX_CHUNK:
        raise ValueError("compressed chunk too large for a u24 size")
    head = bytes([0]) + len(body).to_bytes(3, "little") + bytes([scheme]) + len(data).to_bytes(3, "little")
    return head + body


# -- shards ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Term:
    """Chunks [start, end) of a xorb, `unpacked` bytes once decoded."""

    xorb: bytes
    start: int
    end: int
    unpacked: int


@dataclass(frozen=True)
class FileInfo:
    file_hash: bytes
    terms: list[Term]
    verification: list[bytes] | None = None
    sha256: bytes | None = None


@dataclass(frozen=True)
class XorbInfo:
    """A CAS-info block: a xorb and its chunks as (hash, byte start, unpacked length)."""

    xorb: bytes
    chunks: list[tuple[bytes, int, int]]
    unpacked: int = 0
    on_disk: int = 0


@dataclass(frozen=True)
class Shard:
    files: list[FileInfo] = field(default_factory=list)
    xorbs: list[XorbInfo] = field(default_factory=list)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def record(self, what: str) -> bytes:
        if self.pos + RECORD > len(self.data):
            raise XetFormatError(f"shard truncated in {what} at byte {self.pos}")
        rec = self.data[self.pos : self.pos + RECORD]
        self.pos += RECORD
        return rec


def parse_shard(data: bytes) -> Shard:
    """File infos and CAS infos of a shard as uploaded (header, two sections, no footer needed)."""
    if len(data) < 48 or data[:32] != SHARD_TAG:
        raise XetFormatError("not a shard (bad header tag)")
    version, _footer = struct.unpack_from("<QQ", data, 32)
    if version != SHARD_VERSION:
        raise XetFormatError(f"unsupported shard version {version}")
    r = _Reader(data)
    r.pos = 48
    files: list[FileInfo] = []
    while (rec := r.record("file info")) != BOOKEND:
        fhash = rec[:32]
        flags, n = struct.unpack_from("<II", rec, 32)
        terms = []
        for _ in range(n):
            t = r.record("file term")
            _cas_flags, unpacked, start, end = struct.unpack_from("<IIII", t, 32)
            if end <= start:
                raise XetFormatError(f"empty chunk range [{start}, {end}) in a file term")
            terms.append(Term(t[:32], start, end, unpacked))
        verification = [r.record("verification")[:32] for _ in range(n)] if flags & FLAG_VERIFICATION else None
        sha = r.record("metadata")[:32] if flags & FLAG_METADATA_EXT else None
        files.append(FileInfo(fhash, terms, verification, sha))
    xorbs: list[XorbInfo] = []
    while r.pos < len(data) and (rec := r.record("CAS info")) != BOOKEND:
        _flags, n, unpacked, on_disk = struct.unpack_from("<IIII", rec, 32)
        chunks = []
        for _ in range(n):
            c = r.record("CAS chunk")
            start, length = struct.unpack_from("<II", c, 32)
            chunks.append((c[:32], start, length))
        xorbs.append(XorbInfo(rec[:32], chunks, unpacked, on_disk))
    return Shard(files, xorbs)


def build_shard(shard: Shard) -> bytes:
    """Serialize a shard for upload (no footer), as hf_xet does."""
    out = bytearray(SHARD_TAG + struct.pack("<QQ", SHARD_VERSION, 0))
    for f in shard.files:
        flags = (FLAG_VERIFICATION if f.verification is not None else 0) | (
            FLAG_METADATA_EXT if f.sha256 is not None else 0
        )
        out += f.file_hash + struct.pack("<II", flags, len(f.terms)) + bytes(8)
        for t in f.terms:
            out += t.xorb + struct.pack("<IIII", 0, t.unpacked, t.start, t.end)
        for v in f.verification or []:
            out += v + bytes(16)
        if f.sha256 is not None:
            out += f.sha256 + bytes(16)
    out += BOOKEND
    for x in shard.xorbs:
        out += x.xorb + struct.pack("<IIII", 0, len(x.chunks), x.unpacked, x.on_disk)
        for h, start, length in x.chunks:
            out += h + struct.pack("<II", start, length) + bytes(8)
    out += BOOKEND
    return bytes(out)


__all__ = [
    "ChunkSpan",
    "FileInfo",
    "Shard",
    "Term",
    "XetFormatError",
    "XorbInfo",
    "bg4_regroup",
    "bg4_split",
    "build_shard",
    "decode_chunk",
    "encode_chunk",
    "iter_chunks",
    "parse_shard",
    "walk_xorb",
]
