"""Persistent state of the Hub emulator: repos, commits, file entries, blobs, users.

Metadata lives in one SQLite file (`hub.sqlite3`, WAL) so a 100k-file repo lists page by page
in O(page): entries are keyed by (repo, path) and a page is a keyset range scan from a cursor.
Content is addressed by sha256, so identical bytes are stored once: small blobs sit inline in
SQLite (one transaction seeds 100k files quickly), large ones are files under `blobs/`.

History is kept as the Hub keeps it: every commit (parents, title, author, date) and every
file version it wrote or deleted (`changes`). The tree of each branch is kept whole (`entries`,
one "tree" id per branch: `main`'s is the repo's own id), so the branches list and page fast; the
tree at a tag or an older commit is built from `changes` the first time it is asked for and kept
as a snapshot (the last `SNAPSHOTS_KEPT`). Unknown revisions are `RevisionNotFound`.

A repo is stored under its key: the repo id for a dataset, `models/<id>` or `spaces/<id>`
otherwise (`repo_key`); ids are matched without regard to case, as on the Hub.
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
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

LFS_THRESHOLD = 10 * 1024 * 1024  # the Hub stores files of 10 MiB or more as LFS
INLINE_MAX = 256 * 1024  # blobs up to this size live in SQLite, larger ones on disk
CHUNK = 1024 * 1024
MAIN = "main"
SNAPSHOTS_KEPT = 16  # trees of old commits / tags kept built
COMMITS_PAGE = 50  # list_repo_commits page size, as the Hub pages them
REPO_TYPES = ("dataset", "model", "space")

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
CREATE INDEX IF NOT EXISTS repos_nocase ON repos(repo_id COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS refs (
    repo INTEGER NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, target TEXT NOT NULL, tree INTEGER,
    message TEXT NOT NULL DEFAULT '', PRIMARY KEY (repo, kind, name));
CREATE TABLE IF NOT EXISTS renames (old TEXT PRIMARY KEY COLLATE NOCASE, repo INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (commit_oid TEXT PRIMARY KEY, tree INTEGER NOT NULL, used INTEGER NOT NULL);
"""
# Every file version a commit wrote (oid NOT NULL) or deleted (oid NULL): the history a tree at
# an older commit is rebuilt from. Created apart so that an older store can be filled from its heads.
CHANGES_SCHEMA = """
CREATE TABLE changes (
    repo INTEGER NOT NULL, path TEXT NOT NULL, commit_oid TEXT NOT NULL, oid TEXT, size INTEGER,
    sha256 TEXT, lfs INTEGER, PRIMARY KEY (repo, path, commit_oid)) WITHOUT ROWID;
CREATE INDEX changes_commit ON changes(commit_oid);
"""


