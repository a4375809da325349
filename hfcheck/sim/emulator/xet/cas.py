"""The emulator's CAS: xorbs as uploaded, and Xet files mapped to the store's sha256 blobs.

A xorb is checked (every chunk decodes, the Merkle root equals the hash in its URL) and kept
as uploaded under `DIR/xorbs/`, its chunk spans and hashes in SQLite. A shard's files are
checked against those chunk hashes (file hash, per-term verification hash), then decoded once
into an ordinary blob whose sha256 must equal the one the shard announces: commits then map
an `lfsFile` oid to the Xet file by that sha256, and the LFS paths (CDN, commit checks,
listings) keep working unchanged. Refusals are 400, as the real CAS answers them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hfcheck.sim.emulator.store import Store, StoreError
from hfcheck.sim.emulator.xet import formats, hashing

SCHEMA = """
CREATE TABLE IF NOT EXISTS xorbs (hash TEXT PRIMARY KEY, size INTEGER NOT NULL, chunks INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS xorb_chunks (
    xorb TEXT NOT NULL, idx INTEGER NOT NULL, hash TEXT NOT NULL, offset INTEGER NOT NULL,
    length INTEGER NOT NULL, unpacked INTEGER NOT NULL, PRIMARY KEY (xorb, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS xet_files (
    xet_hash TEXT PRIMARY KEY, sha256 TEXT NOT NULL, size INTEGER NOT NULL, terms TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS xet_files_sha ON xet_files(sha256);
"""
HEX64 = re.compile(r"[0-9a-f]{64}")
MAX_XORB = 64 * 1024 * 1024 + 1024 * 1024  # the spec's 64 MiB limit, with room for chunk headers


@dataclass(frozen=True)
class Chunk:
    idx: int
    hash: str
    offset: int
    length: int
    unpacked: int


@dataclass(frozen=True)
class XetFile:
    xet_hash: str
    sha256: str
    size: int
    terms: list[tuple[str, int, int, int]]  # (xorb, chunk start, chunk end, unpacked bytes)


def bad(message: str) -> StoreError:
    return StoreError(message, status=400)


def check_hex(text: str, what: str) -> str:
    if not HEX64.fullmatch(text):
        raise bad(f"malformed {what} hash")
    return text


class XetCAS:
    """Xorbs and Xet files next to a `Store` (same SQLite file, blobs shared)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.xorb_dir = store.data_dir / "xorbs"
        self.xorb_dir.mkdir(parents=True, exist_ok=True)
        store.reader().executescript(SCHEMA)
        # Stable per data directory: a client's dedupe cache (keyed by CAS URL) never meets
        # an emulator that lacks the xorbs it remembers, yet a restart on the same data works.
        self.cas_id = hashlib.sha256(store.secret + b"xet-cas").hexdigest()[:16]

    # -- xorbs ---------------------------------------------------------------------------------
    def xorb_path(self, xorb: str) -> Path:
        return self.xorb_dir / xorb[:2] / xorb

    def has_xorb(self, xorb: str) -> bool:
        return self.store.reader().execute("SELECT 1 FROM xorbs WHERE hash=?", (xorb,)).fetchone() is not None

    def put_xorb(self, xorb: str, data: bytes) -> bool:
        """Check and keep a xorb; False if it was already held (not an error)."""
        check_hex(xorb, "xorb")
        if self.has_xorb(xorb):
            return False
        if len(data) > MAX_XORB:
            raise bad(f"xorb of {len(data)} bytes exceeds the 64 MiB limit")
        try:
            spans = formats.walk_xorb(data)
            chunks = [
                (hashing.chunk_hash(raw), s.unpacked)
                for raw, s in zip(formats.iter_chunks(data, spans), spans, strict=True)
            ]
        except formats.XetFormatError as exc:
            raise bad(f"xorb {xorb[:12]}… is malformed: {exc}") from None
        actual = hashing.hash_to_text(hashing.xorb_hash(chunks))
        if actual != xorb:
            raise bad(f"xorb hash mismatch: the body hashes to {actual}, not {xorb}")
        dest = self.xorb_path(xorb)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{xorb}.{secrets.token_hex(4)}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, dest)
        rows = [
            (xorb, i, hashing.hash_to_text(h), s.offset, s.length, s.unpacked)
            for i, ((h, _), s) in enumerate(zip(chunks, spans, strict=True))
        ]
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO xorbs (hash, size, chunks) VALUES (?,?,?)", (xorb, len(data), len(spans))
            )
            conn.executemany("INSERT OR IGNORE INTO xorb_chunks VALUES (?,?,?,?,?,?)", rows)
        return True

    def chunks(self, xorb: str, start: int = 0, end: int | None = None) -> list[Chunk]:
        sql = (
            "SELECT idx, hash, offset, length, unpacked FROM xorb_chunks WHERE xorb=? AND idx>=? AND idx<? ORDER BY idx"
        )
        rows = self.store.reader().execute(sql, (xorb, start, 2**62 if end is None else end)).fetchall()
        return [Chunk(*r) for r in rows]

    def read_xorb(self, xorb: str, start: int = 0, end: int | None = None, piece: int = 1024 * 1024) -> Iterator[bytes]:
        """Bytes [start, end) of a stored xorb, as uploaded."""
        with open(self.xorb_path(xorb), "rb") as fh:
            fh.seek(start)
            left = (os.fstat(fh.fileno()).st_size if end is None else end) - start
            while left > 0:
                data = fh.read(min(piece, left))
                if not data:
                    return
                left -= len(data)
                yield data

    def xorb_size(self, xorb: str) -> int | None:
        row = self.store.reader().execute("SELECT size FROM xorbs WHERE hash=?", (xorb,)).fetchone()
        return int(row[0]) if row else None

    # -- shards and files ------------------------------------------------------------------------
    def put_shard(self, data: bytes) -> int:
        """Check a shard's files against the xorbs held, store each as a blob; 1 when done."""
        try:
            shard = formats.parse_shard(data)
        except formats.XetFormatError as exc:
            raise bad(f"shard is malformed: {exc}") from None
        for info in shard.files:
            self._put_file(info)
        return 1

    def _put_file(self, info: formats.FileInfo) -> None:
        xet_hash = hashing.hash_to_text(info.file_hash)
        leaves: list[tuple[bytes, int]] = []
        plan: list[tuple[str, list[Chunk]]] = []
        for n, term in enumerate(info.terms):
            xorb = hashing.hash_to_text(term.xorb)
            if not self.has_xorb(xorb):
                raise bad(f"file {xet_hash[:12]}… references xorb {xorb} which was never uploaded")
            chunks = self.chunks(xorb, term.start, term.end)
            if len(chunks) != term.end - term.start:
                raise bad(
                    f"file {xet_hash[:12]}… references chunks [{term.start}, {term.end})"
                    f" of xorb {xorb[:12]}…, which has fewer"
                )
            if sum(c.unpacked for c in chunks) != term.unpacked:
                raise bad(f"file {xet_hash[:12]}…: term {n} unpacks to a size the shard does not announce")
            raw = [hashing.text_to_hash(c.hash) for c in chunks]
            if info.verification is not None and hashing.verification_hash(raw) != info.verification[n]:
                raise bad(f"file {xet_hash[:12]}…: verification hash of term {n} does not match")
            leaves.extend(zip(raw, (c.unpacked for c in chunks), strict=True))
            plan.append((xorb, chunks))
        actual = hashing.hash_to_text(hashing.file_hash(leaves))
        if actual != xet_hash:
            raise bad(f"file hash mismatch: its chunks hash to {actual}, not {xet_hash}")
        if self.file_by_hash(xet_hash) is not None:
            return
        expect = hashing.hash_to_text(info.sha256) if info.sha256 is not None else None
        sha, size = self.store.put_blob_stream(self._decode(plan), expect_sha256=expect)
        terms = [(hashing.hash_to_text(t.xorb), t.start, t.end, t.unpacked) for t in info.terms]
        with self.store.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO xet_files VALUES (?,?,?,?)", (xet_hash, sha, size, json.dumps(terms)))

    def _decode(self, plan: Iterable[tuple[str, list[Chunk]]]) -> Iterator[bytes]:
        for xorb, chunks in plan:
            first, last = chunks[0], chunks[-1]
            data = b"".join(self.read_xorb(xorb, first.offset, last.offset + last.length))
            spans = [
                formats.ChunkSpan(c.offset, c.length, data[c.offset - first.offset + 4], c.unpacked) for c in chunks
            ]
            yield from formats.iter_chunks(data, spans, base=first.offset)

    def file_by_hash(self, xet_hash: str) -> XetFile | None:
        row = (
            self.store.reader()
            .execute("SELECT xet_hash, sha256, size, terms FROM xet_files WHERE xet_hash=?", (xet_hash,))
            .fetchone()
        )
        return _file(row) if row else None

    def file_by_sha256(self, sha256: str) -> XetFile | None:
        row = (
            self.store.reader()
            .execute("SELECT xet_hash, sha256, size, terms FROM xet_files WHERE sha256=?", (sha256,))
            .fetchone()
        )
        return _file(row) if row else None

    # -- reconstruction --------------------------------------------------------------------------
    def reconstruction(self, f: XetFile, first: int, last: int, url_for: Callable[[str], str]) -> dict:
        """The v1 reconstruction of bytes [first, last] (inclusive) of a file: only the chunks
        that hold them, `offset_into_first_range` to skip into the first one."""
        terms: list[dict] = []
        spans: dict[str, list[tuple[Chunk, Chunk]]] = {}
        offset_into_first: int | None = None
        pos = 0
        for xorb, start, end, _ in f.terms:
            keep = []
            for c in self.chunks(xorb, start, end):
                if pos + c.unpacked > first and pos <= last:
                    if offset_into_first is None:
                        offset_into_first = first - pos
                    keep.append(c)
                pos += c.unpacked
            if not keep:
                continue
            rng = {"start": keep[0].idx, "end": keep[-1].idx + 1}
            terms.append({"hash": xorb, "unpacked_length": sum(c.unpacked for c in keep), "range": rng})
            spans.setdefault(xorb, []).append((keep[0], keep[-1]))
        fetch = {
            xorb: [_fetch_entry(a, b, url_for(xorb)) for a, b in _merged(ranges)] for xorb, ranges in spans.items()
        }
        return {"offset_into_first_range": offset_into_first or 0, "terms": terms, "fetch_info": fetch}


def _merged(ranges: list[tuple[Chunk, Chunk]]) -> list[tuple[Chunk, Chunk]]:
    """Overlapping or adjacent chunk ranges of one xorb joined: the client looks a term up in
    the one fetch entry that contains it (a file may reuse its own chunks, e.g. runs of zeros)."""
    out: list[tuple[Chunk, Chunk]] = []
    for first, last in sorted(ranges, key=lambda r: (r[0].idx, r[1].idx)):
        if out and first.idx <= out[-1][1].idx + 1:
            if last.idx > out[-1][1].idx:
                out[-1] = (out[-1][0], last)
        else:
            out.append((first, last))
    return out


def _fetch_entry(first: Chunk, last: Chunk, url: str) -> dict:
    return {
        "range": {"start": first.idx, "end": last.idx + 1},
        "url": url,
        "url_range": {"start": first.offset, "end": last.offset + last.length - 1},
    }


def _file(row: tuple[str, str, int, str]) -> XetFile:
    terms = [(str(x), int(a), int(b), int(n)) for x, a, b, n in json.loads(row[3])]
    return XetFile(row[0], row[1], int(row[2]), terms)


__all__ = ["Chunk", "XetCAS", "XetFile", "check_hex"]
