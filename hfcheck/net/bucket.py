"""A Hub Storage Bucket as a `Destination`: the second place backups can be kept.

A bucket (`hf://buckets/NS/NAME`) has no commits, no revision and no history: files are
uploaded over Xet, then registered with `batch` calls of at most 1,000 operations
(huggingface_hub's own `batch_bucket_files`, run through the one `Hub.call`: one retry policy,
the `api` quota, no commit limiter). A batch is not atomic: the server may apply part of it and
list the rest as failed, and a lost answer says nothing. So a write is only ever believed after
a look-up (`paths-info`) finds each file with our size and Xet hash; what is not found so is
sent again, up to the policy's attempts. A bucket does not split at 100k files: its limits say
no file-count bound.

What a bucket gives up: a delete is final (no commit to go back to). hfcheck deletes from a
bucket only through `delete`, which only `migrate --delete-old` calls.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from hfcheck.errors import HubAnswered, TransientError, Unverifiable
from hfcheck.model.paths import BackupURL, bucket_name
from hfcheck.net.destination import DestinationLimits, OnLanded, RemoteFile, Upload, Written
from hfcheck.net.hub import CallCounts, Hub, TreeEntry
from hfcheck.net.retry import RetryPolicy

log = logging.getLogger(__name__)

BATCH_OPS = 1000  # operations a `batch` call carries (the client's and the Rust crate's chunk)
PATHS_INFO_CHUNK = 1000  # paths a `paths-info` call takes
BUCKET_VERSION = "bucket"  # what state.db records as the "commit" of a bucket write: there is none
_ONCE = RetryPolicy(attempts=1)


def xet_hashes(files: Sequence[Path]) -> list[str]:
    """The Xet hash of each file, computed locally without upload (hf_xet; what a listing shows)."""
    import hf_xet  # type: ignore[import-untyped]  # no type stubs

    return [info.hash for info in hf_xet.hash_files([str(f) for f in files])]


class StorageBucket:
    """The configured buckets (ids `hf://buckets/NS/NAME`) as a `Destination`."""

    limits = DestinationLimits(
        writes_per_hour=sys.maxsize,  # no commit quota: only the api quota paces batches
        max_files_per_repo=sys.maxsize,  # buckets of millions of files exist; no split
        max_files_per_folder=sys.maxsize,
        paths_per_lookup=PATHS_INFO_CHUNK,
    )

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def url(self, repo: str, path: str, revision: str | None = None) -> str:
        return str(BackupURL(self.hub.endpoint, repo, "", path))

    def entries(self, repo: str, revision: str | None = None) -> AsyncIterator[TreeEntry]:
        return self.hub.tree(repo, "")

    async def lookup(
        self, repo: str, paths: Sequence[str], revision: str | None = None, *, policy: RetryPolicy | None = None
    ) -> dict[str, RemoteFile]:
        found: dict[str, RemoteFile] = {}
        api, bucket = self.hub.api, bucket_name(repo)
        for start in range(0, len(paths), PATHS_INFO_CHUNK):
            chunk = list(paths[start : start + PATHS_INFO_CHUNK])
            infos = await self.hub.call(functools.partial(_paths_info, api, bucket, chunk), policy=policy)
            for info in infos:
                found[info.path] = RemoteFile(info.path, int(info.size), xet_hash=info.xet_hash)
        return found

    async def write(
        self,
        repo: str,
        files: Sequence[Upload],
        *,
        message: str,
        on_landed: OnLanded,
        counts: CallCounts | None = None,
        policy: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> Written:
        """Upload and register `files` (`message` is unused: a bucket keeps none); see `_settle`.
        The Xet hashes the look-up checks are computed while the first batch call uploads."""
        hashing = asyncio.ensure_future(asyncio.to_thread(xet_hashes, [f.file for f in files]))

        async def expected() -> dict[str, tuple[int, str]]:
            return {f.path: (f.size, h) for f, h in zip(files, await hashing, strict=True)}

        by_path = {f.path: f for f in files}

        def adds(paths: list[str]) -> dict[str, Any]:
            return {"add": [(str(by_path[p].file), p) for p in paths]}

        try:
            return await self._settle(
                repo, list(by_path), expected, adds, on_landed, counts=counts, policy=policy, timeout=timeout
            )
        finally:
            if not hashing.done():
                hashing.cancel()  # the answer came first (e.g. no such bucket): the hashes are not needed
            elif not hashing.cancelled():
                hashing.exception()  # read, so an error nobody awaited is not reported as lost

    async def copy(
        self,
        repo: str,
        files: Sequence[tuple[str, str, str, str, int]],
        *,
        on_landed: OnLanded,
        policy: RetryPolicy | None = None,
    ) -> Written:
        """Server-side copies by Xet hash, `(source type, source repo, xet hash, path, size)`
        each: no bytes move. Confirmed, resent and settled as `write`'s uploads."""
        known = {path: (size, xet_hash) for _, _, xet_hash, path, size in files}
        by_path = {f[3]: f[:4] for f in files}

        async def expected() -> dict[str, tuple[int, str]]:
            return known

        def copies(paths: list[str]) -> dict[str, Any]:
            return {"copy": [by_path[p] for p in paths]}

        return await self._settle(repo, list(known), expected, copies, on_landed, policy=policy)

    async def _settle(
        self,
        repo: str,
        paths: list[str],
        expected: Callable[[], Awaitable[dict[str, tuple[int, str]]]],
        operations: Callable[[list[str]], dict[str, Any]],
        on_landed: OnLanded,
        *,
        counts: CallCounts | None = None,
        policy: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> Written:
        """Send the `operations` of every one of `paths` until a look-up finds each with the size
        and Xet hash `expected()` gives ({path: (size, Xet hash)}; awaited after the first send).

        One attempt of the retry policy = the batch calls of what is still pending (BATCH_OPS a
        call), then a look-up; paths found go to `on_landed` at once, the rest (reported failed,
        or an answer lost) are sent again on the next attempt. `Unverifiable` when attempts run
        out; `HubAnswered` for a final answer (no such bucket, no write access)."""
        started = time.monotonic()
        chosen = policy or self.hub.policy
        once = dataclasses.replace(chosen, attempts=1)  # the attempts are counted below
        pending = set(paths)

        async def attempt() -> Written:
            todo = [p for p in paths if p in pending]
            for start in range(0, len(todo), BATCH_OPS):
                try:
                    failures = await self._send(repo, operations(todo[start : start + BATCH_OPS]), timeout, once)
                except Unverifiable as exc:  # no answer: the look-up tells what landed
                    failures = {"*": str(exc)}
                for path, why in failures.items():
                    log.info("bucket %s did not take %s: %s", repo, path, self.hub.scrub(why))
            wanted = await expected()
            confirmed = await self._confirmed(repo, {p: wanted[p] for p in todo}, policy=once)
            pending.difference_update(confirmed)
            if pending:
                if confirmed:
                    await on_landed(confirmed, BUCKET_VERSION)  # settled: only the rest is sent again
                raise TransientError(f"{len(pending)} of {len(todo)} file(s) not confirmed in {repo}")
            return Written(BUCKET_VERSION, 0, time.monotonic() - started)

        return await self.hub.retrying("api", attempt, policy=chosen, counts=counts)

    async def _send(
        self, repo: str, operations: dict[str, Any], timeout: float | None, policy: RetryPolicy
    ) -> dict[str, str]:
        """One `batch_bucket_files` call (Xet upload of the adds, then one batch): {path: why}
        of the operations the server reported failed."""
        from huggingface_hub.errors import BucketBatchError

        api, bucket = self.hub.api, bucket_name(repo)

        def batch() -> dict[str, str]:
            try:
                api.batch_bucket_files(bucket, **operations)
            except BucketBatchError as exc:
                return {str(f.get("path")): str(f.get("error", "")) for f in exc.failures}
            return {}

        return await self.hub.call(batch, timeout=timeout, policy=policy)

    async def _confirmed(
        self, repo: str, expected: dict[str, tuple[int, str]], *, policy: RetryPolicy | None
    ) -> list[str]:
        """The paths the bucket holds with the expected size and Xet hash (a failed look-up: none)."""
        try:
            remote = await self.lookup(repo, list(expected), policy=policy)
        except (Unverifiable, HubAnswered) as exc:
            log.info("could not look up %s: %s", repo, self.hub.scrub(str(exc)))
            return []
        return [p for p, (size, h) in expected.items() if (r := remote.get(p)) and (r.size, r.xet_hash) == (size, h)]

    async def delete(
        self,
        repo: str,
        paths: Sequence[str],
        *,
        message: str,
        policy: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> str:
        """Delete `paths` for good (a bucket keeps no history); done when a look-up finds none
        of them. Only `migrate --delete-old` calls this."""
        from huggingface_hub.errors import BucketBatchError

        api, bucket = self.hub.api, bucket_name(repo)
        for start in range(0, len(paths), BATCH_OPS):
            chunk = list(paths[start : start + BATCH_OPS])

            def batch(c: list[str] = chunk) -> str:
                try:
                    api.batch_bucket_files(bucket, delete=c)
                except BucketBatchError as exc:
                    raise TransientError(f"{len(exc.failures)} deletion(s) failed") from None
                return BUCKET_VERSION

            async def gone(exc: TransientError, c: list[str] = chunk) -> str | None:
                try:
                    return None if await self.lookup(repo, c, policy=_ONCE) else BUCKET_VERSION
                except (Unverifiable, HubAnswered):
                    return None

            await self.hub.call(batch, timeout=timeout, policy=policy, recover=gone)
        return BUCKET_VERSION


def _paths_info(api: Any, bucket: str, paths: list[str]) -> list[Any]:
    return list(api.get_bucket_paths_info(bucket, paths))  # a generator: read it in the thread


__all__ = ["BATCH_OPS", "BUCKET_VERSION", "StorageBucket", "xet_hashes"]
