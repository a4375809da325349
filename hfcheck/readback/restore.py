"""restore: download backups from the Hub and decrypt them into the local layout.

    archive rows (--tweet / --user / --all) → recorded URLs → HubFetcher (ciphertext `.part`,
    Range-resumable, LFS redirects followed) → crypto.decrypt_file (temp file, renamed only
    after the final chunk verified) → DIR/images|videos/{user}/{tweet_id}_{i}.{ext}

The local name is never taken from the database: it is the decrypted remote name
(`paths.local_path_for`), so a restored file is exactly what was encrypted for that path, and
the name itself is authenticated (AES-SIV). Every path is confined under DIR.

`HubFetcher` is shared with `deep` (download + decrypt + compare). It follows the Hub's 302 to
the CDN for LFS files by hand, sending the token only to the configured endpoint, and checks a
downloaded LFS object against the sha256 the Hub announced (`X-Linked-Etag`), so a resumed
`.part` that belongs to an older version of the file is detected and downloaded again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import aiohttp
from tqdm import tqdm
from yarl import URL

from hfcheck import __version__
from hfcheck.db.archive import Archive, TweetRow
from hfcheck.config import Config
from hfcheck.crypto import ArchiveKey, archive_key, decrypt_file
from hfcheck.errors import ConfigError, CryptoError, InputError
from hfcheck.net.hub import Unverifiable
from hfcheck.model.paths import (
    TWEET_ID_RE,
    BackupURL,
    PathKind,
    UnsafePath,
    check_username,
    confine,
    local_path_for,
)
from hfcheck.pool import Put, run_pool
from hfcheck.net.ratelimit import Bucket, hub_buckets
from hfcheck.net.retry import (
    TRANSIENT_STATUSES,
    RateLimited,
    RetryPolicy,
    TransientError,
    retry_after_seconds,
)
from hfcheck.verify.pipeline import split_row

PARTS_DIR = ".hfcheck-parts"
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
READ_CHUNK = 1 << 20
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$")
_UNSATISFIED_RANGE = re.compile(r"^\s*bytes\s+\*/(\d+)\s*$")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")


# --- fetching ----------------------------------------------------------------------------


class FetchFailed(Exception):
    """A final answer for one file (not retried): `category` is `missing`, `no_access` or `failed`."""

    def __init__(self, category: str, detail: str) -> None:
        super().__init__(detail)
        self.category = category
        self.detail = detail


class _Restart(Exception):
    """The `.part` on disk cannot be continued (another version, bad range): start again at 0."""


@dataclass(frozen=True)
class Fetched:
    """A complete ciphertext in `part`; `resumed_from` > 0 when an earlier `.part` was continued."""

    part: Path
    size: int
    sha256: str | None  # the Hub's LFS oid, checked against the bytes; None for non-LFS files
    resumed_from: int


def _sidecar(part: Path) -> Path:
    """Which version of the remote file a `.part` holds (the ETag), so a resume never mixes two."""
    return part.with_name(part.name + ".etag")


def discard_part(part: Path) -> None:
    """Remove a `.part` and its sidecar (missing files are fine)."""
    for p in (part, _sidecar(part)):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def sha256_file(path: Path) -> str:
    """SHA-256 (hex) of a file, read in 1 MiB blocks (run it in a thread for big files)."""
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        while block := f.read(READ_CHUNK):
            h.update(block)
    return h.hexdigest()


class HubFetcher:
    """Ciphertext downloads from one Hub endpoint: retries, pacing, Range resume, redirects.

    Its own aiohttp session (long timeouts suited to video files), the same retry policy and
    rate-limit buckets as `HubHTTP`: resolve requests count against the `resolvers` bucket;
    requests to the CDN host are not the Hub's quota and are not paced.
    """

    def __init__(self, cfg: Config, *, concurrency: int = 8, policy: RetryPolicy | None = None, timeout: float = 600.0, buckets: dict[str, Bucket] | None = None) -> None:
        self.cfg = cfg
        self.endpoint = cfg.endpoint.rstrip("/")
        self._host = _netloc(URL(self.endpoint))
        self.policy = policy or RetryPolicy()
        self.buckets = buckets or hub_buckets(cfg.limits)
        self._concurrency = concurrency
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 10.0), sock_read=min(timeout, 60.0))
        self._session: aiohttp.ClientSession | None = None
        self.requests = 0
        self.retries = 0
        self.resumed = 0

    async def __aenter__(self) -> Self:
        connector = aiohttp.TCPConnector(limit=self._concurrency * 2, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout, headers={"User-Agent": f"hfcheck/{__version__}", "Accept-Encoding": "identity"}, auto_decompress=False)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _ours(self, url: URL) -> bool:
        return _netloc(url) == self._host

    def _auth(self, url: URL) -> dict[str, str]:
        """The token goes to the configured endpoint only, never to a CDN or another host."""
        return {"Authorization": f"Bearer {self.cfg.token}"} if self.cfg.token and self._ours(url) else {}

    async def download(self, url: str | BackupURL, part: Path) -> Fetched:
        """Fetch the whole ciphertext into `part` (continuing what is there); raise FetchFailed
        for a final answer, Unverifiable when retries are exhausted (the `.part` is kept)."""
        part.parent.mkdir(parents=True, exist_ok=True)
        first_offset = part.stat().st_size if part.exists() else 0
        transient = 0
        waited = 0.0
        while True:
            try:
                fetched = await self._attempt(URL(str(url), encoded=True), part)
                return Fetched(fetched.part, fetched.size, fetched.sha256, first_offset)
            except _Restart:
                discard_part(part)
                first_offset = 0
                transient += 1
            except RateLimited as exc:
                waited += exc.retry_after
                if waited > self.policy.max_rate_limit_wait:
                    raise Unverifiable(f"rate limited for over {self.policy.max_rate_limit_wait:.0f}s") from None
                self.buckets["resolvers"].pause(exc.retry_after)
                continue
            except (TimeoutError, TransientError, aiohttp.ClientError) as exc:
                transient += 1
                detail = str(exc) if isinstance(exc, TransientError) else ("timeout" if isinstance(exc, asyncio.TimeoutError) else type(exc).__name__)
                if transient >= self.policy.attempts:
                    raise Unverifiable(f"{detail} after {transient} attempts") from None
            if transient >= self.policy.attempts:
                raise Unverifiable(f"download restarted {transient} times") from None
            self.retries += 1
            await asyncio.sleep(self.policy.backoff(transient))

    async def _attempt(self, url: URL, part: Path) -> Fetched:
        """One pass: resolve (following redirects by hand), then receive into `part`."""
        assert self._session is not None, "HubFetcher used outside 'async with'"
        offset = part.stat().st_size if part.exists() else 0
        linked_sha: str | None = None  # the Hub's sha256 of an LFS object, from its redirect
        target = url
        for _ in range(MAX_REDIRECTS + 1):
            if self._ours(target):
                await self.buckets["resolvers"].acquire()
            self.requests += 1
            headers = {**self._auth(target), **({"Range": f"bytes={offset}-"} if offset else {})}
            async with self._session.get(target, headers=headers, allow_redirects=False) as resp:
                if resp.status in REDIRECT_CODES:
                    linked_sha = _etag(resp.headers.get("X-Linked-Etag")) or linked_sha
                    target = _redirect_target(resp, target)
                    offset = _check_version(part, linked_sha, offset)
                    continue
                _raise_for_status(resp)
                version = linked_sha or _etag(resp.headers.get("ETag"))
                if offset and _check_version(part, version, offset) == 0:
                    raise _Restart()
                size = await _receive(resp, part, offset, version)
            if linked_sha and _SHA256_RE.fullmatch(linked_sha):
                if await asyncio.to_thread(sha256_file, part) != linked_sha:
                    discard_part(part)
                    raise TransientError("downloaded bytes do not match the Hub's sha256")
                return Fetched(part, size, linked_sha, offset)
            return Fetched(part, size, None, offset)
        raise FetchFailed("failed", f"more than {MAX_REDIRECTS} redirects")


def _netloc(url: URL) -> str:
    return f"{(url.host or '').lower()}:{url.port}"


def _etag(value: str | None) -> str | None:
    if not value:
        return None
    return value.strip().removeprefix("W/").strip('"') or None


def _redirect_target(resp: aiohttp.ClientResponse, current: URL) -> URL:
    location = resp.headers.get("Location")
    if not location:
        raise FetchFailed("failed", f"HTTP {resp.status} redirect without a Location")
    target = current.join(URL(location, encoded=True))
    if target.scheme not in ("http", "https"):
        raise FetchFailed("failed", "redirect to a non-http(s) URL")
    return target


def _check_version(part: Path, version: str | None, offset: int) -> int:
    """The offset to continue from: 0 (and the `.part` discarded) if it holds another version."""
    if not offset:
        return 0
    try:
        recorded = _sidecar(part).read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        recorded = ""
    if version and recorded and recorded != version:
        discard_part(part)
        return 0
    return offset


def _raise_for_status(resp: aiohttp.ClientResponse) -> None:
    """Map the final answer: data (200/206/416) passes; the rest is final, retried or paced."""
    status = resp.status
    if status in (200, 206, 416):
        return
    if status == 429:
        raise RateLimited(retry_after_seconds(resp.headers))
    if status in TRANSIENT_STATUSES:
        raise TransientError(f"HTTP {status}", status)
    code = resp.headers.get("X-Error-Code", "")
    if status == 404 and code == "EntryNotFound":
        raise FetchFailed("missing", "not in the repo (404 EntryNotFound)")
    if status in (401, 403) or code in ("GatedRepo", "RepoNotFound"):
        raise FetchFailed("no_access", f"HTTP {status} {code}".strip())
    raise FetchFailed("failed", f"HTTP {status} {code}".strip())


async def _receive(resp: aiohttp.ClientResponse, part: Path, offset: int, version: str | None) -> int:
    """Append the body to `part` (or rewrite it on a 200); returns the complete size."""
    if resp.status == 416:
        m = _UNSATISFIED_RANGE.match(resp.headers.get("Content-Range", ""))
        if m and offset == int(m.group(1)):
            return offset  # the `.part` was already complete
        raise _Restart()
    if resp.status == 206:
        m = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
        if not m or int(m.group(1)) != offset:
            raise _Restart()
        total = None if m.group(3) == "*" else int(m.group(3))
        mode = "ab"
    else:
        offset = 0
        total = resp.content_length
        mode = "wb"
    if version:
        _sidecar(part).write_text(version, encoding="ascii")
    got = offset
    with open(part, mode) as f:  # noqa: ASYNC230 - local appends of network-sized blocks; the network is the wait
        async for block in resp.content.iter_chunked(256 * 1024):
            f.write(block)
            got += len(block)
        f.flush()
        os.fsync(f.fileno())
    if total is not None and got != total:
        raise TransientError(f"connection closed after {got} of {total} bytes")
    return got


# --- selection ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """Which tweets to restore: exactly one of tweet ids, one account, or everything."""

    tweets: tuple[str, ...] = ()
    user: str | None = None
    everything: bool = False

    def validate(self) -> Selection:
        given = sum([bool(self.tweets), self.user is not None, self.everything])
        if given != 1:
            raise ConfigError("choose exactly one of --tweet ID, --user NAME or --all")
        for t in self.tweets:
            if not TWEET_ID_RE.match(t):
                raise ConfigError(f"--tweet expects a numeric tweet id, not {t!r}")
        if self.user is not None:
            try:
                check_username(self.user)
            except UnsafePath:
                raise ConfigError(f"--user expects an account name [A-Za-z0-9_]{{1,15}}, not {self.user!r}") from None
        return self


def _user_sql(archive: Archive, sel: Selection) -> str:
    """The SQL condition of `--user` ('' for the others)."""
    if sel.user is None:
        return ""
    # check_username() allowed only [A-Za-z0-9_]: safe to write into the SQL literal.
    return f'"{archive.cfg.columns.username}" = \'{check_username(sel.user)}\''


async def selected_rows(archive: Archive, sel: Selection) -> AsyncIterator[TweetRow]:
    """The rows a selection names, streamed (only rows that record a backup URL)."""
    if sel.tweets:
        for tweet_id in sel.tweets:
            row = await archive.get(tweet_id)
            if row is not None:
                yield row
        return
    where = archive.has_backup_sql()
    if sel.user is not None:
        where += f" AND {_user_sql(archive, sel)}"
    async for row in archive.rows(where=where):
        yield row


# --- restore -----------------------------------------------------------------------------

RESTORE_STATUSES = ("restored", "exists", "failed", "incomplete")


@dataclass
class RestoreOutcome:
    """What happened to one recorded URL (`local` is relative to DIR, when known)."""

    status: str  # restored | exists | failed | incomplete
    tweet_id: str
    url: str
    index: int = 0
    local: str | None = None
    category: str = ""  # why it failed: missing, decrypt_failed, wrong_path, malformed, no_access, unverified, ...
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


@dataclass
class RestoreSummary:
    counts: Counter[str] = field(default_factory=Counter)
    problems: list[RestoreOutcome] = field(default_factory=list)
    tweets: int = 0
    bytes_written: int = 0
    resumed: int = 0

    def add(self, outcome: RestoreOutcome) -> None:
        self.counts[outcome.status] += 1
        if outcome.status in ("failed", "incomplete"):
            self.problems.append(outcome)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tweets": self.tweets,
            "counts": {k: self.counts.get(k, 0) for k in RESTORE_STATUSES},
            "bytes_written": self.bytes_written,
            "resumed_downloads": self.resumed,
            "problems": [p.to_dict() for p in self.problems],
        }


def part_path(out: Path, url: BackupURL) -> Path:
    """Where the ciphertext of `url` is downloaded to: stable, so a rerun continues it."""
    digest = hashlib.sha256(f"{url.repo_id}@{url.revision}/{url.path}".encode()).hexdigest()[:40]
    return out / PARTS_DIR / f"{digest}.part"


@dataclass
class _Job:
    tweet_id: str
    index: int
    url: BackupURL


class Restorer:
    """Restores jobs into `out` with a fetcher; one instance per run."""

    def __init__(self, cfg: Config, key: ArchiveKey, fetcher: HubFetcher, out: Path, *, overwrite: bool = False) -> None:
        self.cfg = cfg
        self.key = key
        self.fetcher = fetcher
        self.out = out
        self.overwrite = overwrite

    async def restore(self, job: _Job) -> RestoreOutcome:
        """One file; never raises for the Hub's answers or a bad ciphertext."""
        base: dict[str, Any] = {"tweet_id": job.tweet_id, "url": str(job.url), "index": job.index}
        u = job.url
        if u.kind is not PathKind.ENCRYPTED:
            cat = "wrong_path" if u.kind is PathKind.WRONG else "malformed"
            return RestoreOutcome("failed", category=cat, detail="not an encrypted backup path; run repair", **base)
        try:
            local = local_path_for(self.key, u.path)
            dest = confine(self.out, local)
        except (CryptoError, UnsafePath) as exc:
            return RestoreOutcome("failed", category="decrypt_failed", detail=f"file name: {exc}", **base)
        base["local"] = local
        if dest.exists() and not self.overwrite:
            return RestoreOutcome("exists", detail="already in the output folder (kept)", **base)
        dest.parent.mkdir(parents=True, exist_ok=True)
        return await self._fetch_and_decrypt(u, dest, base)

    async def _fetch_and_decrypt(self, u: BackupURL, dest: Path, base: dict[str, Any]) -> RestoreOutcome:
        """Download, decrypt into place; a resumed `.part` that fails gets one fresh attempt."""
        part = part_path(self.out, u)
        for attempt in (1, 2):
            try:
                fetched = await self.fetcher.download(u, part)
            except FetchFailed as exc:
                status = "incomplete" if exc.category == "no_access" else "failed"
                return RestoreOutcome(status, category=exc.category, detail=exc.detail, **base)
            except Unverifiable as exc:
                return RestoreOutcome("incomplete", category="unverified", detail=str(exc), **base)
            try:
                await asyncio.to_thread(decrypt_file, self.key, part, dest, u.path)
            except CryptoError as exc:
                discard_part(part)
                if fetched.resumed_from and attempt == 1:
                    continue  # the kept prefix may be what is wrong: download all of it again
                return RestoreOutcome("failed", category="decrypt_failed", detail=_crypto_detail(exc, part), **base)
            except OSError as exc:
                return RestoreOutcome("failed", category="write_failed", detail=f"{exc.strerror or type(exc).__name__}", **base)
            discard_part(part)
            if fetched.resumed_from:
                self.fetcher.resumed += 1
            return RestoreOutcome("restored", **base)
        raise AssertionError("unreachable")


