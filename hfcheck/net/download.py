"""Safe media downloads: only allowed hosts, only media, only complete files.

Every URL and every redirect hop is checked against the allow list before any I/O
(`net/hosts.py`: which hosts may be contacted, and the resolver guard against DNS rebinding);
redirects are followed by hand so that each hop is.

A file only appears under its final name when it is complete: bytes go to `NAME.part`, the
status, `Content-Type`, `Content-Length` and a non-empty body are checked, the data is fsynced
and hard-linked into place (which fails instead of overwriting), and the `.part` is removed on
every path out.

Retries follow hfcheck's one policy (`retry.RetryPolicy`): a 429 waits what `Retry-After`
says (capped, and not counted as an attempt); 5xx, connection errors and truncation back off
exponentially with full jitter; everything else is final.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence
from urllib.parse import parse_qs, urlsplit

import aiohttp
from aiolimiter import AsyncLimiter
from yarl import URL

from hfcheck.atomic import fsync_dir
from hfcheck.errors import BlockedAddress, GaveUp, RateLimited, TransientError, UnsafePath
from hfcheck.model.paths import confine
from hfcheck.net.hosts import AllowList, GuardedResolver, url_problem
from hfcheck.net.outcome import redirect_target
from hfcheck.net.retry import RetryPolicy, retry_after_seconds

Status = Literal["ok", "exists", "gone", "rejected", "failed"]

MEDIA_TYPES = ("image/", "video/")
OCTET_TYPES = frozenset({"application/octet-stream", "binary/octet-stream"})
CHUNK = 256 * 1024
USER_AGENT = "hfcheck (media backup repair)"


@dataclass(frozen=True)
class DownloadResult:
    """The outcome of one fetch. `reason` names the URL and what went wrong (never secrets)."""

    status: Status
    url: str
    path: Path | None
    size: int = 0
    reason: str = ""


# --- URL rules ---------------------------------------------------------------------------


def original_photo_url(url: str) -> str:
    """`https://pbs.twimg.com/media/ID?format=EXT&name=orig` for any pbs.twimg.com photo URL
    (`ID.jpg`, `ID.jpg:large`, `ID?format=png&name=small`); other URLs come back unchanged.

    X serves downscaled photos unless `name=orig` is asked for; the archive wants originals."""
    if not isinstance(url, str):
        return url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    if parts.hostname != "pbs.twimg.com" or port is not None or parts.scheme not in ("http", "https"):
        return url
    if parts.username is not None or parts.password is not None:
        return url
    name = parts.path.removeprefix("/media/")
    if name == parts.path or not name or "/" in name:
        return url
    name = name.split(":", 1)[0]  # legacy size suffix: ID.jpg:large
    stem, dot, ext = name.rpartition(".")
    media_id, fmt = (stem, ext) if dot else (name, None)
    if not fmt:
        fmt = next(iter(parse_qs(parts.query).get("format") or []), None)
    if not fmt or not re.fullmatch(r"[A-Za-z0-9]{1,5}", fmt) or not re.fullmatch(r"[A-Za-z0-9_-]+", media_id):
        return url
    return f"https://pbs.twimg.com/media/{media_id}?format={fmt.lower()}&name=orig"


# --- the downloader ----------------------------------------------------------------------


def _media_type_problem(content_type: str) -> str | None:
    ctype = content_type.split(";", 1)[0].strip().lower()
    if ctype.startswith(MEDIA_TYPES) or ctype in OCTET_TYPES:
        return None
    return f"Content-Type {ctype or '(none)'} is not media"


def _open_part(part: Path) -> int:
    """Create a fresh `.part`: a stale one (ours, from a crash) is removed first, and O_EXCL /
    O_NOFOLLOW make sure a planted symlink is never written through."""
    _unlink(part)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    return os.open(part, flags, 0o644)


def _finalize(part: Path, dest: Path) -> bool:
    """fsync the data and put it in place without overwriting; False if dest appeared."""
    fd = os.open(part, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(part, dest)  # fails with FileExistsError instead of overwriting
    except FileExistsError:
        return False
    except OSError:  # a filesystem without hard links
        if dest.exists() or dest.is_symlink():
            return False
        os.rename(part, dest)
    fsync_dir(dest.parent)
    return True


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


class Downloader:
    """Downloads media into files under `root`, politely (per-host rate limit) and safely.

    Use as `async with Downloader(hosts, root=...) as dl: await dl.fetch(url, dest)`."""

    def __init__(
        self,
        allowed_hosts: Iterable[str],
        *,
        root: Path,
        rate_per_host: float = 10.0,
        retries: int = 3,
        backoff_base: float = 1.0,
        backoff_max: float = 30.0,
        retry_after_cap: float = 60.0,
        connect_timeout: float = 15.0,
        read_timeout: float = 60.0,
        max_redirects: int = 5,
        max_bytes: int = 4 * 1024**3,
        connections: int = 64,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
    ) -> None:
        self.allowed = AllowList(allowed_hosts)
        self.root = Path(root)
        self.rate_per_host = rate_per_host
        self.retries = retries
        # a 429 is not an attempt; the waits it asks for are capped one by one and in total
        self.policy = RetryPolicy(
            attempts=retries + 1,
            base=backoff_base,
            cap=backoff_max,
            max_retry_after=retry_after_cap,
            max_rate_limit_wait=retry_after_cap * (retries + 1),
        )
        self.max_redirects = max_redirects
        self.max_bytes = max_bytes
        self._timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_read=read_timeout)
        self._connections = connections
        self._trace_configs = list(trace_configs)
        self._limiters: dict[str, AsyncLimiter] = {}
        self._dest_locks: dict[Path, tuple[asyncio.Lock, int]] = {}
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Downloader:
        connector = aiohttp.TCPConnector(limit=self._connections, resolver=GuardedResolver(self.allowed))
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            cookie_jar=aiohttp.DummyCookieJar(),  # no cookie ever travels between hosts
            auto_decompress=False,  # Content-Length must match the bytes on disk
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
            trace_configs=self._trace_configs,
        )
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # public -----------------------------------------------------------------------------

    def check_url(self, url: str) -> str | None:
        """Why this URL would be refused (no I/O), or None."""
        return url_problem(url, self.allowed)

    async def fetch(self, url: str, dest: Path) -> DownloadResult:
        """Download `url` to `dest` (under root), unless dest exists. Never raises for a bad
        URL or a bad server: the result says what happened."""
        dest = Path(dest)
        problem = self._dest_problem(dest)
        if problem:
            return DownloadResult("rejected", url, dest, 0, problem)
        if dest.exists() or dest.is_symlink():
            return self._exists(url, dest)
        url = original_photo_url(url)
        problem = self.check_url(url)
        if problem:
            return DownloadResult("rejected", url, dest, 0, f"{url}: {problem}")
        # One writer per dest (they would share the .part); the lock lives while anyone uses it.
        lock, users = self._dest_locks.get(dest, (asyncio.Lock(), 0))
        self._dest_locks[dest] = (lock, users + 1)
        try:
            async with lock:
                if dest.exists() or dest.is_symlink():
                    return self._exists(url, dest)
                return await self._fetch_with_retries(url, dest)
        finally:
            lock, users = self._dest_locks[dest]
            if users <= 1:
                del self._dest_locks[dest]
            else:
                self._dest_locks[dest] = (lock, users - 1)

    # internals --------------------------------------------------------------------------

    def _dest_problem(self, dest: Path) -> str | None:
        try:
            rel = dest.relative_to(self.root)
            confine(self.root, rel.as_posix())
        except (ValueError, UnsafePath):
            return f"destination {dest} is not under the media root {self.root}"
        return None

    @staticmethod
    def _exists(url: str, dest: Path) -> DownloadResult:
        try:
            size = dest.stat().st_size
        except OSError:
            size = 0
        return DownloadResult("exists", url, dest, size, "already downloaded")

    def _limiter(self, u: URL) -> AsyncLimiter:
        key = f"{u.host}:{u.port}"
        limiter = self._limiters.get(key)
        if limiter is None:
            rate = self.rate_per_host
            # AsyncLimiter needs max_rate >= 1 per acquire: below 1/s widen the period instead.
            limiter = AsyncLimiter(rate, 1.0) if rate >= 1 else AsyncLimiter(1, 1.0 / rate)
            self._limiters[key] = limiter
        return limiter

    async def _fetch_with_retries(self, url: str, dest: Path) -> DownloadResult:
        try:
            return await self.policy.run(lambda: self._attempt(url, dest))
        except GaveUp as exc:
            return DownloadResult("failed", url, dest, 0, f"{url}: {exc}")

    async def _attempt(self, url: str, dest: Path) -> DownloadResult:
        """One try, following redirects by hand (each hop checked before any connection);
        `TransientError`/`RateLimited` when it is worth another."""
        assert self._session is not None, "use `async with Downloader(...)`"
        current = URL(url)
        for _ in range(self.max_redirects + 1):
            problem = url_problem(current, self.allowed)
            if problem:
                return DownloadResult("rejected", url, dest, 0, f"{url}: redirected to {current}: {problem}")
            try:
                async with self._limiter(current):
                    pass
                async with self._session.get(current, allow_redirects=False) as resp:
                    try:
                        hop = redirect_target(current, resp.status, resp.headers.get("Location"))
                    except ValueError as exc:
                        return DownloadResult("rejected", url, dest, 0, f"{url}: {exc}")
                    if hop is None:
                        return await self._receive(url, resp, dest)
                    current = hop  # checked against the allow list before it is contacted
            except aiohttp.ClientConnectorError as exc:
                if isinstance(exc.os_error, BlockedAddress):
                    return DownloadResult("rejected", url, dest, 0, f"{url}: {exc.os_error}")
                raise TransientError(f"cannot connect to {current.host}:{current.port}") from None
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                raise TransientError(f"connection error ({type(exc).__name__})") from None
        return DownloadResult("rejected", url, dest, 0, f"{url}: more than {self.max_redirects} redirects")

    async def _receive(self, url: str, resp: aiohttp.ClientResponse, dest: Path) -> DownloadResult:
        """Check the answer, then stream it into `.part` and into place."""
        if resp.status in (404, 410):
            return DownloadResult("gone", url, dest, 0, f"{url}: HTTP {resp.status}")
        if resp.status == 429:
            raise RateLimited(retry_after_seconds(resp.headers, default=self.policy.base))
        if resp.status >= 500:
            raise TransientError(f"HTTP {resp.status}", resp.status)
        if resp.status != 200:
            return DownloadResult("failed", url, dest, 0, f"{url}: HTTP {resp.status}")
        problem = _media_type_problem(resp.headers.get("Content-Type", ""))
        if problem:
            return DownloadResult("rejected", url, dest, 0, f"{url}: {problem}")
        expected = resp.content_length
        if expected is not None and expected > self.max_bytes:
            return DownloadResult("rejected", url, dest, 0, f"{url}: {expected} bytes is over the limit")
        return await self._write(url, resp, dest, expected)

    async def _write(self, url: str, resp: aiohttp.ClientResponse, dest: Path, expected: int | None) -> DownloadResult:
        part = dest.with_name(dest.name + ".part")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            out = os.fdopen(_open_part(part), "wb")  # buffered: no short writes
        except OSError as exc:
            return DownloadResult("failed", url, dest, 0, f"cannot write {part}: {exc.strerror or exc}")
        try:
            size = 0
            try:
                # Plain writes: chunks to a local disk are cheaper than a thread hop each.
                async for chunk in resp.content.iter_chunked(CHUNK):
                    size += len(chunk)
                    if size > self.max_bytes:
                        return DownloadResult("rejected", url, dest, 0, f"{url}: body is over the limit")
                    out.write(chunk)
            except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, asyncio.TimeoutError):
                raise TransientError(
                    f"body cut off after {size} of {expected if expected is not None else '?'} bytes"
                ) from None
            finally:
                out.close()
            if expected is not None and size != expected:
                raise TransientError(f"body cut off after {size} of {expected} bytes")
            if size == 0:
                return DownloadResult("failed", url, dest, 0, f"{url}: empty body")
            if not await asyncio.to_thread(_finalize, part, dest):
                return self._exists(url, dest)
            return DownloadResult("ok", url, dest, size, "")
        except OSError as exc:  # disk full, permissions: not the server's fault, not retried
            return DownloadResult("failed", url, dest, 0, f"cannot write {dest}: {exc.strerror or exc}")
        finally:
            _unlink(part)
