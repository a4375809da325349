"""Persistent state of the Hub emulator: repos, commits, file entries, blobs, users.

Metadata lives in one SQLite file (`hub.sqlite3`, WAL) so a 100k-file repo lists page by page
in O(page): entries are keyed by (repo, path) and a page is a keyset range scan from a cursor.
Content is addressed by sha256, so identical bytes are stored once: small blobs sit inline in
SQLite (one transaction seeds 100k files quickly), large ones are files under `blobs/`.

Only the head of `main` is kept (no per-file history). Earlier commit ids stay known and are
answered from the head (see docs/emulator.md); unknown revisions are `RevisionNotFound`.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import hmac
import os
import secrets
import sqlite3
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

LFS_THRESHOLD = 10 * 1024 * 1024  # the Hub stores files of 10 MiB or more as LFS
INLINE_MAX = 256 * 1024  # blobs up to this size live in SQLite, larger ones on disk
CHUNK = 1024 * 1024
MAIN = "main"

Content = bytes | Path


def lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


# len(lfs_pointer(sha256, size)) in SQL: the pointer's fixed text, then the oid's and the size's digits
_POINTER_SIZE = f"{len(lfs_pointer('', 0)) - 1} + length(coalesce(sha256, '')) + length(size)"
# An entry's JSON as the tree and paths-info answer it, before `lastCommit` and `xetHash` (which
# other tables decide): `lfs` on LFS files. Stored with the entry, so a page of a thousand costs
# ~1.5 ms to read instead of ~5 ms to render.
ENTRY_JSON = (
    "CASE WHEN is_dir THEN json_object('type', 'directory', 'oid', oid, 'size', 0, 'path', path)"
    " WHEN lfs THEN json_object('type', 'file', 'oid', oid, 'size', size, 'path', path,"
    f" 'lfs', json_object('oid', sha256, 'size', size, 'pointerSize', {_POINTER_SIZE}))"
    " ELSE json_object('type', 'file', 'oid', oid, 'size', size, 'path', path) END"
)

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, token TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS repos (
    id INTEGER PRIMARY KEY, repo_id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL,
    private INTEGER NOT NULL DEFAULT 0, gated TEXT, created_at TEXT NOT NULL, head TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS commits (
    oid TEXT PRIMARY KEY, repo INTEGER NOT NULL, parent TEXT, title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS commits_repo ON commits(repo);
CREATE TABLE IF NOT EXISTS entries (
    repo INTEGER NOT NULL, path TEXT NOT NULL, parent TEXT NOT NULL, is_dir INTEGER NOT NULL,
    oid TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT, lfs INTEGER NOT NULL DEFAULT 0,
    nchildren INTEGER NOT NULL DEFAULT 0, last_commit TEXT NOT NULL,
    json TEXT GENERATED ALWAYS AS ({ENTRY_JSON}) STORED,
    PRIMARY KEY (repo, path)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_parent ON entries(repo, parent, path);
CREATE TABLE IF NOT EXISTS blobs (sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, data BLOB) WITHOUT ROWID;
"""


class StoreError(Exception):
    """A request the store refuses; `code` is the Hub's X-Error-Code (or None), `status` HTTP."""

    def __init__(self, message: str, *, status: int = 400, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Repo:
    id: int
    repo_id: str
    owner: str
    private: bool
    gated: str | None  # None, "auto" or "manual"
    created_at: str
    head: str


@dataclass(frozen=True)
class Entry:
    """One file or directory of the head tree."""

    path: str
    is_dir: bool
    oid: str  # git blob sha1 (of the LFS pointer for LFS files), or a stable tree id
    size: int
    sha256: str | None
    lfs: bool
    last_commit: str


@dataclass(frozen=True)
class BlobInfo:
    sha256: str
    size: int
    inline: bytes | None
    path: Path | None


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def is_binary_sample(sample: bytes) -> bool:
    """The Hub's rule of thumb: NUL bytes or invalid UTF-8 in the first 512 bytes mean binary."""
    if b"\x00" in sample:
        return True
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample[:512], final=False)
    except UnicodeDecodeError:
        return True
    return False


def wants_lfs(sample: bytes, size: int) -> bool:
    return size >= LFS_THRESHOLD or is_binary_sample(sample)


