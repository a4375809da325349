"""hfcheck's own state database, `data_dir/state.db` (never the users' database).

Why a separate database: the users' `tweets` table records *where* a backup should be; this
one records *what the Hub confirmed* — for each file hfcheck uploaded, its ciphertext sha256
(= the LFS oid), size and the commit that carried it. A later run can then tell "uploaded and
confirmed" from "recorded but never confirmed" without asking the Hub, and a deep check
(download + decrypt) can be scheduled from `deep_checks`.

Plain `sqlite3` in WAL mode behind a lock: every call is short, and async callers run them with
`asyncio.to_thread` so the event loop never waits on an fsync.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hfcheck.errors import InputError
from hfcheck.report.catalog import msg

SCHEMA_VERSION = 1
FINAL_ON_X = frozenset({"deleted", "not_found"})  # X's answers (XLookup.status) that will not change
STATE_DB_NAME = "state.db"
# deep-check results of a backup that was read back and decrypted (hfcheck.readback.deep's categories)
DECRYPTED_RESULTS = frozenset({"deep_ok", "differs", "local_missing"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    repo_id     TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    sha256      TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    commit_oid  TEXT,
    uploaded_at REAL    NOT NULL,
    source      TEXT,
    PRIMARY KEY (repo_id, path)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deep_checks (
    repo_id    TEXT NOT NULL,
    path       TEXT NOT NULL,
    checked_at REAL NOT NULL,
    result     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deep_checks_by_path ON deep_checks (repo_id, path, checked_at);
CREATE TABLE IF NOT EXISTS migrations (
    repo_id      TEXT NOT NULL,
    path         TEXT NOT NULL,
    new_repo     TEXT NOT NULL,
    new_path     TEXT NOT NULL,
    tweet_id     TEXT NOT NULL,
    scheme       TEXT NOT NULL,
    plain_sha256 TEXT NOT NULL,
    verified_at  REAL NOT NULL,
    recorded_at  REAL,
    deleted_at   REAL,
    delete_commit TEXT,
    PRIMARY KEY (repo_id, path)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS x_lookups (
    tweet_id   TEXT PRIMARY KEY,
    status     TEXT NOT NULL,
    reason     TEXT NOT NULL,
    checked_at REAL NOT NULL
) WITHOUT ROWID;
"""

_PAGE = 1000


