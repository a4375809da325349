"""Storage Buckets in the emulator: buckets and their files, next to the repos in the same SQLite.

A bucket is a flat map path -> (Xet hash, size, mtime): no commits, no history, no directory
rows (folders are the `/`-separated prefixes of the paths, found by skipping over them in the
path index). Content lives in the Xet CAS (`xet/cas.py`), so a file is only an entry naming a
Xet file the CAS holds: an add is accepted when its hash names a file some shard declared (or
is the all-zero hash of the empty file), its size comes from the CAS, never from the client.
A copy names a hash that must belong to the source (bucket or dataset repo), as the Hub must
check, or any hash could be claimed. Facts: /work/shared/notes/buckets-protocol.md.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from hfcheck.sim.emulator.store import Repo, Store, StoreError, now_iso
from hfcheck.sim.emulator.xet.cas import HEX64, XetCAS

SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    id INTEGER PRIMARY KEY, bucket_id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL,
    private INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bucket_files (
    bucket INTEGER NOT NULL, path TEXT NOT NULL, xet_hash TEXT NOT NULL, size INTEGER NOT NULL,
    mtime INTEGER NOT NULL, uploaded_at TEXT NOT NULL, content_type TEXT,
    PRIMARY KEY (bucket, path)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS bucket_files_hash ON bucket_files(xet_hash);
"""
EMPTY_HASH = "0" * 64  # the client's Xet hash of an empty file: no CAS object exists for it
MAX_BATCH_OPS = 1000  # what huggingface_hub sends at most per call; more is refused (the Hub's cap is not known)
# (sourceRepoType, sourceRepoId, xetHash) -> may the caller copy that hash out of that source?
SourceCheck = Callable[[Any, Any, str], bool]
_CHANGE_KEYS = ("size", "xetHash", "uploadedAt", "mtime")
_FILE_COLUMNS = "path, xet_hash, size, mtime, uploaded_at, content_type"


@dataclass(frozen=True)
class Bucket:
    id: int
    bucket_id: str
    owner: str
    private: bool
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class BucketFile:
    path: str
    xet_hash: str
    size: int
    mtime: int  # milliseconds since the epoch, as the client sent it
    uploaded_at: str
    content_type: str | None

    def json(self) -> dict[str, Any]:
        return {
            "type": "file",
            "path": self.path,
            "size": self.size,
            "xetHash": self.xet_hash,
            "mtime": iso_ms(self.mtime),
            "uploadedAt": self.uploaded_at,
        }


@dataclass
class BatchResult:
    succeeded: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)  # {"path", "error"}, as the client reads them
    changes: list[dict[str, Any]] = field(default_factory=list)  # what the events feed reports


@dataclass(frozen=True)
class Listed:
    """One tree entry: a file, or a folder (`file` is None)."""

    path: str
    file: BucketFile | None
    uploaded_at: str | None = None  # of a folder: the newest upload under it

    @property
    def key(self) -> str:
        """Where the next page starts after this entry: past every path under a folder."""
        return self.path if self.file else self.path + "/\U0010ffff"

    def json(self) -> dict[str, Any]:
        if self.file is not None:
            return self.file.json()
        return {"type": "directory", "path": self.path, "uploadedAt": self.uploaded_at}


def iso_ms(ms: int) -> str:
    """Milliseconds since the epoch as the Hub writes times (`Z`, which the client requires)."""
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def check_path(path: Any) -> str:
    """A bucket key as the Hub's S3 page allows them: relative, no empty, `.` or `..` segment."""
    if not isinstance(path, str) or not path or path.startswith("/") or path.endswith("/"):
        raise StoreError(f"invalid path: {path!r}", status=400)
    if "\\" in path or "\0" in path or any(part in ("", ".", "..") for part in path.split("/")):
        raise StoreError(f"invalid path: {path!r}", status=400)
    return path


