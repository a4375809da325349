"""The users' tweets database: a streaming reader, gap queries, and transactional updates.

The reader pages through the table in primary-key order (keyset pagination, so memory does
not grow with the archive and a run can start after any key) and turns each row into a
`TweetRow` with its problems listed; a messy row is reported, never a crash. Read-only runs
open the file read-only; the writer changes only the two URL columns of the rows it repairs,
each batch in one transaction. The database is the user's: its journal mode, pragmas and
schema stay as they are (a rollback-journal file is not switched to WAL, which a scraper or a
network share may not expect); a lock held past the busy timeout is one line and exit 3.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import re
import sqlite3
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiosqlite

from hfcheck.config import Config
from hfcheck.errors import IncompleteError, InputError
from hfcheck.model.paths import TWEET_ID, TWEET_ID_RE, USERNAME_RE, joined
from hfcheck.report.catalog import msg, t

PAGE_SIZE = 2000
MAX_GOOD_USERS = 100_000  # valid usernames remembered for the fast lane (accounts, not tweets)
BUSY_TIMEOUT_MS = 30_000

Key = int | str  # the primary key exactly as SQLite stores it (resume compares like with like)


@dataclass(frozen=True)
class RowProblem:
    """One thing wrong with a row: which column, a stable code, and the detail."""

    column: str
    # invalid_json | not_a_list | non_string_item | duplicate_url | unexpected_host | unsafe_username | bad_tweet_id
    code: str
    detail: str


@dataclass
class TweetRow:
    """A row of the tweets table, typed; `problems` lists what was wrong with it."""

    key: Key
    tweet_id: str
    username: str | None
    media_urls: list[str]
    hf_urls: list[str]
    problems: list[RowProblem] = field(default_factory=list)


def parse_url_list(value: Any, column: str, allowed_hosts: Collection[str]) -> tuple[list[str], list[RowProblem]]:
    """A JSON array of URLs from a column, salvaged where the intent is clear.

    NULL, '' and '[]' are an empty list. A bare string (JSON or not) that looks like a URL is
    taken as a one-item list and reported. Duplicates are dropped (first kept) and reported.
    """
    problems: list[RowProblem] = []
    if value is None or (isinstance(value, str) and value.strip() in ("", "[]")):
        return [], problems
    if not isinstance(value, str):
        return [], [RowProblem(column, "not_a_list", f"{type(value).__name__} value {value!r:.80}")]
    try:
        data = _simple_list(value) or json.loads(value)
    except ValueError:
        text = value.strip()
        if text.startswith(("http://", "https://")) and not any(c.isspace() for c in text):
            return _check_hosts(
                [text], column, allowed_hosts, [RowProblem(column, "not_a_list", "bare URL, not a JSON array")]
            )
        return [], [RowProblem(column, "invalid_json", f"{value!r:.80}")]
    if isinstance(data, str):
        problems.append(RowProblem(column, "not_a_list", "JSON string, not an array"))
        data = [data] if data else []
    if not isinstance(data, list):
        return [], [*problems, RowProblem(column, "not_a_list", f"JSON {type(data).__name__}")]
    if len(data) == 1 and isinstance(data[0], str) and data[0]:
        return _check_hosts(data, column, allowed_hosts, problems)  # one URL: no duplicates to drop
    urls: list[str] = []
    seen: set[str] = set()
    for item in data:
        if not isinstance(item, str) or not item:
            problems.append(RowProblem(column, "non_string_item", f"{item!r:.80}"))
        elif item in seen:
            problems.append(RowProblem(column, "duplicate_url", item))
        else:
            seen.add(item)
            urls.append(item)
    return _check_hosts(urls, column, allowed_hosts, problems)


def _simple_list(value: str) -> list[str] | None:
    """`["u1", "u2"]` as `json.dumps` writes it, split without the JSON parser (a third of the
    cost of reading a row); None whenever the parser might read it otherwise (escapes, other
    spacing, quotes or control characters inside, non-ASCII), so that it decides."""
    if value[:2] != '["' or value[-2:] != '"]':
        return None
    if "\\" in value or not value.isascii() or not value.isprintable():
        return None
    items = value[2:-2].split('", "')
    return items if value.count('"') == 2 * len(items) else None


def _simple_urls(value: str, hosts: tuple[str, ...]) -> list[str] | None:
    """The URLs of a `json.dumps` list of distinct URLs that all start with one of the `hosts`
    prefixes, else None: what `parse_url_list` would return with no problem."""
    urls = _simple_list(value)
    if not urls:
        return None
    for url in urls:
        if not url.startswith(hosts):
            return None
    return urls if len(set(urls)) == len(urls) else None


def _url_list_patterns(hosts: frozenset[str], *, empty: bool) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """`["URL"]` as `json.dumps` writes a list of one URL on these hosts: `_simple_urls` with the
    loop in C. With `empty`, also `''` and `[]` (no media). Two patterns: one value (the URL is
    group 1), and a page of values joined by newlines (which a matching value cannot hold)."""
    prefixes = "|".join(map(re.escape, _host_prefixes(hosts))) or "(?!)"

    def value(group: str) -> str:
        # printable ASCII but `"` and `\`: the characters a JSON string writes as themselves
        one = rf'\["{group}(?:{prefixes})[ !#-\[\]-~]*)"\]'
        return rf"{one}|\[\]|" if empty else one

    return re.compile(value("(")), joined(value("(?:"))


@functools.lru_cache(maxsize=16)
def _host_prefixes(allowed: frozenset[str]) -> tuple[str, ...]:
    """`https://HOST/` and `http://HOST/` for the allowed (lower-case) hosts: a URL starting so
    has exactly that host for urlsplit too, so most URLs need no parse."""
    return tuple(f"{scheme}://{host}/" for host in allowed if host == host.lower() for scheme in ("https", "http"))


def _check_hosts(
    urls: list[str], column: str, allowed: Collection[str], problems: list[RowProblem]
) -> tuple[list[str], list[RowProblem]]:
    prefixes = _host_prefixes(allowed) if isinstance(allowed, frozenset) else ()
    for url in urls:
        if prefixes and url.startswith(prefixes):
            continue
        try:
            host = urlsplit(url).netloc.lower()
        except ValueError:
            host = ""
        if host not in allowed and host.split(":")[0] not in allowed:
            problems.append(RowProblem(column, "unexpected_host", url))
    return urls, problems


_SIMPLE_IDS = joined(TWEET_ID)  # a page's tweet ids, newline-joined


class Archive:
    """One connection to the users' database, read-only unless `writable`."""

    def __init__(self, cfg: Config, *, writable: bool = False) -> None:
        cfg.require("db")
        assert cfg.db is not None
        self.cfg = cfg
        self.path: Path = cfg.db
        self.writable = writable
        self._db: aiosqlite.Connection | None = None
        # One connection, so one transaction at a time: concurrent tweets' edits queue here,
        # and a read (a lookup, a page of rows) never sees another task's uncommitted edit.
        self._tx = asyncio.Lock()
        c = cfg.columns
        self._cols = f'"{c.id}", "{c.username}", "{c.media_urls}", "{c.huggingface_urls}"'
        self._table = f'"{cfg.table}"'
        self._hub_hosts = frozenset({urlsplit(cfg.endpoint).netloc.lower()})
        self._media_hosts = frozenset(cfg.allowed_hosts)
        self._good_users: set[str] = set()  # usernames `to_row` found valid (for `simple_page`)
        self._media_value, self._media_page = _url_list_patterns(self._media_hosts, empty=True)
        self._hub_value, self._hub_page = _url_list_patterns(self._hub_hosts, empty=False)

    async def __aenter__(self) -> Archive:
        if not self.path.is_file():
            raise InputError(msg("err_db_not_found", path=self.path))
        mode = "rw" if self.writable else "ro"
        try:
            self._db = await aiosqlite.connect(
                f"file:{self.path.resolve()}?mode={mode}", uri=True, timeout=BUSY_TIMEOUT_MS / 1000
            )
            # busy_timeout is a setting of this connection only, not of the file; the journal
            # mode is left as the user has it (short transactions let a scraper write meanwhile)
            await self._exec(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await self._check_schema()
        except aiosqlite.Error as exc:
            await self.close()
            if _is_locked(exc):
                raise self.locked_error() from None
            raise InputError(msg("err_db_cannot_open", path=self.path, error=str(exc))) from None
        except BaseException:
            await self.close()  # a schema error must not leave the connection's thread behind
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def _exec(self, sql: str, args: tuple[Any, ...] = ()) -> None:
        """Execute and close the cursor at once (a dangling cursor outlives the event loop)."""
        async with self.db.execute(sql, args):
            pass

    def locked_error(self) -> IncompleteError:
        """The one line for a lock another program held past the busy timeout (exit 3)."""
        return IncompleteError(t("db_locked", self.cfg.lang, path=self.path, seconds=BUSY_TIMEOUT_MS // 1000))

    @contextlib.contextmanager
    def _unlocked(self) -> Iterator[None]:
        """A read that waited past the busy timeout for another program's lock: `locked_error`."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if _is_locked(exc):
                raise self.locked_error() from None
            raise

    @property
    def db(self) -> aiosqlite.Connection:
        assert self._db is not None, "Archive used outside 'async with'"
        return self._db

    async def _check_schema(self) -> None:
        async with self.db.execute(f"PRAGMA table_info({self._table})") as cur:
            columns = {row[1] for row in await cur.fetchall()}
        if not columns:
            raise InputError(msg("err_table_not_found", db=self.path, table=self.cfg.table))
        for name in (
            self.cfg.columns.id,
            self.cfg.columns.username,
            self.cfg.columns.media_urls,
            self.cfg.columns.huggingface_urls,
        ):
            if name not in columns:
                raise InputError(msg("err_no_column", db=self.path, table=self.cfg.table, column=name))

    def to_row(self, raw: Sequence[Any]) -> TweetRow:
        """Type one raw row and list its problems."""
        key, username, media_raw, hf_raw = raw
        c = self.cfg.columns
        problems: list[RowProblem] = []
        tweet_id = str(key) if not isinstance(key, float) else repr(key)
        if not TWEET_ID_RE.match(tweet_id):
            problems.append(RowProblem(c.id, "bad_tweet_id", tweet_id[:80]))
        if not isinstance(username, str) or not USERNAME_RE.match(username):
            problems.append(RowProblem(c.username, "unsafe_username", f"{username!r:.80}"))
            username = None
        elif len(self._good_users) < MAX_GOOD_USERS:
            self._good_users.add(username)
        media, p1 = parse_url_list(media_raw, c.media_urls, self._media_hosts)
        hf, p2 = parse_url_list(hf_raw, c.huggingface_urls, self._hub_hosts)
        return TweetRow(key, tweet_id, username, media, hf, problems + p1 + p2)

    def simple_page(self, page: Sequence[Sequence[Any]]) -> list[list[str] | None]:
        """For each raw row of a page: its backup URLs when `to_row` would find nothing wrong
        with it, else None (then `to_row` decides). Simple means: a tweet id of digits, a username
        seen valid before, and both URL columns lists as `json.dumps` writes them, of distinct
        URLs on allowed hosts. Verify's fast lane: most rows of a healthy archive are simple, and
        skip the `TweetRow`. A page of such rows with at most one medium and one backup URL each
        (most pages) is checked a column at a time, one match each; otherwise each row is matched
        by patterns with the loops in C, and the rows they do not take go through `_simple_row`."""
        if not page:
            return []
        keys, users, media, hfs = zip(*page, strict=True)
        try:  # a page where every row is simple (most): each column is checked in one match
            simple = (
                self._good_users.issuperset(users)
                and _SIMPLE_IDS.fullmatch("\n".join(map(str, keys)))  # str(key) of a str is the str itself
                and self._media_page.fullmatch("\n".join(media))
                and self._hub_page.fullmatch("\n".join(hfs))
            )
        except TypeError:  # a column that is not text in some row
            simple = None
        if simple:
            return [[hf[2:-2]] for hf in hfs]
        return [
            [hf[1]] if tweet_id and user and medium and hf else self._simple_row(raw)
            for raw, tweet_id, user, medium, hf in zip(
                page,
                map(TWEET_ID_RE.match, map(str, keys)),
                map(self._good_users.__contains__, users),
                map(self._media_value.fullmatch, map(str, media)),
                map(self._hub_value.fullmatch, map(str, hfs)),
                strict=True,
            )
        ]

    def _simple_row(self, raw: Sequence[Any]) -> list[str] | None:
        """`simple_page` for one row of any shape."""
        key, username, media, hf = raw
        tweet_id = key if type(key) is str else str(key) if type(key) is int and key >= 0 else ""
        if (
            not TWEET_ID_RE.match(tweet_id)
            or username not in self._good_users
            or type(hf) is not str
            or (
                media not in (None, "", "[]")
                and (type(media) is not str or not _simple_urls(media, _host_prefixes(self._media_hosts)))
            )
        ):
            return None
        return _simple_urls(hf, _host_prefixes(self._hub_hosts))

    async def rows(
        self, *, after: Key | None = None, where: str = "", params: tuple[Any, ...] = (), page_size: int = PAGE_SIZE
    ) -> AsyncIterator[TweetRow]:
        """Stream rows in primary-key order, starting after `after`, one page in memory at a time.

        `where` is an extra SQL condition with `?` placeholders bound to `params`."""
        async for page in self.raw_pages(after=after, where=where, params=params, page_size=page_size):
            for raw in page:
                yield self.to_row(raw)

    async def raw_pages(
        self,
        *,
        after: Key | None = None,
        where: str = "",
        params: tuple[Any, ...] = (),
        page_size: int = PAGE_SIZE,
        read_ahead: bool = False,
    ) -> AsyncGenerator[list[Sequence[Any]], None]:
        """`rows`, a page of raw rows at a time (`to_row` types one; `simple_page` skips that
        for a simple row), for callers that settle a page of rows at once.

        With `read_ahead`, the next page is read (in the database thread) while the caller works
        on this one: for read-only runs, since an edit the caller makes meanwhile might not show.
        Close the iterator (`contextlib.aclosing`) when leaving it early."""
        fetch: asyncio.Future[list[Any]] | None = None
        try:
            page = await self._page(after, where, params, page_size)
            while True:
                more = len(page) == page_size
                if more and read_ahead:
                    fetch = asyncio.ensure_future(self._page(page[-1][0], where, params, page_size))
                yield page
                if not more:
                    return
                if fetch is None:
                    page = await self._page(page[-1][0], where, params, page_size)
                else:
                    page, fetch = await fetch, None
        finally:
            if fetch is not None:
                fetch.cancel()
                with contextlib.suppress(BaseException):
                    await fetch

    async def _page(self, after: Key | None, where: str, params: tuple[Any, ...], page_size: int) -> list[Any]:
        id_col = f'"{self.cfg.columns.id}"'
        extra = f" AND ({where})" if where else ""
        if after is None:
            sql = f"SELECT {self._cols} FROM {self._table} WHERE 1{extra} ORDER BY {id_col} LIMIT ?"
            args: tuple[Any, ...] = (*params, page_size)
        else:
            sql = f"SELECT {self._cols} FROM {self._table} WHERE {id_col} > ?{extra} ORDER BY {id_col} LIMIT ?"
            args = (after, *params, page_size)
        with self._unlocked():
            async with self._tx, self.db.execute(sql, args) as cur:  # never inside another task's edit
                return list(await cur.fetchall())

    async def select(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """The raw rows of a read a caller words itself (the key check's sample, the gap counts), under the
        same lock guard as every other read: a lock held past the busy timeout is one line."""
        with self._unlocked():
            async with self._tx, self.db.execute(sql, params) as cur:
                return list(await cur.fetchall())

    def has_backup_sql(self) -> str:
        """SQL condition: the row records at least one backup URL."""
        hf = f'"{self.cfg.columns.huggingface_urls}"'
        return f"{hf} IS NOT NULL AND trim({hf}) NOT IN ('', '[]')"

    async def count(self, where: str = "", params: tuple[Any, ...] = ()) -> int:
        sql = f"SELECT count(*) FROM {self._table}" + (f" WHERE {where}" if where else "")
        with self._unlocked():
            async with self._tx, self.db.execute(sql, params) as cur:
                row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def max_key(self) -> Key | None:
        """The highest primary key (None for an empty table): where the next keyset read starts."""
        with self._unlocked():
            async with self._tx, self.db.execute(f'SELECT max("{self.cfg.columns.id}") FROM {self._table}') as cur:
                row = await cur.fetchone()
        return None if row is None else row[0]

    async def count_urls(self, after: Key | None = None, where: str = "") -> int:
        """Recorded backup URLs in rows after `after` that match `where` (for progress bars and
        verify's choice of method)."""
        c = self.cfg.columns
        hf = f'"{c.huggingface_urls}"'
        n = f"CASE WHEN json_valid({hf}) AND json_type({hf}) = 'array' THEN json_array_length({hf}) ELSE 1 END"
        sql = f"SELECT coalesce(sum({n}), 0) FROM {self._table} WHERE {self.has_backup_sql()}" + (
            f" AND ({where})" if where else ""
        )
        args: tuple[Any, ...] = ()
        if after is not None:
            sql += f' AND "{c.id}" > ?'
            args = (after,)
        with self._unlocked():
            async with self._tx, self.db.execute(sql, args) as cur:
                row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def url_prefixes(self, marker: str, after: Key | None = None) -> list[str]:
        """The distinct beginnings of the backup URL columns of the rows after `after`, each up to
        the first `/` after `marker` (with `/resolve/`: which repos and revisions a run will read).

        A scan of the whole table: it runs on a read-only connection of its own, in a thread, so
        the page reads on the main connection go on meanwhile."""
        hf = f'"{self.cfg.columns.huggingface_urls}"'
        end = f"instr({hf}, ?1) + length(?1)"
        prefix = f"substr({hf}, 1, {end} - 1 + instr(substr({hf}, {end}), '/'))"
        sql = f"SELECT DISTINCT {prefix} FROM {self._table} WHERE {self.has_backup_sql()} AND instr({hf}, ?1) > 0"
        args: tuple[Any, ...] = (marker,)
        if after is not None:
            sql += f' AND "{self.cfg.columns.id}" > ?2'
            args = (marker, after)
        con = sqlite3.connect(
            f"file:{self.path.resolve()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
        )

        def scan() -> list[str]:
            try:
                return [str(r[0]) for r in con.execute(sql, args)]
            finally:
                con.close()

        try:
            return await asyncio.to_thread(scan)
        except asyncio.CancelledError:
            with contextlib.suppress(sqlite3.Error):
                con.interrupt()  # the thread stops at once, and closes it
            raise

    async def get(self, tweet_id: str) -> TweetRow | None:
        """One row by tweet id (text or integer key)."""
        sql = f'SELECT {self._cols} FROM {self._table} WHERE "{self.cfg.columns.id}" = ? OR "{self.cfg.columns.id}" = ?'
        alt: Any = int(tweet_id) if tweet_id.isdigit() else tweet_id
        with self._unlocked():
            async with self._tx, self.db.execute(sql, (tweet_id, alt)) as cur:
                raw = await cur.fetchone()
        return self.to_row(raw) if raw else None

    async def update_rows(self, edits: Iterable[tuple[Key, Callable[[TweetRow], RowChange | None]]]) -> int:
        """Apply read-modify-write edits to rows in ONE transaction; returns rows changed.

        Each edit reads the row as it is now (the scraper may have written since we read it)
        and returns the new column values, or None to leave the row alone. Only the two URL
        columns are ever written, and only when they change.
        """
        c = self.cfg.columns
        select = f'SELECT {self._cols} FROM {self._table} WHERE "{c.id}" = ?'
        async with self._tx:
            try:
                return await self._update_rows(select, edits)
            except aiosqlite.Error as exc:  # e.g. locked by the scraper past the busy timeout
                if _is_locked(exc):
                    raise self.locked_error() from None
                raise IncompleteError(msg("err_db_rows_unwritten", path=self.path, error=str(exc))) from None

    async def _update_rows(
        self, select: str, edits: Iterable[tuple[Key, Callable[[TweetRow], RowChange | None]]]
    ) -> int:
        c = self.cfg.columns
        changed = 0
        await self._exec("BEGIN IMMEDIATE")
        try:
            for key, edit in edits:
                async with self.db.execute(select, (key,)) as cur:
                    raw = await cur.fetchone()
                if raw is None:
                    continue
                change = edit(self.to_row(raw))
                if change is None:
                    continue
                sets, args = change.sql(c.media_urls, c.huggingface_urls)
                if sets:
                    await self._exec(f'UPDATE {self._table} SET {sets} WHERE "{c.id}" = ?', (*args, key))
                    changed += 1
            await self.db.commit()
        except BaseException:
            await self.db.rollback()
            raise
        return changed


def _is_locked(exc: BaseException) -> bool:
    """SQLITE_BUSY / SQLITE_LOCKED: another connection held a lock past the busy timeout."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


@dataclass(frozen=True)
class RowChange:
    """New values for the URL columns of one row (None = leave that column as it is)."""

    media_urls: list[str] | None = None
    hf_urls: list[str] | None = None

    def sql(self, media_col: str, hf_col: str) -> tuple[str, list[str]]:
        sets: list[str] = []
        args: list[str] = []
        if self.media_urls is not None:
            sets.append(f'"{media_col}" = ?')
            args.append(json.dumps(self.media_urls, ensure_ascii=False))
        if self.hf_urls is not None:
            sets.append(f'"{hf_col}" = ?')
            args.append(json.dumps(self.hf_urls, ensure_ascii=False))
        return ", ".join(sets), args