class Uploadable(Protocol):
    """What `record_uploads` needs of an item (`hfcheck.write.commit.Staged` is one)."""

    @property
    def repo_id(self) -> str: ...
    @property
    def path_in_repo(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def source(self) -> str | None: ...


@dataclass(frozen=True)
class UploadRecord:
    """One file the Hub confirmed: `sha256` is of the ciphertext (the LFS oid)."""

    repo_id: str
    path: str
    sha256: str
    size: int
    commit_oid: str | None
    uploaded_at: float
    source: str | None


@dataclass(frozen=True)
class DeepCheck:
    """The outcome of one deep verification (e.g. "ok", "corrupt", "missing")."""

    repo_id: str
    path: str
    checked_at: float
    result: str


@dataclass(frozen=True)
class Migration:
    """One backup re-encrypted by `migrate`: the old file (repo_id, path) and its replacement.

    verified_at: the replacement is committed and was read back (decrypts to the same plaintext
    sha256); recorded_at: the user's row points to it; deleted_at: the old file was deleted
    (only ever after both, in a later commit)."""

    repo_id: str
    path: str
    new_repo: str
    new_path: str
    tweet_id: str
    scheme: str
    plain_sha256: str
    verified_at: float
    recorded_at: float | None
    deleted_at: float | None
    delete_commit: str | None


@dataclass(frozen=True)
class XLookup:
    """What X last said of a tweet whose media list was lost (twscrape's answer, classified)."""

    tweet_id: str
    status: str
    reason: str
    checked_at: float


class StateDB:
    """Handle on `state.db`; safe to share between threads (one connection, one lock)."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self.path = path

    @classmethod
    def open(cls, path: Path) -> StateDB:
        """Open (creating if needed) the state database at `path`; InputError if it is not one."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                conn.close()
                raise InputError(msg("err_state_newer", path=path, version=version))
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=10000")
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise InputError(msg("err_state_unusable", path=path, error=str(exc))) from None
        return cls(conn, path)

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> StateDB:
        """`data_dir/state.db`, the place every command uses."""
        return cls.open(Path(data_dir) / STATE_DB_NAME)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> StateDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- uploads --------------------------------------------------------------------------
    def record_uploads(
        self, items: Iterable[Uploadable], commit_oid: str | None, *, uploaded_at: float | None = None
    ) -> int:
        """Record files the Hub confirmed, in one transaction (all or none); returns the count.

        A row for the same (repo, path) is replaced: the newest confirmed content wins.
        """
        when = time.time() if uploaded_at is None else uploaded_at
        rows = [
            (i.repo_id, i.path_in_repo, i.sha256, i.size, commit_oid, when, getattr(i, "source", None)) for i in items
        ]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany("INSERT OR REPLACE INTO uploads VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        return len(rows)

    def get_upload(self, repo_id: str, path: str) -> UploadRecord | None:
        """The confirmed upload of `path` in `repo_id`, if hfcheck made one."""
        with self._lock:
            row = self._conn.execute("SELECT * FROM uploads WHERE repo_id = ? AND path = ?", (repo_id, path)).fetchone()
        return UploadRecord(*row) if row else None

    def iter_uploads(self, repo_id: str | None = None) -> Iterator[UploadRecord]:
        """All confirmed uploads (of one repo, or all), in (repo, path) order.

        Paged by key so a million rows never sit in memory and no cursor stays open between
        pages (other threads may write meanwhile).
        """
        after: tuple[str, str] = ("", "")
        while True:
            if repo_id is None:
                sql = "SELECT * FROM uploads WHERE (repo_id, path) > (?, ?) ORDER BY repo_id, path LIMIT ?"
                args: tuple[object, ...] = (*after, _PAGE)
            else:
                sql = "SELECT * FROM uploads WHERE repo_id = ? AND path > ? ORDER BY path LIMIT ?"
                args = (repo_id, after[1], _PAGE)
            with self._lock:
                rows = self._conn.execute(sql, args).fetchall()
            for row in rows:
                yield UploadRecord(*row)
            if len(rows) < _PAGE:
                return
            after = (rows[-1][0], rows[-1][1])

    def count_uploads(self, repo_id: str | None = None) -> int:
        """How many confirmed uploads are recorded (of one repo, or all)."""
        with self._lock:
            if repo_id is None:
                return int(self._conn.execute("SELECT COUNT(*) FROM uploads").fetchone()[0])
            return int(self._conn.execute("SELECT COUNT(*) FROM uploads WHERE repo_id = ?", (repo_id,)).fetchone()[0])

    def forget_uploads(self, keys: Iterable[tuple[str, str]]) -> int:
        """Drop the records of files that are gone from the repo and from every row: nothing
        refers to them, and a record kept would be reported missing for ever. How many."""
        rows = list(keys)
        with self._lock:
            self._conn.executemany("DELETE FROM uploads WHERE repo_id = ? AND path = ?", rows)
        return len(rows)

    def accept_listed(self, repo_id: str, path: str, sha256: str | None, size: int | None) -> None:
        """A file replaced on the Hub since hfcheck uploaded it, then read back and decrypted:
        its listed content is what the listing is compared with from now on."""
        with self._lock:
            self._conn.execute(
                "UPDATE uploads SET sha256 = coalesce(?, sha256), size = coalesce(?, size)"
                " WHERE repo_id = ? AND path = ?",
                (sha256, size, repo_id, path),
            )

    # -- deep checks ----------------------------------------------------------------------
    def record_deep_check(self, repo_id: str, path: str, result: str, *, checked_at: float | None = None) -> None:
        """Append the outcome of one deep check; history is kept, the latest one counts."""
        when = time.time() if checked_at is None else checked_at
        with self._lock:
            self._conn.execute("INSERT INTO deep_checks VALUES (?, ?, ?, ?)", (repo_id, path, when, result))

    def unreadable_backups(self) -> list[tuple[str, str]]:
        """(repo, path) whose latest read-back failed to decrypt and that nobody uploaded since:
        what `repair` re-uploads from the local file."""
        with self._lock:
            rows = self._conn.execute(
                """SELECT d.repo_id, d.path FROM deep_checks d
                   WHERE d.result = 'decrypt_failed'
                     AND d.checked_at = (SELECT max(checked_at) FROM deep_checks l
                                         WHERE l.repo_id = d.repo_id AND l.path = d.path)
                     AND NOT EXISTS (SELECT 1 FROM uploads u
                                     WHERE u.repo_id = d.repo_id AND u.path = d.path
                                       AND u.uploaded_at >= d.checked_at)
                   GROUP BY d.repo_id, d.path ORDER BY d.repo_id, d.path"""
            ).fetchall()
        return [(r[0], r[1]) for r in rows]

    # -- migrations -----------------------------------------------------------------------
    def record_migration_verified(
        self,
        old: tuple[str, str],
        new: tuple[str, str],
        tweet_id: str,
        scheme: str,
        plain_sha256: str,
        *,
        at: float | None = None,
    ) -> None:
        """The replacement of `old` is committed at `new` and read back: the first fact a
        deletion needs. A new replacement of the same old file starts its record afresh."""
        when = time.time() if at is None else at
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO migrations VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL)",
                (*old, *new, tweet_id, scheme, plain_sha256, when),
            )

    def mark_migrations(
        self, column: str, keys: Iterable[tuple[str, str]], *, at: float | None = None, commit: str | None = None
    ) -> None:
        """Set `recorded_at` or `deleted_at` (with the deletion's commit) of old files, in one
        transaction; a deleted file's upload record goes with it (`verify --deep` would report it absent)."""
        if column not in ("recorded_at", "deleted_at"):
            raise ValueError(column)
        when = time.time() if at is None else at
        extra = ", delete_commit = ?" if column == "deleted_at" else ""
        rows = [(when, *([commit] if extra else []), repo_id, path) for repo_id, path in keys]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    f"UPDATE migrations SET {column} = ?{extra} WHERE repo_id = ? AND path = ?", rows
                )
                if column == "deleted_at":  # a deleted old file is no upload to compare with the listing any more
                    self._conn.executemany("DELETE FROM uploads WHERE repo_id = ? AND path = ?", [r[-2:] for r in rows])
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def migrations(self, *, state: str = "all") -> list[Migration]:
        """Migrations: all, `unrecorded` (verified, row not yet seen pointing to the new file), or
        `deletable` (verified and recorded, old file not deleted yet)."""
        where = {
            "all": "1",
            "unrecorded": "recorded_at IS NULL AND deleted_at IS NULL",
            "deletable": "recorded_at IS NOT NULL AND deleted_at IS NULL",
        }[state]
        with self._lock:
            rows = self._conn.execute(f"SELECT * FROM migrations WHERE {where} ORDER BY repo_id, path").fetchall()
        return [Migration(*r) for r in rows]

    def record_x_lookup(self, tweet_id: str, status: str, reason: str, *, checked_at: float | None = None) -> None:
        """Remember X's answer for a tweet (the latest one replaces the previous)."""
        when = time.time() if checked_at is None else checked_at
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO x_lookups VALUES (?, ?, ?, ?)", (tweet_id, status, reason, when))

    def x_lookup(self, tweet_id: str) -> XLookup | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM x_lookups WHERE tweet_id = ?", (tweet_id,)).fetchone()
        return XLookup(*row) if row else None

    def decrypted_since(self, since: float) -> Iterator[tuple[str, str]]:
        """(repo, path) whose latest read-back at or after `since` decrypted (whatever the local
        comparison said): the rolling read-back's coverage. Paged by key, like `iter_uploads`."""
        after: tuple[str, str] = ("", "")
        while True:
            with self._lock:
                rows = self._conn.execute(
                    """SELECT repo_id, path, result, max(checked_at) FROM deep_checks
                       WHERE (repo_id, path) > (?, ?) AND checked_at >= ?
                       GROUP BY repo_id, path ORDER BY repo_id, path LIMIT ?""",
                    (*after, since, _PAGE),
                ).fetchall()
            for repo_id, path, result, _ in rows:  # SQLite takes `result` from the max() row
                if result in DECRYPTED_RESULTS:
                    yield repo_id, path
            if len(rows) < _PAGE:
                return
            after = (rows[-1][0], rows[-1][1])

    def last_deep_check(self, repo_id: str, path: str, before: float | None = None) -> DeepCheck | None:
        """The most recent deep check of `path` (before `before`, if given), if any: to skip files
        checked recently, or to tell a problem an audit found first from one it found again."""
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM deep_checks WHERE repo_id = ? AND path = ? AND checked_at < ?"
                " ORDER BY checked_at DESC LIMIT 1",
                (repo_id, path, float("inf") if before is None else before),
            ).fetchone()
        return DeepCheck(*row) if row else None


__all__ = [
    "DECRYPTED_RESULTS",
    "STATE_DB_NAME",
    "DeepCheck",
    "Migration",
    "StateDB",
    "UploadRecord",
    "Uploadable",
    "XLookup",
    "FINAL_ON_X",
]
