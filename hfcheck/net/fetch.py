"""Ciphertext downloads through the Hub client: Range resume into `.part` files, redirects.

A resolve GET of an LFS file answers 302 to the CDN (another origin). Redirects are followed
by hand through `Hub.send`, so each hop is paced and authorized by the client's rules
(the token stays with the endpoint's origin). A downloaded LFS object is checked against the
sha256 the Hub announced (`X-Linked-Etag`), and a `.part` remembers which version of the file
it holds (its ETag, in a sidecar), so a resumed `.part` of an older version is detected and
downloaded again rather than spliced.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from yarl import URL

from hfcheck.errors import FetchFailed, TransientError
from hfcheck.model.paths import BackupURL
from hfcheck.net.hub import Hub
from hfcheck.net.outcome import HubOutcome, redirect_target

MAX_REDIRECTS = 5
READ_CHUNK = 1 << 20
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$")
_UNSATISFIED_RANGE = re.compile(r"^\s*bytes\s+\*/(\d+)\s*$")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")


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


async def download(client: Hub, url: str | BackupURL, part: Path) -> Fetched:
    """Fetch the whole ciphertext into `part` (continuing what is there), under the client's
    retry policy. Raises FetchFailed for a final answer, `Unverifiable` when retries are
    exhausted (the `.part` is kept for the next run)."""
    part.parent.mkdir(parents=True, exist_ok=True)
    first_offset = part.stat().st_size if part.exists() else 0
    target = URL(str(url), encoded=True)

    async def attempt() -> Fetched:
        nonlocal first_offset
        try:
            return await _attempt(client, target, part, first_offset)
        except _Restart:
            discard_part(part)
            first_offset = 0
            raise TransientError("the partial download holds another version; starting again") from None

    return await client.retrying("resolvers", attempt)


class _Restart(Exception):
    """The `.part` on disk cannot be continued (another version, bad range): start again at 0."""


async def _attempt(client: Hub, url: URL, part: Path, first_offset: int) -> Fetched:
    """One pass: resolve (following redirects by hand), then receive into `part`."""
    offset = part.stat().st_size if part.exists() else 0
    linked_sha: str | None = None  # the Hub's sha256 of an LFS object, from its redirect
    target = url
    for _ in range(MAX_REDIRECTS + 1):
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        async with client.send("GET", target, "resolvers", headers=headers, timeout=client.download_timeout) as resp:
            hop = _redirect_target(resp, target)
            if hop is not None:
                linked_sha = _etag(resp.headers.get("X-Linked-Etag")) or linked_sha
                target = hop
                offset = _check_version(part, linked_sha, offset)
                continue
            if resp.status not in (200, 206, 416):
                mapped = client.classify(resp.status, resp.headers)
                outcome = HubOutcome.FATAL if mapped.outcome is HubOutcome.OK else mapped.outcome
                raise FetchFailed(outcome, mapped.detail or f"HTTP {resp.status}")
            version = linked_sha or _etag(resp.headers.get("ETag"))
            if offset and _check_version(part, version, offset) == 0:
                raise _Restart()
            size = await _receive(resp, part, offset, version)
        if linked_sha and _SHA256_RE.fullmatch(linked_sha):
            if await asyncio.to_thread(sha256_file, part) != linked_sha:
                discard_part(part)
                raise TransientError("downloaded bytes do not match the Hub's sha256")
        return Fetched(
            part, size, linked_sha if linked_sha and _SHA256_RE.fullmatch(linked_sha) else None, first_offset
        )
    raise FetchFailed(HubOutcome.FATAL, f"more than {MAX_REDIRECTS} redirects")


def _etag(value: str | None) -> str | None:
    if not value:
        return None
    return value.strip().removeprefix("W/").strip('"') or None


def _redirect_target(resp: aiohttp.ClientResponse, current: URL) -> URL | None:
    """The next hop (`outcome.redirect_target`), or None when `resp` is no redirect."""
    try:
        target = redirect_target(current, resp.status, resp.headers.get("Location"), encoded=True)
    except ValueError as exc:
        raise FetchFailed(HubOutcome.FATAL, str(exc)) from None
    if target is None:
        return None
    if target.scheme not in ("http", "https"):
        raise FetchFailed(HubOutcome.FATAL, "redirect to a non-http(s) URL")
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


__all__ = ["FetchFailed", "Fetched", "discard_part", "download", "sha256_file"]