class BucketStore:
    """The buckets of one emulator data directory; writes go through the store's write lock."""

    def __init__(self, store: Store, cas: XetCAS) -> None:
        self.store = store
        self.cas = cas
        store.reader().executescript(SCHEMA)

    # -- buckets ----------------------------------------------------------------------------------
    def get(self, bucket_id: str) -> Bucket | None:
        row = self.store.reader().execute("SELECT * FROM buckets WHERE bucket_id=?", (bucket_id,)).fetchone()
        return _bucket(row) if row else None

    def create(self, bucket_id: str, owner: str, *, private: bool) -> Bucket:
        now = now_iso()
        try:
            with self.store.transaction() as conn:
                conn.execute(
                    "INSERT INTO buckets (bucket_id, owner, private, created_at, updated_at) VALUES (?,?,?,?,?)",
                    (bucket_id, owner, int(private), now, now),
                )
        except sqlite3.IntegrityError:
            raise StoreError(f"Bucket {bucket_id} already exists", status=409) from None
        bucket = self.get(bucket_id)
        assert bucket is not None
        return bucket

    def delete(self, bucket: Bucket) -> None:
        """Gone at once, files included: a bucket keeps no history."""
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM bucket_files WHERE bucket=?", (bucket.id,))
            conn.execute("DELETE FROM buckets WHERE id=?", (bucket.id,))

    def set_private(self, bucket: Bucket, private: bool) -> None:
        with self.store.transaction() as conn:
            conn.execute("UPDATE buckets SET private=?, updated_at=? WHERE id=?", (int(private), now_iso(), bucket.id))

    def rename(self, bucket: Bucket, new_id: str, owner: str) -> None:
        try:
            with self.store.transaction() as conn:
                conn.execute("UPDATE buckets SET bucket_id=?, owner=? WHERE id=?", (new_id, owner, bucket.id))
        except sqlite3.IntegrityError:
            raise StoreError(f"Bucket {new_id} already exists", status=409) from None

    def in_namespace(self, namespace: str) -> list[Bucket]:
        rows = self.store.reader().execute(
            "SELECT * FROM buckets WHERE bucket_id >= ? AND bucket_id < ? ORDER BY bucket_id",
            (namespace + "/", namespace + "0"),  # '0' follows '/': every 'namespace/…' id and no other
        )
        return [_bucket(r) for r in rows]

    def totals(self, bucket: Bucket) -> tuple[int, int]:
        """(bytes, files) held now."""
        row = self.store.reader().execute(
            "SELECT coalesce(sum(size), 0), count(*) FROM bucket_files WHERE bucket=?", (bucket.id,)
        )
        size, files = row.fetchone()
        return int(size), int(files)

    def info_json(self, bucket: Bucket) -> dict[str, Any]:
        size, files = self.totals(bucket)
        return {
            "id": bucket.bucket_id,
            "private": bucket.private,
            "createdAt": bucket.created_at,
            "updatedAt": bucket.updated_at,
            "size": size,
            "totalFiles": files,
        }

    # -- files ------------------------------------------------------------------------------------
    def file(self, bucket: Bucket, path: str) -> BucketFile | None:
        row = (
            self.store.reader()
            .execute(f"SELECT {_FILE_COLUMNS} FROM bucket_files WHERE bucket=? AND path=?", (bucket.id, path))
            .fetchone()
        )
        return BucketFile(*row) if row else None

    def files(self, bucket: Bucket, paths: list[str]) -> list[BucketFile]:
        """The files of `paths` that exist, in the order asked; missing ones are left out."""
        found = (self.file(bucket, p) for p in paths)
        return [f for f in found if f is not None]

    def page(self, bucket: Bucket, prefix: str, *, recursive: bool, after: str | None, limit: int) -> list[Listed]:
        """One page of the tree in path order, keyed by the last path sent (`after`).

        Recursive: every file whose path starts with `prefix` (lexically, as the Hub matches it).
        Otherwise one level under the folder `prefix` (files and folders), preceded by the file
        `prefix` itself if there is one (listing a file's path returns that file)."""
        if recursive:
            return [Listed(f.path, f) for f in self._scan(bucket, prefix, after, limit)]
        out: list[Listed] = []
        if prefix and after is None:
            own = self.file(bucket, prefix)
            if own is not None:
                out.append(Listed(own.path, own))
        base = prefix + "/" if prefix else ""
        bound = after if after is not None and after.startswith(base) else None
        while len(out) < limit:
            nxt = self._scan(bucket, base, bound, 1)
            if not nxt:
                break
            f = nxt[0]
            rest = f.path[len(base) :]
            if "/" in rest:
                folder = base + rest.split("/", 1)[0]
                out.append(Listed(folder, None, self._newest(bucket, folder + "/")))
                bound = out[-1].key
            else:
                out.append(Listed(f.path, f))
                bound = f.path
        return out

    def _scan(self, bucket: Bucket, prefix: str, after: str | None, limit: int) -> list[BucketFile]:
        """Files with paths starting with `prefix`, after `after`, in path order."""
        low = max(prefix, after) if after is not None else prefix
        op = ">" if after is not None and after >= prefix else ">="
        sql = f"SELECT {_FILE_COLUMNS} FROM bucket_files WHERE bucket=? AND path {op} ?"
        args: list[Any] = [bucket.id, low]
        if prefix:  # a range on the primary key: every path that starts with `prefix`
            sql += " AND path < ?"
            args.append(prefix[:-1] + chr(ord(prefix[-1]) + 1))
        sql += " ORDER BY path LIMIT ?"
        rows = self.store.reader().execute(sql, (*args, limit)).fetchall()
        return [BucketFile(*r) for r in rows]

    def _newest(self, bucket: Bucket, prefix: str) -> str | None:
        hi = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        sql = "SELECT max(uploaded_at) FROM bucket_files WHERE bucket=? AND path >= ? AND path < ?"
        return self.store.reader().execute(sql, (bucket.id, prefix, hi)).fetchone()[0]

    def iter_files(self, bucket: Bucket) -> Iterator[BucketFile]:
        after: str | None = None
        while page := self._scan(bucket, "", after, 5000):
            yield from page
            after = page[-1].path

    # -- batch ------------------------------------------------------------------------------------
    def apply(self, bucket: Bucket, ops: list[Any], source_ok: SourceCheck) -> BatchResult:
        """Apply NDJSON operations one by one (not atomic, as on the Hub). `source_ok(type, id,
        hash)` tells whether the caller may copy `hash` out of that repo or bucket."""
        result = BatchResult()
        now = now_iso()
        with self.store.transaction() as conn:
            for op in ops:
                path = op.get("path") if isinstance(op, dict) else None
                try:
                    change = self._apply_one(conn, bucket, op, now, source_ok)
                except StoreError as exc:
                    result.failed.append({"path": str(path), "error": str(exc)})
                    continue
                result.succeeded += 1
                if change is not None:
                    result.changes.append(change)
            if result.succeeded:
                conn.execute("UPDATE buckets SET updated_at=? WHERE id=?", (now, bucket.id))
        return result

    def _apply_one(
        self, conn: sqlite3.Connection, bucket: Bucket, op: Any, now: str, source_ok: SourceCheck
    ) -> dict[str, Any] | None:
        """Apply one operation; the change it made as the events feed reports it (None: nothing changed)."""
        if not isinstance(op, dict):
            raise StoreError("an operation must be a JSON object")
        kind = op.get("type")
        path = check_path(op.get("path"))
        existed = conn.execute("SELECT 1 FROM bucket_files WHERE bucket=? AND path=?", (bucket.id, path)).fetchone()
        if kind == "deleteFile":
            conn.execute("DELETE FROM bucket_files WHERE bucket=? AND path=?", (bucket.id, path))
            return {"path": path, "op": "delete"} if existed else None
        if kind not in ("addFile", "copyFile"):
            raise StoreError(f"unknown operation type {kind!r}")
        xet_hash = op.get("xetHash")
        if not isinstance(xet_hash, str) or not HEX64.fullmatch(xet_hash):
            raise StoreError("xetHash must be 64 lowercase hex digits")
        mtime = op.get("mtime")
        if not isinstance(mtime, int) or isinstance(mtime, bool) or mtime < 0:
            raise StoreError("mtime must be a non-negative integer (milliseconds)")
        if kind == "copyFile" and not source_ok(op.get("sourceRepoType"), op.get("sourceRepoId"), xet_hash):
            raise StoreError(f"Xet hash {xet_hash} not found in source {op.get('sourceRepoId')}")
        size = self.xet_size(xet_hash)
        if size is None:
            raise StoreError(f"Xet file {xet_hash} was never uploaded")
        content_type = op.get("contentType") if isinstance(op.get("contentType"), str) else None
        conn.execute(
            "INSERT OR REPLACE INTO bucket_files VALUES (?,?,?,?,?,?,?)",
            (bucket.id, path, xet_hash, size, mtime, now, content_type),
        )
        f = BucketFile(path, xet_hash, size, mtime, now, content_type).json()
        return {"path": path, "op": "update" if existed else "add", **{k: f[k] for k in _CHANGE_KEYS}}

    def xet_size(self, xet_hash: str) -> int | None:
        if xet_hash == EMPTY_HASH:
            return 0
        f = self.cas.file_by_hash(xet_hash)
        return f.size if f is not None else None

    def holds_hash(self, bucket: Bucket, xet_hash: str) -> bool:
        sql = "SELECT 1 FROM bucket_files WHERE bucket=? AND xet_hash=? LIMIT 1"
        return self.store.reader().execute(sql, (bucket.id, xet_hash)).fetchone() is not None

    def repo_holds(self, repo: Repo, xet_hash: str) -> bool:
        """Whether a commit of `repo` ever wrote the Xet file `xet_hash` (read from the store's history)."""
        f = self.cas.file_by_hash(xet_hash)
        sql = "SELECT 1 FROM changes WHERE repo=? AND sha256=? LIMIT 1"
        return f is not None and self.store.reader().execute(sql, (repo.id, f.sha256)).fetchone() is not None


def _bucket(row: tuple) -> Bucket:
    return Bucket(int(row[0]), row[1], row[2], bool(row[3]), row[4], row[5])


__all__ = [
    "EMPTY_HASH",
    "MAX_BATCH_OPS",
    "BatchResult",
    "Bucket",
    "BucketFile",
    "BucketStore",
    "Listed",
    "check_path",
    "iso_ms",
]