def _crypto_detail(exc: CryptoError, part: Path) -> str:
    """The reason, without our temp file's name (it means nothing to the user)."""
    return str(exc).replace(f"{part}: ", "")


def jobs_of(row: TweetRow, endpoint: str, hf_column: str) -> tuple[list[_Job], list[RestoreOutcome]]:
    """A row's URLs to restore, and the ones that cannot be (malformed or another host)."""
    findings, tasks, _ = split_row(row, endpoint, hf_column)
    bad = [RestoreOutcome("failed", f.tweet_id, f.url, f.index, category="malformed", detail=f.detail) for f in findings]
    return [_Job(t.tweet_id, t.index, t.url) for t in tasks], bad


async def run_restore(cfg: Config, sel: Selection, out: Path, *, concurrency: int = 8, overwrite: bool = False, on_outcome: Callable[[RestoreOutcome], None] | None = None, progress_bar: bool = False) -> RestoreSummary:
    """Restore the selected tweets' backups into `out`; the summary lists every failure.

    With `progress_bar`, a tqdm bar over the selected URLs (on stderr); `on_outcome` lines are
    then written above it."""
    sel.validate()
    cfg.require("db", "key_file")
    key = archive_key(cfg)
    out.mkdir(parents=True, exist_ok=True)
    summary = RestoreSummary()
    bar: tqdm[Any] | None = None

    def note(outcome: RestoreOutcome) -> None:
        summary.add(outcome)
        if bar is not None:
            bar.update(1)
        if on_outcome is not None:
            on_outcome(outcome)

    async with Archive(cfg) as archive, HubFetcher(cfg, concurrency=concurrency) as fetcher:
        restorer = Restorer(cfg, key, fetcher, out, overwrite=overwrite)
        if progress_bar:
            total = None if sel.tweets else await archive.count_urls(where=_user_sql(archive, sel))
            bar = tqdm(total=total, unit="file", dynamic_ncols=True)

        async def produce(put: Put[_Job]) -> None:
            found = False
            async for row in selected_rows(archive, sel):
                found = True
                summary.tweets += 1
                jobs, bad = jobs_of(row, fetcher.endpoint, cfg.columns.huggingface_urls)
                for o in bad:
                    note(o)
                for job in jobs:
                    await put(job)
            if sel.tweets and not found:
                raise InputError(f"tweet {', '.join(sel.tweets)} not found in the archive")

        async def work(job: _Job) -> None:
            outcome = await restorer.restore(job)
            if outcome.status == "restored" and outcome.local:
                summary.bytes_written += (out / outcome.local).stat().st_size
            note(outcome)

        try:
            await run_pool(produce, work, concurrency)
        finally:
            if bar is not None:
                bar.close()
        summary.resumed = fetcher.resumed
    with contextlib.suppress(OSError):
        (out / PARTS_DIR).rmdir()  # only when empty: interrupted downloads stay for the next run
    return summary


__all__ = ["FetchFailed", "Fetched", "HubFetcher", "RestoreOutcome", "RestoreSummary", "Selection", "discard_part", "part_path", "run_restore", "sha256_file"]