class StoreError(Exception):
    """A request the store refuses; `code` is the Hub's X-Error-Code (or None), `status` HTTP."""

    def __init__(self, message: str, *, status: int = 400, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def repo_key(repo_id: str, repo_type: str = "dataset") -> str:
    """The store's key of a repo: its id for a dataset, `models/<id>` / `spaces/<id>` otherwise."""
    return repo_id if repo_type == "dataset" else f"{repo_type}s/{repo_id}"


@dataclass(frozen=True)
class Repo:
    """A repo as seen at one revision: `head` is the commit served, `tree` the id its files are
    kept under (`main` and the repo itself by default: see `Store.at_revision`)."""

    id: int
    repo_id: str
    owner: str
    private: bool
    gated: str | None  # None, "auto" or "manual"
    created_at: str
    head: str
    type: str = "dataset"
    tree: int = 0
    branch: str | None = MAIN  # the branch served, None at a tag or an older commit

    @property
    def key(self) -> str:
        return repo_key(self.repo_id, self.type)


@dataclass(frozen=True)
class Entry:
    """One file or directory of a tree (a branch, or a snapshot of an older commit)."""

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
    """A repo path as the Hub accepts it (leading/trailing `/` dropped); 422 otherwise: empty
    parts, `.` or `..` parts, a start in `..\\` (a backslash is a name's character in git, so
    `a/..\\b` is a fine name, but not one that begins the path by climbing), or `.git/`."""
    p = path.strip("/")
    parts = p.split("/")
    if not p or any(part in ("", ".", "..") for part in parts) or parts[0] == ".git" or p.startswith("..\\"):
        raise StoreError(f"Invalid path in repo: {path!r}", status=422)
    return p


def validate_ref_name(name: str) -> str:
    """A branch or tag name as git allows it (and the Hub: nothing under `refs/`); 400 otherwise."""
    bad = (
        not name
        or name.startswith(("refs/", "/", "-", "."))
        or name.endswith(("/", ".lock", "."))
        or ".." in name
        or "//" in name
        or "@{" in name
        or any(c in name for c in " ~^:?*[\\\x7f")
        or any(ord(c) < 32 for c in name)
    )
    if bad:
        raise StoreError(f"Invalid reference name: {name}", status=400)
    return name


@dataclass
class _Prepared:
    path: str
    sha256: str
    size: int
    lfs: bool
    oid: str


@dataclass(frozen=True)
class _Change:
    """One commit as `_write_commit` applies it: (path, sha256, size, lfs, git oid) additions,
    deleted paths and folders, on `branch` (checked against `parent_commit` when given)."""

    files: Sequence[tuple[str, str, int, bool, str]]
    title: str
    author: str
    branch: str = MAIN
    parent_commit: str | None = None
    deletions: Sequence[str] = ()
    deleted_folders: Sequence[str] = ()
    description: str = ""


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
        self._upgrade(conn)
        row = conn.execute("SELECT value FROM meta WHERE key='secret'").fetchone()
        if row is None:
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('secret', ?)", (secrets.token_hex(32),))
            row = conn.execute("SELECT value FROM meta WHERE key='secret'").fetchone()
        self.secret = bytes.fromhex(row[0])
        self._stored_json = any(c[1] == "json" for c in conn.execute("PRAGMA table_xinfo(entries)"))

    def _upgrade(self, conn: sqlite3.Connection) -> None:
        """Add what a store made by an older emulator lacks: commit authors, and a history whose
        first chapter is the file versions its heads hold (each under the commit that wrote it)."""
        cols = {c[1] for c in conn.execute("PRAGMA table_info(commits)")}
        if "author" not in cols:
            conn.execute("ALTER TABLE commits ADD COLUMN author TEXT NOT NULL DEFAULT 'system'")
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name='changes'").fetchone() is None:
            with self._write_lock, _tx(conn):
                for stmt in CHANGES_SCHEMA.split(";"):
                    if stmt.strip():
                        conn.execute(stmt)
                conn.execute(
                    "INSERT INTO changes (repo, path, commit_oid, oid, size, sha256, lfs)"
                    " SELECT repo, path, last_commit, oid, size, sha256, lfs FROM entries WHERE is_dir=0 AND repo>0"
                )

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
        self,
        repo_id: str,
        *,
        owner: str | None = None,
        private: bool = False,
        exist_ok: bool = False,
        repo_type: str = "dataset",
        author: str = "system",
        files: Sequence[tuple[str, bytes]] = (),
    ) -> Repo:
        """Create a repo with branch `main` and an initial commit (as the Hub does), holding
        `files` (the HTTP route passes the Hub's default `.gitattributes`)."""
        key = repo_key(repo_id, repo_type)
        namespace = key.split("/")[-2]
        existing = self.get_repo(key, follow_renames=False)
        if existing is not None:
            if exist_ok:
                return existing
            raise StoreError(f"repo {repo_id} already exists", status=409)
        adds = self._inline_files(files)
        with self._write_lock, _tx(self._conn()) as conn:
            cur = conn.execute(
                "INSERT INTO repos (repo_id, owner, private, created_at, head) VALUES (?,?,?,?,?)",
                (key, owner or namespace, int(private), now_iso(), ""),
            )
            repo = self._row_repo(
                conn.execute(f"SELECT {REPO_COLS} FROM repos WHERE id=?", (cur.lastrowid,)).fetchone()
            )
            self._write_commit(conn, repo, _Change(adds, "initial commit", author))
        created = self.get_repo(key)
        assert created is not None
        return created

    def get_repo(self, repo_id: str, repo_type: str = "dataset", *, follow_renames: bool = True) -> Repo | None:
        """The repo (at `main`) by id, in any case, or by a name it had before a move (the Hub
        redirects those); `repo_id` may also be a store key (`models/...`)."""
        key = repo_key(repo_id, repo_type)
        conn = self._conn()
        row = conn.execute(f"SELECT {REPO_COLS} FROM repos WHERE repo_id=? COLLATE NOCASE", (key,)).fetchone()
        if row is None and follow_renames:
            sql = f"SELECT {REPO_COLS} FROM repos WHERE id=(SELECT repo FROM renames WHERE old=?)"
            row = conn.execute(sql, (key,)).fetchone()
        return self._row_repo(row) if row else None

    @staticmethod
    def _row_repo(row: tuple) -> Repo:
        key = str(row[1])
        kind, _, rest = key.partition("/")
        rtype, public = (kind[:-1], rest) if key.count("/") == 2 and kind in ("models", "spaces") else ("dataset", key)
        return Repo(row[0], public, row[2], bool(row[3]), row[4], row[5], row[6], type=rtype, tree=row[0])

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

    def move_repo(self, repo_id: str, new_repo_id: str, repo_type: str = "dataset") -> Repo:
        """Rename a repo (history, refs and all); 409 if the new id is taken."""
        repo = self._need_repo(repo_key(repo_id, repo_type))
        new_key = repo_key(new_repo_id, repo_type)
        with self._write_lock, _tx(self._conn()) as conn:
            taken = conn.execute("SELECT 1 FROM repos WHERE repo_id=? COLLATE NOCASE AND id<>?", (new_key, repo.id))
            if taken.fetchone():
                raise StoreError(f"A {repo_type} repository called {new_repo_id} already exists", status=409)
            owner = new_repo_id.split("/")[0]
            conn.execute("UPDATE repos SET repo_id=?, owner=? WHERE id=?", (new_key, owner, repo.id))
            conn.execute("INSERT OR REPLACE INTO renames (old, repo) VALUES (?, ?)", (repo.key, repo.id))
        return self._need_repo(new_key)

    def delete_repo(self, repo_id: str) -> None:
        """Forget a repo's metadata, history and refs (blobs are shared and kept)."""
        repo = self._need_repo(repo_id)
        with self._write_lock, _tx(self._conn()) as conn:
            trees = [repo.id] + [
                r[0] for r in conn.execute("SELECT tree FROM refs WHERE repo=? AND tree IS NOT NULL", (repo.id,))
            ]
            snaps = conn.execute(
                "SELECT s.commit_oid, s.tree FROM snapshots s JOIN commits c ON c.oid = s.commit_oid WHERE c.repo=?",
                (repo.id,),
            ).fetchall()
            for tree in trees + [t for _, t in snaps]:
                conn.execute("DELETE FROM entries WHERE repo=?", (tree,))
            conn.executemany("DELETE FROM snapshots WHERE commit_oid=?", [(c,) for c, _ in snaps])
            conn.execute("DELETE FROM refs WHERE repo=?", (repo.id,))
            conn.execute("DELETE FROM renames WHERE repo=?", (repo.id,))
            conn.execute("DELETE FROM changes WHERE repo=?", (repo.id,))
            conn.execute("DELETE FROM commits WHERE repo=?", (repo.id,))
            conn.execute("DELETE FROM repos WHERE id=?", (repo.id,))

    def list_repos(self) -> list[Repo]:
        rows = self._conn().execute(f"SELECT {REPO_COLS} FROM repos ORDER BY repo_id").fetchall()
        return [self._row_repo(row) for row in rows]

    def _need_repo(self, repo_id: str) -> Repo:
        repo = self.get_repo(repo_id)
        if repo is None:
            raise StoreError(f"Repository {repo_id} not found", status=404, code="RepoNotFound")
        return repo

    # -- revisions, branches and tags ----------------------------------------------------------
    def at_revision(self, repo: Repo, revision: str) -> Repo:
        """The repo as served at `revision`: a branch, a tag, or a commit id of the repo (full
        40 hex). A branch (or a commit a branch points at) is served from the branch's tree; a
        tag or an older commit from a snapshot built from the history."""
        conn = self._conn()
        main_head = conn.execute("SELECT head FROM repos WHERE id=?", (repo.id,)).fetchone()
        if main_head is None:
            raise StoreError(f"Repository {repo.repo_id} not found", status=404, code="RepoNotFound")
        if revision in (MAIN, "refs/heads/main"):
            return replace(repo, head=main_head[0], tree=repo.id, branch=MAIN)
        name = revision.removeprefix("refs/heads/").removeprefix("refs/tags/")
        row = conn.execute(
            "SELECT kind, target, tree FROM refs WHERE repo=? AND name=? ORDER BY kind", (repo.id, name)
        ).fetchone()
        if row is not None and row[0] in ("branch", "pr"):
            return replace(repo, head=row[1], tree=row[2], branch=name)
        if row is not None:
            commit = str(row[1])
        else:
            commit = self._commit_by_id(repo, revision)
        if commit == main_head[0]:
            return replace(repo, head=commit, tree=repo.id, branch=MAIN)
        on_branch = conn.execute(
            "SELECT name, tree FROM refs WHERE repo=? AND kind IN ('branch', 'pr') AND target=?", (repo.id, commit)
        ).fetchone()
        if on_branch is not None:
            return replace(repo, head=commit, tree=on_branch[1], branch=on_branch[0])
        return replace(repo, head=commit, tree=self._snapshot(repo, commit), branch=None)

    def _commit_by_id(self, repo: Repo, revision: str) -> str:
        """A commit of the repo by its id, or by a unique prefix of 7 hex digits or more (as git)."""
        if 7 <= len(revision) <= 40 and all(c in "0123456789abcdef" for c in revision):
            rows = (
                self._conn()
                .execute(
                    "SELECT oid FROM commits WHERE repo=? AND oid>=? AND oid<? LIMIT 2",
                    (repo.id, revision, revision + "g"),
                )
                .fetchall()
            )
            if len(rows) == 1:
                return str(rows[0][0])
        raise StoreError(f"Invalid rev id: {revision}", status=404, code="RevisionNotFound")

    def resolve_revision(self, repo: Repo, revision: str) -> str:
        """The commit id served for `revision` (see `at_revision`)."""
        return self.at_revision(repo, revision).head

    def _snapshot(self, repo: Repo, commit: str) -> int:
        """The tree id of `commit`'s files, built from `changes` unless kept from before."""
        conn = self._conn()
        with self._write_lock, _tx(conn):
            row = conn.execute("SELECT tree FROM snapshots WHERE commit_oid=?", (commit,)).fetchone()
            if row is not None:
                conn.execute("UPDATE snapshots SET used=? WHERE commit_oid=?", (time.time_ns(), commit))
                return int(row[0])
            tree = _new_tree_id(conn)
            files = _files_at(conn, repo.id, commit)
            view = replace(repo, tree=tree)
            counts: dict[str, int] = {}
            for path, *_ in files:
                for d in parents_of(path):
                    counts[d] = counts.get(d, 0) + 1
            conn.executemany(
                "INSERT INTO entries (repo, path, parent, is_dir, oid, size, sha256, lfs, nchildren, last_commit)"
                " VALUES (?,?,?,0,?,?,?,?,0,?)",
                [(tree, path, parent_of(path), oid, size, sha, lfs, c) for path, oid, size, sha, lfs, c in files],
            )
            self._apply_dir_deltas(conn, view, counts, commit)
            conn.execute("INSERT INTO snapshots VALUES (?,?,?)", (commit, tree, time.time_ns()))
            old = conn.execute(
                "SELECT commit_oid, tree FROM snapshots ORDER BY used DESC LIMIT -1 OFFSET ?", (SNAPSHOTS_KEPT,)
            ).fetchall()
            for oid, old_tree in old:
                conn.execute("DELETE FROM entries WHERE repo=?", (old_tree,))
                conn.execute("DELETE FROM snapshots WHERE commit_oid=?", (oid,))
        return tree

    def create_branch(self, repo: Repo, name: str, *, start: str = MAIN) -> str:
        """A new branch at revision `start` (its tree copied); 409 if it exists. Returns its head."""
        validate_ref_name(name)
        source = self.at_revision(repo, start)
        with self._write_lock, _tx(self._conn()) as conn:
            if (
                name == MAIN
                or conn.execute(
                    "SELECT 1 FROM refs WHERE repo=? AND kind='branch' AND name=?", (repo.id, name)
                ).fetchone()
            ):
                raise StoreError(f"Reference refs/heads/{name} already exists", status=409)
            _copy_ref(conn, repo, "branch", name, source)
        return source.head

    def create_pr(self, repo: Repo, *, start: str = MAIN) -> tuple[int, str]:
        """A pull request's ref `refs/pr/N` at revision `start`, as `create_pr=1` opens one on the
        Hub (numbers count up per repo); (N, its ref name)."""
        source = self.at_revision(repo, start)
        with self._write_lock, _tx(self._conn()) as conn:
            n = 1 + conn.execute("SELECT count(*) FROM refs WHERE repo=? AND kind='pr'", (repo.id,)).fetchone()[0]
            _copy_ref(conn, repo, "pr", f"refs/pr/{n}", source)
        return n, f"refs/pr/{n}"

    def delete_branch(self, repo: Repo, name: str) -> None:
        if name == MAIN:
            raise StoreError(f"Cannot delete refs/heads/{MAIN}: it is the default branch", status=403)
        with self._write_lock, _tx(self._conn()) as conn:
            row = conn.execute(
                "SELECT tree FROM refs WHERE repo=? AND kind='branch' AND name=?", (repo.id, name)
            ).fetchone()
            if row is None:
                raise StoreError(f"Invalid rev id: {name}", status=404, code="RevisionNotFound")
            conn.execute("DELETE FROM entries WHERE repo=?", (row[0],))
            conn.execute("DELETE FROM refs WHERE repo=? AND kind='branch' AND name=?", (repo.id, name))

    def create_tag(self, repo: Repo, name: str, *, revision: str = MAIN, message: str = "") -> str:
        """Tag the commit `revision` names; 409 if the tag exists. Returns the commit id."""
        target = self.at_revision(repo, revision).head
        validate_ref_name(name)
        with self._write_lock, _tx(self._conn()) as conn:
            if conn.execute("SELECT 1 FROM refs WHERE repo=? AND kind='tag' AND name=?", (repo.id, name)).fetchone():
                raise StoreError(f"Tag already exists: {name}", status=409)
            conn.execute(
                "INSERT INTO refs (repo, kind, name, target, message) VALUES (?,?,?,?,?)",
                (repo.id, "tag", name, target, message),
            )
        return target

    def delete_tag(self, repo: Repo, name: str) -> None:
        with self._write_lock, _tx(self._conn()) as conn:
            cur = conn.execute("DELETE FROM refs WHERE repo=? AND kind='tag' AND name=?", (repo.id, name))
            if cur.rowcount == 0:
                raise StoreError(f"Invalid rev id: {name}", status=404, code="RevisionNotFound")

    def refs(self, repo: Repo) -> dict[str, list[tuple[str, str]]]:
        """{"branch": [(name, commit)...], "tag": [...], "pr": [...]}, `main` first, then by name."""
        conn = self._conn()
        main = conn.execute("SELECT head FROM repos WHERE id=?", (repo.id,)).fetchone()[0]
        out: dict[str, list[tuple[str, str]]] = {"branch": [(MAIN, main)], "tag": [], "pr": []}
        for kind_, name, target in conn.execute(
            "SELECT kind, name, target FROM refs WHERE repo=? ORDER BY name", (repo.id,)
        ):
            out[kind_].append((name, target))
        return out

    def commits(self, repo: Repo, *, offset: int = 0, limit: int = COMMITS_PAGE) -> list[dict]:
        """Commits reachable from `repo.head` (a view from `at_revision`), newest first:
        {"id", "parents", "title", "message", "author", "date"}."""
        rows = (
            self._conn()
            .execute(
                "WITH RECURSIVE anc(oid, depth) AS (SELECT ?, 0 UNION ALL"
                " SELECT c.parent, a.depth + 1 FROM commits c JOIN anc a ON c.oid = a.oid WHERE c.parent IS NOT NULL)"
                " SELECT c.oid, c.parent, c.title, c.description, c.author, c.created_at FROM anc a"
                " JOIN commits c ON c.oid = a.oid ORDER BY a.depth LIMIT ? OFFSET ?",
                (repo.head, limit, offset),
            )
            .fetchall()
        )
        return [
            {
                "id": r[0],
                "parents": [r[1]] if r[1] else [],
                "title": r[2],
                "message": r[3],
                "author": r[4],
                "date": r[5],
            }
            for r in rows
        ]

    def commit_info(self, oid: str) -> dict:
        row = self._conn().execute("SELECT oid, title, created_at, author FROM commits WHERE oid=?", (oid,)).fetchone()
        if row is None:
            return {"id": oid, "title": "", "date": now_iso(), "author": "system"}
        return {"id": row[0], "title": row[1], "date": row[2], "author": row[3]}

    def commit_count(self, repo: Repo) -> int:
        return len(self.commits(repo, limit=-1))

    # -- reads -------------------------------------------------------------------------------
    def entry(self, repo: Repo, path: str) -> Entry | None:
        row = (
            self._conn()
            .execute(
                f"SELECT {ENTRY_COLS} FROM entries e WHERE e.repo=? AND e.path=?",
                (repo.tree, path.strip("/")),
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
        return [row[0] for p in paths for row in conn.execute(sql, (repo.tree, p.strip("/"))).fetchall()]

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
        rows = self._conn().execute("SELECT path FROM entries WHERE repo=? AND is_dir=0 ORDER BY path", (repo.tree,))
        return [r[0] for r in rows]

    def file_count(self, repo: Repo) -> tuple[int, int]:
        """(number of files, total bytes) of the head."""
        row = (
            self._conn()
            .execute("SELECT count(*), coalesce(sum(size), 0) FROM entries WHERE repo=? AND is_dir=0", (repo.tree,))
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
        branch: str = MAIN,
        author: str = "system",
    ) -> str:
        """Seed files directly (no HTTP): one transaction, returns the new head commit id.

        Each addition is (path_in_repo, bytes or a local Path). `lfs=None` applies the Hub's
        rule (binary sample or >= 10 MiB); True/False forces it."""
        files: list[tuple[str, str, int, bool, str]] = []
        data_items: list[tuple[str, bytes]] = []
        for path, content in additions:
            if isinstance(content, (bytes, bytearray, memoryview)):
                data_items.append((path, bytes(content)))
            else:
                p = self._prepare_path(path, Path(content), lfs)
                files.append((p.path, p.sha256, p.size, p.lfs, p.oid))
        files += self._inline_files(data_items, lfs)
        return self.apply_commit(
            repo_id,
            files,
            list(deletions),
            title=message,
            description=description,
            deleted_folders=list(deleted_folders),
            branch=branch,
            author=author,
        )

    def _inline_files(
        self, items: Sequence[tuple[str, bytes]], lfs: bool | None = None
    ) -> list[tuple[str, str, int, bool, str]]:
        """Store these contents; their (path, sha256, size, lfs, git oid) for a commit."""
        out, blobs = [], []
        for path, data in items:
            sha = hashlib.sha256(data).hexdigest()
            blobs.append((sha, data))
            use_lfs = wants_lfs(data[:512], len(data)) if lfs is None else lfs
            out.append((path, sha, len(data), use_lfs, _git_oid(data, sha, use_lfs)))
        if blobs:
            self._put_blobs(blobs)
        return out

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
        branch: str = MAIN,
        author: str = "system",
    ) -> str:
        """Apply (path, sha256, size, lfs, git_oid) additions and deletions on `branch` atomically."""
        repo = self._need_repo(repo_id)
        with self._write_lock, _tx(self._conn()) as conn:
            change = _Change(
                files,
                title,
                author,
                branch=branch,
                parent_commit=parent_commit,
                deletions=deletions,
                deleted_folders=deleted_folders,
                description=description,
            )
            return self._write_commit(conn, repo, change)

    def _write_commit(self, conn: sqlite3.Connection, repo: Repo, change: _Change) -> str:
        """One commit on `change.branch` inside the caller's transaction: the branch's tree, the
        history (`changes`) and the branch head move together."""
        branch, parent_commit = change.branch, change.parent_commit
        adds = {validate_repo_path(p): (sha, size, lfs, oid) for p, sha, size, lfs, oid in change.files}
        dels = [validate_repo_path(p) for p in change.deletions]
        folders = [validate_repo_path(p) for p in change.deleted_folders]
        if branch == MAIN:
            head, tree = conn.execute("SELECT head FROM repos WHERE id=?", (repo.id,)).fetchone()[0] or None, repo.id
        else:
            row = conn.execute(
                "SELECT target, tree FROM refs WHERE repo=? AND kind IN ('branch', 'pr') AND name=?", (repo.id, branch)
            ).fetchone()
            if row is None:
                raise StoreError(f"Invalid rev id: {branch}", status=404, code="RevisionNotFound")
            head, tree = row
        if parent_commit is not None and parent_commit != head:
            raise StoreError(
                "The branch was updated since you opened this page. Please refresh and try again.", status=412
            )
        view = replace(repo, tree=tree)
        oid = _new_commit_oid(repo.key, head)
        deltas: dict[str, int] = {}
        removed: list[str] = []
        for path in dels:
            self._delete_file(conn, view, path, deltas, removed)
        for folder in folders:
            self._delete_folder(conn, view, folder, deltas, removed)
        self._add_files(conn, view, adds, oid, deltas)
        self._apply_dir_deltas(conn, view, deltas, oid)
        conn.executemany(
            "INSERT OR REPLACE INTO changes (repo, path, commit_oid, oid, size, sha256, lfs) VALUES (?,?,?,?,?,?,?)",
            [(repo.id, p, oid, None, None, None, None) for p in removed]
            + [(repo.id, p, oid, g, size, sha, int(lfs)) for p, (sha, size, lfs, g) in adds.items()],
        )
        conn.execute(
            "INSERT INTO commits (oid, repo, parent, title, description, created_at, author) VALUES (?,?,?,?,?,?,?)",
            (oid, repo.id, head, change.title, change.description, now_iso(), change.author),
        )
        if branch == MAIN:
            conn.execute("UPDATE repos SET head=? WHERE id=?", (oid, repo.id))
        else:
            conn.execute(
                "UPDATE refs SET target=? WHERE repo=? AND kind IN ('branch', 'pr') AND name=?", (oid, repo.id, branch)
            )
        return oid

    def _delete_file(
        self, conn: sqlite3.Connection, repo: Repo, path: str, deltas: dict[str, int], removed: list[str]
    ) -> None:
        """Delete a file; a folder's path deletes everything under it, as on the Hub."""
        row = conn.execute("SELECT is_dir FROM entries WHERE repo=? AND path=?", (repo.tree, path)).fetchone()
        if row is not None and row[0]:
            self._delete_folder(conn, repo, path, deltas, removed)
            return
        if row is None:
            raise StoreError(f"A file with this name doesn't exist: {path}", status=404, code="EntryNotFound")
        conn.execute("DELETE FROM entries WHERE repo=? AND path=?", (repo.tree, path))
        removed.append(path)
        for d in parents_of(path):
            deltas[d] = deltas.get(d, 0) - 1

    def _delete_folder(
        self, conn: sqlite3.Connection, repo: Repo, folder: str, deltas: dict[str, int], removed: list[str]
    ) -> None:
        rows = conn.execute(
            "SELECT path FROM entries WHERE repo=? AND is_dir=0 AND path>? AND path<?",
            (repo.tree, folder + "/", folder + "0"),
        ).fetchall()
        if not rows:
            raise StoreError(f"A folder with this name doesn't exist: {folder}", status=404, code="EntryNotFound")
        for (path,) in rows:
            self._delete_file(conn, repo, path, deltas, removed)

    def _add_files(
        self,
        conn: sqlite3.Connection,
        repo: Repo,
        adds: dict[str, tuple[str, int, bool, str]],
        oid: str,
        deltas: dict[str, int],
    ) -> None:
        existing = _existing(conn, repo.tree, list(adds))
        rows = []
        for path, (sha, size, lfs, git_oid) in adds.items():
            kind = existing.get(path)
            if kind == 1:
                raise StoreError(f"cannot add file {path}: a directory has that name", status=400)
            if kind is None:
                for d in parents_of(path):
                    deltas[d] = deltas.get(d, 0) + 1
            rows.append((repo.tree, path, parent_of(path), git_oid, size, sha, int(lfs), oid))
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
        current = _existing_dirs(conn, repo.tree, list(deltas))
        upserts, removals = [], []
        for d, delta in deltas.items():
            kind, count = current.get(d, (None, 0))
            if kind == 0:
                raise StoreError(f"cannot create directory {d}: a file has that name", status=400)
            total = count + delta
            if total <= 0:
                if kind is not None:
                    removals.append((repo.tree, d))
            else:
                upserts.append((repo.tree, d, parent_of(d), tree_oid(repo.key, d), total, oid))
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


REPO_COLS = "id, repo_id, owner, private, gated, created_at, head"
ENTRY_COLS = "e.path, e.is_dir, e.oid, e.size, e.sha256, e.lfs, e.last_commit"


def _range(repo: Repo, prefix: str, recursive: bool, after: str | None) -> tuple[str, tuple[Any, ...]]:
    """WHERE clause of a listing under `prefix` after cursor `after`: a keyset range scan on the
    primary key (recursive) or the parent index (one level)."""
    prefix = prefix.strip("/")
    if not recursive:
        return "e.repo=? AND e.parent=? AND e.path>?", (repo.tree, prefix, after or "")
    if prefix:
        return "e.repo=? AND e.path>? AND e.path<?", (repo.tree, after or prefix + "/", prefix + "0")
    return "e.repo=? AND e.path>?", (repo.tree, after or "")


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


def _copy_ref(conn: sqlite3.Connection, repo: Repo, kind: str, name: str, source: Repo) -> None:
    """A new branch or PR ref at `source`'s commit, with a copy of its tree."""
    tree = _new_tree_id(conn)
    conn.execute(
        "INSERT INTO entries (repo, path, parent, is_dir, oid, size, sha256, lfs, nchildren, last_commit)"
        " SELECT ?, path, parent, is_dir, oid, size, sha256, lfs, nchildren, last_commit FROM entries WHERE repo=?",
        (tree, source.tree),
    )
    conn.execute(
        "INSERT INTO refs (repo, kind, name, target, tree) VALUES (?,?,?,?,?)", (repo.id, kind, name, source.head, tree)
    )


def _new_tree_id(conn: sqlite3.Connection) -> int:
    """A fresh tree id for a branch or a snapshot: negative, so never a repo's own id."""
    row = conn.execute("SELECT value FROM meta WHERE key='trees'").fetchone()
    n = int(row[0]) + 1 if row else 1
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('trees', ?)", (str(n),))
    return -n


def _files_at(conn: sqlite3.Connection, repo: int, commit: str) -> list[tuple[str, str, int, str, int, str]]:
    """(path, oid, size, sha256, lfs, commit that wrote it) of every file at `commit`: for each
    path, the newest change among the commit's ancestors, unless that change deleted it."""
    return conn.execute(
        "WITH RECURSIVE anc(oid, depth) AS (SELECT ?, 0 UNION ALL"
        " SELECT c.parent, a.depth + 1 FROM commits c JOIN anc a ON c.oid = a.oid WHERE c.parent IS NOT NULL)"
        " SELECT path, oid, size, sha256, lfs, commit_oid FROM ("
        "  SELECT ch.*, row_number() OVER (PARTITION BY ch.path ORDER BY a.depth) AS rn"
        "  FROM changes ch JOIN anc a ON ch.commit_oid = a.oid WHERE ch.repo = ?)"
        " WHERE rn = 1 AND oid IS NOT NULL ORDER BY path",
        (commit, repo),
    ).fetchall()


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