def parents_of(path: str) -> list[str]:
    """Ancestor directories of a repo path, nearest last: 'a/b/c' -> ['a', 'a/b']."""
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def parent_of(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def tree_oid(repo_id: str, path: str) -> str:
    """A stable id for a directory (not git's tree hash: the head has no tree objects)."""
    return hashlib.sha1(f"tree {repo_id}/{path}".encode()).hexdigest()


def validate_repo_path(path: str) -> str:
    p = path.strip("/")
    if not p or any(part in ("", ".", "..") for part in p.split("/")) or p.startswith(".git/"):
        raise StoreError(f"invalid path in repo: {path!r}", status=400)
    return p


@dataclass
class _Prepared:
    path: str
    sha256: str
    size: int
    lfs: bool
    oid: str


class Store:
    """Repo state under `data_dir`; safe to share between threads (one SQLite connection each)."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.data_dir = Path(data_dir)
        self.blob_dir = self.data_dir / "blobs"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.data_dir / "hub.sqlite3"
        self._local = threading.local()
        self._write_lock = threading.Lock()
        conn = self._conn()
        conn.executescript(SCHEMA)
        row = conn.execute("SELECT value FROM meta WHERE key='secret'").fetchone()
        if row is None:
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('secret', ?)", (secrets.token_hex(32),))
            row = conn.execute("SELECT value FROM meta WHERE key='secret'").fetchone()
        self.secret = bytes.fromhex(row[0])
        self._stored_json = any(c[1] == "json" for c in conn.execute("PRAGMA table_xinfo(entries)"))

    # -- connections -----------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA cache_size=-65536")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on this thread's connection (for extensions such as Xet)."""
        with self._write_lock, _tx(self._conn()) as conn:
            yield conn

    def reader(self) -> sqlite3.Connection:
        """This thread's connection, for reads (and schema set-up by extensions)."""
        return self._conn()

    # -- users -------------------------------------------------------------------------------
    def add_user(self, name: str, token: str) -> None:
        with self._write_lock:
            self._conn().execute("INSERT OR REPLACE INTO users (name, token) VALUES (?, ?)", (name, token))

    def user_for_token(self, token: str) -> str | None:
        row = self._conn().execute("SELECT name FROM users WHERE token=?", (token,)).fetchone()
        return row[0] if row else None

    def users(self) -> list[str]:
        return [r[0] for r in self._conn().execute("SELECT name FROM users ORDER BY name")]

    # -- repos -------------------------------------------------------------------------------
    def create_repo(
        self, repo_id: str, *, owner: str | None = None, private: bool = False, exist_ok: bool = False
    ) -> Repo:
        """Create a dataset repo with branch `main` and an initial commit (as the Hub does)."""
        namespace = repo_id.split("/")[0]
        existing = self.get_repo(repo_id)
        if existing is not None:
            if exist_ok:
                return existing
            raise StoreError(f"repo {repo_id} already exists", status=409)
        oid = _new_commit_oid(repo_id, None)
        ts = now_iso()
        with self._write_lock, _tx(self._conn()) as conn:
            cur = conn.execute(
                "INSERT INTO repos (repo_id, owner, private, created_at, head) VALUES (?,?,?,?,?)",
                (repo_id, owner or namespace, int(private), ts, oid),
            )
            conn.execute(
                "INSERT INTO commits (oid, repo, parent, title, created_at) VALUES (?,?,?,?,?)",
                (oid, cur.lastrowid, None, "initial commit", ts),
            )
        repo = self.get_repo(repo_id)
        assert repo is not None
        return repo

    def get_repo(self, repo_id: str) -> Repo | None:
        row = (
            self._conn()
            .execute(
                "SELECT id, repo_id, owner, private, gated, created_at, head FROM repos WHERE repo_id=?", (repo_id,)
            )
            .fetchone()
        )
        return Repo(row[0], row[1], row[2], bool(row[3]), row[4], row[5], row[6]) if row else None

    def update_repo(self, repo_id: str, *, private: bool | None = None, gated: str | None | bool = None) -> Repo:
        """Change visibility / gating. `gated=False` clears it; "auto"/"manual"/True sets it."""
        repo = self._need_repo(repo_id)
        with self._write_lock, _tx(self._conn()) as conn:
            if private is not None:
                conn.execute("UPDATE repos SET private=? WHERE id=?", (int(private), repo.id))
            if gated is not None:
                value = None if gated is False else ("auto" if gated is True else str(gated))
                conn.execute("UPDATE repos SET gated=? WHERE id=?", (value, repo.id))
        return self._need_repo(repo_id)

    def delete_repo(self, repo_id: str) -> None:
        """Forget a repo's metadata (blobs are shared and kept)."""
        repo = self._need_repo(repo_id)
        with self._write_lock, _tx(self._conn()) as conn:
            conn.execute("DELETE FROM entries WHERE repo=?", (repo.id,))
            conn.execute("DELETE FROM commits WHERE repo=?", (repo.id,))
            conn.execute("DELETE FROM repos WHERE id=?", (repo.id,))

    def list_repos(self) -> list[Repo]:
        rows = self._conn().execute("SELECT repo_id FROM repos ORDER BY repo_id").fetchall()
        return [r for r in (self.get_repo(row[0]) for row in rows) if r is not None]

    def _need_repo(self, repo_id: str) -> Repo:
        repo = self.get_repo(repo_id)
        if repo is None:
            raise StoreError(f"Repository {repo_id} not found", status=404, code="RepoNotFound")
        return repo

    # -- revisions ---------------------------------------------------------------------------
    def resolve_revision(self, repo: Repo, revision: str) -> str:
        """Commit id served for `revision`: `main`, or any commit id this repo ever had.

        History is not kept, so every known commit answers with the head's content and id."""
        if revision == MAIN or revision == repo.head:
            return repo.head
        if len(revision) == 40 and all(c in "0123456789abcdef" for c in revision):
            row = self._conn().execute("SELECT 1 FROM commits WHERE oid=? AND repo=?", (revision, repo.id)).fetchone()
            if row:
                return repo.head
        raise StoreError(f"Invalid rev id: {revision}", status=404, code="RevisionNotFound")

    def commit_info(self, oid: str) -> dict:
        row = self._conn().execute("SELECT oid, title, created_at FROM commits WHERE oid=?", (oid,)).fetchone()
        if row is None:
            return {"id": oid, "title": "", "date": now_iso()}
        return {"id": row[0], "title": row[1], "date": row[2]}

    def commit_count(self, repo: Repo) -> int:
        return self._conn().execute("SELECT count(*) FROM commits WHERE repo=?", (repo.id,)).fetchone()[0]

    # -- reads -------------------------------------------------------------------------------
    def entry(self, repo: Repo, path: str) -> Entry | None:
        row = (
            self._conn()
            .execute(
                f"SELECT {ENTRY_COLS} FROM entries e WHERE e.repo=? AND e.path=?",
                (repo.id, path.strip("/")),
            )
            .fetchone()
        )
        return _entry(row) if row else None

    def file_info(self, repo_id: str, path: str) -> Entry | None:
        """Head entry of a file (None for missing paths and directories)."""
        e = self.entry(self._need_repo(repo_id), path)
        return e if e is not None and not e.is_dir else None

    def list_page(self, repo: Repo, prefix: str, *, recursive: bool, after: str | None, limit: int) -> list[Entry]:
        """Up to `limit` entries under `prefix` ('' = root) in path order, after cursor `after`."""
        where, args = _range(repo, prefix, recursive, after)
        sql = f"SELECT {ENTRY_COLS} FROM entries e WHERE {where} ORDER BY e.path LIMIT ?"
        return [_entry(r) for r in self._conn().execute(sql, (*args, limit)).fetchall()]

    def tree_json(
        self, repo: Repo, prefix: str, *, recursive: bool, after: str | None, limit: int, expand: bool, xet: bool
    ) -> list[tuple[str, str]]:
        """`list_page` as (path, the entry's JSON as the Hub answers it), rendered by SQLite: a
        page of a thousand entries costs the emulator ~1.5 ms from the stored JSON (~26 ms as a
        Python object each)."""
        where, args = _range(repo, prefix, recursive, after)
        rendered = _entry_json(expand, xet, self._stored_json)
        sql = f"SELECT e.path, {rendered} FROM entries e WHERE {where} ORDER BY e.path LIMIT ?"
        return self._conn().execute(sql, (*args, limit)).fetchall()

    def paths_json(self, repo: Repo, paths: list[str], *, expand: bool, xet: bool) -> list[str]:
        """The entries of these paths (those that exist, in the order asked), as `tree_json` renders them."""
        sql = f"SELECT {_entry_json(expand, xet, self._stored_json)} FROM entries e WHERE e.repo=? AND e.path=?"
        conn = self._conn()
        return [row[0] for p in paths for row in conn.execute(sql, (repo.id, p.strip("/"))).fetchall()]

    def iter_entries(self, repo: Repo, *, files_only: bool = True, page: int = 5000) -> Iterator[Entry]:
        after: str | None = None
        while True:
            batch = self.list_page(repo, "", recursive=True, after=after, limit=page)
            for e in batch:
                if not (files_only and e.is_dir):
                    yield e
            if len(batch) < page:
                return
            after = batch[-1].path

    def list_paths(self, repo_id: str) -> list[str]:
        """All file paths of the head, sorted."""
        repo = self._need_repo(repo_id)
        rows = self._conn().execute("SELECT path FROM entries WHERE repo=? AND is_dir=0 ORDER BY path", (repo.id,))
        return [r[0] for r in rows]

    def file_count(self, repo: Repo) -> tuple[int, int]:
        """(number of files, total bytes) of the head."""
        row = (
            self._conn()
            .execute("SELECT count(*), coalesce(sum(size), 0) FROM entries WHERE repo=? AND is_dir=0", (repo.id,))
            .fetchone()
        )
        return int(row[0]), int(row[1])

    # -- blobs -------------------------------------------------------------------------------
    def blob(self, sha256: str) -> BlobInfo | None:
        row = self._conn().execute("SELECT size, data FROM blobs WHERE sha256=?", (sha256,)).fetchone()
        if row is None:
            return None
        data = bytes(row[1]) if row[1] is not None else None
        return BlobInfo(sha256, row[0], data, None if data is not None else self._blob_path(sha256))

    def has_blob(self, sha256: str, size: int | None = None) -> bool:
        b = self.blob(sha256)
        return b is not None and (size is None or b.size == size)

    def read_blob(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes [start, end) of a blob, in chunks."""
        b = self.blob(sha256)
        if b is None:
            raise StoreError(f"blob {sha256} missing", status=404, code="EntryNotFound")
        stop = b.size if end is None else min(end, b.size)
        if b.inline is not None:
            yield b.inline[start:stop]
            return
        assert b.path is not None
        with open(b.path, "rb") as fh:
            fh.seek(start)
            left = stop - start
            while left > 0:
                chunk = fh.read(min(CHUNK, left))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk

    def put_blob_bytes(self, data: bytes) -> str:
        """Store bytes by sha256 (no-op if present); returns the sha256."""
        sha = hashlib.sha256(data).hexdigest()
        self._put_blobs([(sha, data)])
        return sha

    def put_blob_stream(
        self, chunks: Iterable[bytes], *, expect_sha256: str | None = None, expect_size: int | None = None
    ) -> tuple[str, int]:
        """Store a stream of bytes, checking the announced sha256/size before it becomes visible."""
        writer = self.blob_writer()
        try:
            for chunk in chunks:
                writer.write(chunk)
        except BaseException:
            writer.abort()
            raise
        return writer.finish(expect_sha256=expect_sha256, expect_size=expect_size)

    def blob_writer(self) -> "BlobWriter":
        """An incremental writer (used by the LFS PUT handler while the body streams in)."""
        return BlobWriter(self)

    def put_blob_file(self, path: Path) -> tuple[str, int]:
        with open(path, "rb") as fh:
            return self.put_blob_stream(iter(lambda: fh.read(CHUNK), b""))

    def _blob_path(self, sha256: str) -> Path:
        return self.blob_dir / sha256[:2] / sha256[2:4] / sha256

    def _adopt_file(self, sha: str, size: int, tmp: Path) -> None:
        if self.has_blob(sha):
            return
        if size <= INLINE_MAX:
            self._put_blobs([(sha, tmp.read_bytes())])
            return
        dest = self._blob_path(sha)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, dest)
        with self._write_lock:
            self._conn().execute("INSERT OR IGNORE INTO blobs (sha256, size, data) VALUES (?,?,NULL)", (sha, size))

    def _put_blobs(self, items: Sequence[tuple[str, bytes]]) -> None:
        big = [(s, d) for s, d in items if len(d) > INLINE_MAX]
        for sha, data in big:
            dest = self._blob_path(sha)
            if not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                tmp = dest.with_suffix(".tmp" + secrets.token_hex(4))
                tmp.write_bytes(data)
                os.replace(tmp, dest)
        rows = [(s, len(d), None if len(d) > INLINE_MAX else d) for s, d in items]
        with self._write_lock, _tx(self._conn()) as conn:
            conn.executemany("INSERT OR IGNORE INTO blobs (sha256, size, data) VALUES (?,?,?)", rows)

    # -- commits -----------------------------------------------------------------------------
    def commit(
        self,
        repo_id: str,
        additions: Iterable[tuple[str, Content]] = (),
        deletions: Iterable[str] = (),
        *,
        message: str = "commit",
        description: str = "",
        lfs: bool | None = None,
        deleted_folders: Iterable[str] = (),
    ) -> str:
        """Seed files directly (no HTTP): one transaction, returns the new head commit id.

        Each addition is (path_in_repo, bytes or a local Path). `lfs=None` applies the Hub's
        rule (binary sample or >= 10 MiB); True/False forces it."""
        prepared: list[_Prepared] = []
        blobs: list[tuple[str, bytes]] = []
        for path, content in additions:
            if isinstance(content, (bytes, bytearray, memoryview)):
                data = bytes(content)
                sha = hashlib.sha256(data).hexdigest()
                blobs.append((sha, data))
                use_lfs = wants_lfs(data[:512], len(data)) if lfs is None else lfs
                prepared.append(_Prepared(path, sha, len(data), use_lfs, _git_oid(data, sha, use_lfs)))
            else:
                prepared.append(self._prepare_path(path, Path(content), lfs))
        if blobs:
            self._put_blobs(blobs)
        return self.apply_commit(
            repo_id,
            [(p.path, p.sha256, p.size, p.lfs, p.oid) for p in prepared],
            list(deletions),
            title=message,
            description=description,
            deleted_folders=list(deleted_folders),
        )

    def _prepare_path(self, path: str, src: Path, lfs: bool | None) -> _Prepared:
        with open(src, "rb") as fh:
            sample = fh.read(512)
        size = src.stat().st_size
        use_lfs = wants_lfs(sample, size) if lfs is None else lfs
        sha, size = self.put_blob_file(src)
        oid = git_blob_sha1(lfs_pointer(sha, size)) if use_lfs else _git_sha1_of_blob(self, sha, size)
        return _Prepared(path, sha, size, use_lfs, oid)

    def apply_commit(
        self,
        repo_id: str,
        files: Sequence[tuple[str, str, int, bool, str]],
        deletions: Sequence[str],
        *,
        title: str,
        description: str = "",
        parent_commit: str | None = None,
        deleted_folders: Sequence[str] = (),
    ) -> str:
        """Apply (path, sha256, size, lfs, git_oid) additions and deletions on `main` atomically."""
        repo = self._need_repo(repo_id)
        adds = {validate_repo_path(p): (sha, size, lfs, oid) for p, sha, size, lfs, oid in files}
        dels = [validate_repo_path(p) for p in deletions]
        folders = [validate_repo_path(p) for p in deleted_folders]
        with self._write_lock, _tx(self._conn()) as conn:
            head = conn.execute("SELECT head FROM repos WHERE id=?", (repo.id,)).fetchone()[0]
            if parent_commit is not None and parent_commit != head:
                raise StoreError("A commit has happened since. Please refresh and try again.", status=412)
            oid = _new_commit_oid(repo_id, head)
            deltas: dict[str, int] = {}
            for path in dels:
                self._delete_file(conn, repo, path, deltas)
            for folder in folders:
                self._delete_folder(conn, repo, folder, deltas)
            self._add_files(conn, repo, adds, oid, deltas)
            self._apply_dir_deltas(conn, repo, deltas, oid)
            conn.execute(
                "INSERT INTO commits (oid, repo, parent, title, description, created_at) VALUES (?,?,?,?,?,?)",
                (oid, repo.id, head, title, description, now_iso()),
            )
            conn.execute("UPDATE repos SET head=? WHERE id=?", (oid, repo.id))
        return oid

    def _delete_file(self, conn: sqlite3.Connection, repo: Repo, path: str, deltas: dict[str, int]) -> None:
        row = conn.execute("SELECT is_dir FROM entries WHERE repo=? AND path=?", (repo.id, path)).fetchone()
        if row is None or row[0]:
            raise StoreError(f"A file with this name doesn't exist: {path}", status=404, code="EntryNotFound")
        conn.execute("DELETE FROM entries WHERE repo=? AND path=?", (repo.id, path))
        for d in parents_of(path):
            deltas[d] = deltas.get(d, 0) - 1

    def _delete_folder(self, conn: sqlite3.Connection, repo: Repo, folder: str, deltas: dict[str, int]) -> None:
        rows = conn.execute(
            "SELECT path FROM entries WHERE repo=? AND is_dir=0 AND path>? AND path<?",
            (repo.id, folder + "/", folder + "0"),
        ).fetchall()
        if not rows:
            raise StoreError(f"A folder with this name doesn't exist: {folder}", status=404, code="EntryNotFound")
        for (path,) in rows:
            self._delete_file(conn, repo, path, deltas)

    def _add_files(
        self,
        conn: sqlite3.Connection,
        repo: Repo,
        adds: dict[str, tuple[str, int, bool, str]],
        oid: str,
        deltas: dict[str, int],
    ) -> None:
        existing = _existing(conn, repo.id, list(adds))
        rows = []
        for path, (sha, size, lfs, git_oid) in adds.items():
            kind = existing.get(path)
            if kind == 1:
                raise StoreError(f"cannot add file {path}: a directory has that name", status=400)
            if kind is None:
                for d in parents_of(path):
                    deltas[d] = deltas.get(d, 0) + 1
            rows.append((repo.id, path, parent_of(path), git_oid, size, sha, int(lfs), oid))
        conn.executemany(
            "INSERT OR REPLACE INTO entries"
            " (repo, path, parent, is_dir, oid, size, sha256, lfs, nchildren, last_commit)"
            " VALUES (?,?,?,0,?,?,?,?,0,?)",
            rows,
        )

    def _apply_dir_deltas(self, conn: sqlite3.Connection, repo: Repo, deltas: dict[str, int], oid: str) -> None:
        """Directories hold a count of the files below them; they vanish at zero, as in git."""
        if not deltas:
            return
        current = _existing_dirs(conn, repo.id, list(deltas))
        upserts, removals = [], []
        for d, delta in deltas.items():
            kind, count = current.get(d, (None, 0))
            if kind == 0:
                raise StoreError(f"cannot create directory {d}: a file has that name", status=400)
            total = count + delta
            if total <= 0:
                if kind is not None:
                    removals.append((repo.id, d))
            else:
                upserts.append((repo.id, d, parent_of(d), tree_oid(repo.repo_id, d), total, oid))
        conn.executemany("DELETE FROM entries WHERE repo=? AND path=?", removals)
        conn.executemany(
            "INSERT INTO entries (repo, path, parent, is_dir, oid, size, sha256, lfs, nchildren, last_commit)"
            " VALUES (?,?,?,1,?,0,NULL,0,?,?) ON CONFLICT(repo, path) DO UPDATE SET"
            " nchildren=excluded.nchildren, last_commit=excluded.last_commit",
            upserts,
        )

    # -- signed URLs -------------------------------------------------------------------------
    def sign(self, purpose: str, oid: str, expires: int) -> str:
        msg = f"{purpose}:{oid}:{expires}".encode()
        return hmac.new(self.secret, msg, hashlib.sha256).hexdigest()

    def check_signature(self, purpose: str, oid: str, expires: str, sig: str) -> bool:
        try:
            exp = int(expires)
        except ValueError:
            return False
        return exp >= time.time() and hmac.compare_digest(self.sign(purpose, oid, exp), sig)


class BlobWriter:
    """Write a blob in pieces to a temp file, hashing as it goes; `finish` checks and stores it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._hash = hashlib.sha256()
        self.size = 0
        fd, tmp = tempfile.mkstemp(dir=store.blob_dir, prefix=".upload-")
        self._tmp = Path(tmp)
        self._fh = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self.size += len(chunk)
        self._fh.write(chunk)

    def finish(self, *, expect_sha256: str | None = None, expect_size: int | None = None) -> tuple[str, int]:
        try:
            self._fh.close()
            sha = self._hash.hexdigest()
            if expect_sha256 is not None and sha != expect_sha256:
                raise StoreError(f"content sha256 {sha} does not match oid {expect_sha256}", status=400)
            if expect_size is not None and self.size != expect_size:
                raise StoreError(f"content size {self.size} does not match announced size {expect_size}", status=400)
            self.store._adopt_file(sha, self.size, self._tmp)
            return sha, self.size
        finally:
            self.abort()

    def abort(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        if self._tmp.exists():
            self._tmp.unlink()


class _tx:
    """BEGIN IMMEDIATE ... COMMIT/ROLLBACK on an autocommit connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


ENTRY_COLS = "e.path, e.is_dir, e.oid, e.size, e.sha256, e.lfs, e.last_commit"


def _range(repo: Repo, prefix: str, recursive: bool, after: str | None) -> tuple[str, tuple[Any, ...]]:
    """WHERE clause of a listing under `prefix` after cursor `after`: a keyset range scan on the
    primary key (recursive) or the parent index (one level)."""
    prefix = prefix.strip("/")
    if not recursive:
        return "e.repo=? AND e.parent=? AND e.path>?", (repo.id, prefix, after or "")
    if prefix:
        return "e.repo=? AND e.path>? AND e.path<?", (repo.id, after or prefix + "/", prefix + "0")
    return "e.repo=? AND e.path>?", (repo.id, after or "")


def _entry_json(expand: bool, xet: bool, stored: bool) -> str:
    """SQL for an entry's JSON in the tree / paths-info shape, as the Hub answers it: the stored
    `ENTRY_JSON` (rendered here for a store made before it was stored), `lastCommit` with
    `expand`, `xetHash` on files stored over Xet when Xet is on."""
    out = "e.json" if stored else f"({ENTRY_JSON})"
    if expand:
        commit = "SELECT json_object('id', c.oid, 'title', c.title, 'date', c.created_at) FROM commits c"
        out = f"json_set({out}, '$.lastCommit', json(({commit} WHERE c.oid = e.last_commit)))"
    if xet:
        xet_hash = "(SELECT x.xet_hash FROM xet_files x WHERE x.sha256 = e.sha256 LIMIT 1)"
        out = f"CASE WHEN e.lfs AND {xet_hash} IS NOT NULL THEN json_set({out}, '$.xetHash', {xet_hash}) ELSE {out} END"
    return out


def _entry(row: tuple) -> Entry:
    return Entry(row[0], bool(row[1]), row[2], row[3], row[4], bool(row[5]), row[6])


def _chunks(items: list[str], n: int = 500) -> Iterator[list[str]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _existing(conn: sqlite3.Connection, repo: int, paths: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for chunk in _chunks(paths):
        q = ",".join("?" * len(chunk))
        for path, is_dir in conn.execute(
            f"SELECT path, is_dir FROM entries WHERE repo=? AND path IN ({q})", (repo, *chunk)
        ):
            out[path] = is_dir
    return out


def _existing_dirs(conn: sqlite3.Connection, repo: int, paths: list[str]) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for chunk in _chunks(paths):
        q = ",".join("?" * len(chunk))
        sql = f"SELECT path, is_dir, nchildren FROM entries WHERE repo=? AND path IN ({q})"
        for path, is_dir, n in conn.execute(sql, (repo, *chunk)):
            out[path] = (is_dir, n)
    return out


def _git_oid(data: bytes, sha256: str, lfs: bool) -> str:
    return git_blob_sha1(lfs_pointer(sha256, len(data))) if lfs else git_blob_sha1(data)


def _git_sha1_of_blob(store: Store, sha256: str, size: int) -> str:
    h = hashlib.sha1(b"blob %d\0" % size)
    for chunk in store.read_blob(sha256):
        h.update(chunk)
    return h.hexdigest()


def _new_commit_oid(repo_id: str, parent: str | None) -> str:
    return hashlib.sha1(f"{repo_id}:{parent}:{time.time_ns()}:{secrets.token_hex(8)}".encode()).hexdigest()


__all__ = [
    "BlobInfo",
    "Entry",
    "LFS_THRESHOLD",
    "MAIN",
    "Repo",
    "Store",
    "StoreError",
    "git_blob_sha1",
    "is_binary_sample",
    "lfs_pointer",
    "wants_lfs",
]
