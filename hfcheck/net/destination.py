"""Where backups are kept: what a destination is to the rest of hfcheck, and the dataset repo.

The rest of hfcheck needs six things of a place that holds backups: list what is there, look
paths up (size and content hash), write a batch of files, delete files, the URL a file is read
back from, and its limits (how many writes an hour, how many files a repo or folder should
hold before the next repo is used). `Destination` says exactly that; the callers (the
committer, placement, repair's and migrate's look-ups, the watch service) know nothing else.

The Hub dataset repo (`DatasetRepo`) is the first implementation: git commits made with the
official client, LFS or Xet transfers, the paths-info API. Every call goes through the run's
`Hub` (one retry policy, the rate-limit buckets, one `HfApi`). A Storage Bucket (no commits, no
history, a flat key space) is the second (`net/bucket.py`): its `write` has nothing to "land"
after a lost answer but the objects themselves, which `lookup` finds. `Destinations` is what
`hub.destination` gives: each call goes to the kind the repo id names (`hf://buckets/NS/NAME`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from hfcheck.errors import HubAnswered, TransientError, Unverifiable
from hfcheck.model.paths import BackupURL, is_bucket
from hfcheck.net.hub import CallCounts, Hub, TreeEntry
from hfcheck.net.retry import RetryPolicy

log = logging.getLogger(__name__)

PATHS_INFO_CHUNK = 500  # the real Hub answers 413 past about 1,000 paths

# After each failed write attempt: the paths found written after all, and the version holding them
# (no paths and None when the look-up could not tell).
OnLanded = Callable[[list[str], str | None], Awaitable[None]]


@dataclass(frozen=True)
class DestinationLimits:
    """What a destination advises: writes an hour, files per repo and per folder, paths per look-up."""

    writes_per_hour: int
    max_files_per_repo: int
    max_files_per_folder: int
    paths_per_lookup: int


@dataclass(frozen=True)
class RemoteFile:
    """A file the destination holds: its size and what identifies its content (the LFS sha256,
    or for a small file kept in git, its blob sha1; a Xet file's, a bucket file's, Xet hash)."""

    path: str
    size: int
    sha256: str | None = None
    blob_id: str | None = None
    xet_hash: str | None = None


@dataclass(frozen=True)
class Upload:
    """One local file to write at `path`; `sha256`/`size` are of its bytes."""

    path: str
    file: Path
    sha256: str
    size: int


@dataclass(frozen=True)
class Written:
    """A write that succeeded: the version (commit) holding the files, how many of them were
    already there unchanged (not sent), and how long the write itself took."""

    version: str
    unchanged: int = 0
    seconds: float = 0.0


class Destination(Protocol):
    """A place that holds backups (per `repo`, at a `revision`: None is the configured one)."""

    limits: DestinationLimits

    def url(self, repo: str, path: str, revision: str | None = None) -> str:
        """Where `path` is read back from."""
        ...

    def entries(self, repo: str, revision: str | None = None) -> AsyncIterator[TreeEntry]:
        """Every file and folder in `repo`."""
        ...

    async def lookup(
        self, repo: str, paths: Sequence[str], revision: str | None = None, *, policy: RetryPolicy | None = None
    ) -> dict[str, RemoteFile]:
        """Those of `paths` that exist, with their size and content hash."""
        ...

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
    ) -> Written | None:
        """Write `files` as one unit. After a failed attempt, files found written with the same
        content are handed to `on_landed(paths, version)` and not sent again; None when that
        was all of them. `HubAnswered` for a final answer, `Unverifiable` when retries ran out."""
        ...

    async def delete(
        self,
        repo: str,
        paths: Sequence[str],
        *,
        message: str,
        policy: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> str:
        """Delete `paths`; the version after the deletion."""
        ...


class DatasetRepo:
    """The configured Hub dataset repos as a `Destination` (commits through the official client)."""

    def __init__(self, hub: Hub, *, upload_threads: int = 8) -> None:
        cfg = hub.cfg
        self.hub = hub
        self.revision = cfg.revision
        self.upload_threads = upload_threads  # LFS PUTs in flight within one commit (client default 5)
        self.limits = DestinationLimits(
            writes_per_hour=cfg.limits.commits_per_hour,
            max_files_per_repo=cfg.max_files_per_repo,
            max_files_per_folder=cfg.max_files_per_folder,
            paths_per_lookup=PATHS_INFO_CHUNK,
        )
        self._xet = XetChoice(hub)

    def url(self, repo: str, path: str, revision: str | None = None) -> str:
        return str(BackupURL(self.hub.endpoint, repo, revision or self.revision, path))

    def entries(self, repo: str, revision: str | None = None) -> AsyncIterator[TreeEntry]:
        return self.hub.tree(repo, revision or self.revision)

    async def lookup(
        self, repo: str, paths: Sequence[str], revision: str | None = None, *, policy: RetryPolicy | None = None
    ) -> dict[str, RemoteFile]:
        found: dict[str, RemoteFile] = {}
        api, rev = self.hub.api, revision or self.revision
        for start in range(0, len(paths), PATHS_INFO_CHUNK):
            chunk = list(paths[start : start + PATHS_INFO_CHUNK])
            infos = await self.hub.call(
                functools.partial(api.get_paths_info, repo, chunk, repo_type="dataset", revision=rev), policy=policy
            )
            for info in infos:
                if getattr(info, "size", None) is None or hasattr(info, "tree_id"):
                    continue  # a folder
                lfs = getattr(info, "lfs", None)
                found[info.path] = RemoteFile(
                    info.path, int(info.size), lfs.sha256 if lfs is not None else None, getattr(info, "blob_id", None)
                )
        return found

    async def head(self, repo: str, *, policy: RetryPolicy | None = None) -> str:
        """The commit the configured revision points to now."""
        api, rev = self.hub.api, self.revision
        return await self.hub.call(
            lambda: str(api.repo_info(repo, repo_type="dataset", revision=rev).sha), policy=policy
        )

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
    ) -> Written | None:
        from huggingface_hub import CommitOperationAdd

        pending = {f.path: f for f in files}
        lfs = not await self._xet.use_xet(repo, self.revision)
        api, rev = self.hub.api, self.revision

        def commit() -> Written:
            started = time.monotonic()
            with contextlib.ExitStack() as opened:
                # A file object makes the client send the whole batch over LFS (see XetChoice).
                ops = [
                    CommitOperationAdd(
                        path_in_repo=u.path,
                        path_or_fileobj=opened.enter_context(open(u.file, "rb")) if lfs else str(u.file),
                    )
                    for u in pending.values()
                ]
                info = api.create_commit(
                    repo_id=repo,
                    repo_type="dataset",
                    revision=rev,
                    operations=ops,
                    commit_message=message,
                    num_threads=self.upload_threads,
                )
            # When every file is unchanged the client makes no commit and answers the head.
            unchanged = sum(
                1 for op in ops if getattr(op, "_remote_oid", None) is not None and op._remote_oid == op._local_oid
            )
            return Written(str(info.oid), unchanged, time.monotonic() - started)

        async def landed(exc: TransientError) -> Written | None:
            """The recovery step: which files did the failed commit write after all?"""
            head, found = await self._landed(repo, list(pending.values()))
            for path in found:
                del pending[path]
            await on_landed(found, head)
            return _ALL_LANDED if not pending else None

        result = await self.hub.call(
            commit, buckets=("commits", "api"), timeout=timeout, policy=policy, recover=landed, counts=counts
        )
        return None if result is _ALL_LANDED else result

    async def _landed(self, repo: str, uploads: list[Upload]) -> tuple[str | None, list[str]]:
        """(head, paths whose remote content equals ours), looked up once at the head, so the
        version recorded for them is one that holds them. A look-up that fails finds nothing:
        sending identical content again is harmless (the client skips unchanged files)."""
        try:
            head = await self.head(repo, policy=_ONCE)
            remote = await self.lookup(repo, [u.path for u in uploads], head, policy=_ONCE)
        except (Unverifiable, HubAnswered) as exc:
            log.info("could not check which files landed in %s: %s", repo, self.hub.scrub(str(exc)))
            return None, []
        return head, [u.path for u in uploads if _same_content(u, remote.get(u.path))]

    async def delete(
        self,
        repo: str,
        paths: Sequence[str],
        *,
        message: str,
        policy: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> str:
        from huggingface_hub import CommitOperationDelete

        api, rev = self.hub.api, self.revision
        ops = [CommitOperationDelete(path_in_repo=p) for p in paths]

        def commit() -> str:
            info = api.create_commit(
                repo_id=repo, repo_type="dataset", revision=rev, operations=ops, commit_message=message
            )
            return str(info.oid)

        async def landed(exc: TransientError) -> str | None:
            """The recovery step: the head when none of `paths` is left (None: unknown or not)."""
            try:
                if await self.lookup(repo, paths, policy=_ONCE):
                    return None
                return await self.head(repo, policy=_ONCE)
            except (Unverifiable, HubAnswered):
                return None

        return await self.hub.call(commit, buckets=("commits", "api"), timeout=timeout, policy=policy, recover=landed)


class Destinations:
    """The configured destinations as one `Destination`: each call goes to the dataset repo or,
    for an id `hf://buckets/NS/NAME`, the Storage Bucket (`net/bucket.py`). `limits` are the
    repos'; `limits_for(repo)` those of the one named."""

    def __init__(self, hub: Hub) -> None:
        from hfcheck.net.bucket import StorageBucket  # built on this module

        self.repo = DatasetRepo(hub)
        self.bucket = StorageBucket(hub)
        self.limits = self.repo.limits

    def of(self, repo: str) -> Destination:
        return self.bucket if is_bucket(repo) else self.repo

    def limits_for(self, repo: str) -> DestinationLimits:
        return self.of(repo).limits

    def url(self, repo: str, path: str, revision: str | None = None) -> str:
        return self.of(repo).url(repo, path, revision)

    def entries(self, repo: str, revision: str | None = None) -> AsyncIterator[TreeEntry]:
        return self.of(repo).entries(repo, revision)

    async def lookup(
        self, repo: str, paths: Sequence[str], revision: str | None = None, *, policy: RetryPolicy | None = None
    ) -> dict[str, RemoteFile]:
        return await self.of(repo).lookup(repo, paths, revision, policy=policy)

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
    ) -> Written | None:
        return await self.of(repo).write(
            repo, files, message=message, on_landed=on_landed, counts=counts, policy=policy, timeout=timeout
        )

    async def delete(
        self,
        repo: str,
        paths: Sequence[str],
        *,
        message: str,
        policy: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> str:
        return await self.of(repo).delete(repo, paths, message=message, policy=policy, timeout=timeout)


_ONCE = RetryPolicy(attempts=1)  # a recovery look-up: unknown is an answer too
_ALL_LANDED = Written("")


def _same_content(upload: Upload, remote: RemoteFile | None) -> bool:
    """Remote file equals ours: LFS sha256 and size, or (regular file) the git blob sha1."""
    if remote is None or remote.size != upload.size:
        return False
    if remote.sha256 is not None:
        return remote.sha256 == upload.sha256
    try:
        return remote.blob_id == _git_blob_sha1(upload.file)
    except OSError:
        return False


def _git_blob_sha1(path: Path) -> str:
    h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


_CLIENT_NOTICE = "Uploading files as a binary IO buffer is not supported by Xet Storage"


class _DropClientNotice(logging.Filter):
    """The client's per-commit warning about file objects: we said it once already."""

    def filter(self, record: logging.LogRecord) -> bool:
        return _CLIENT_NOTICE not in record.getMessage()


class XetChoice:
    """Which transfer the official client uses for uploads: Xet (the Hub's default) or LFS.

    huggingface_hub uploads over Xet whenever `hf_xet` is importable and `HF_HUB_DISABLE_XET` is
    unset, without asking the server (since 1.x). A Hub-compatible server without Xet then fails
    every file with a 404 on `.../xet-write-token/...`. So before the first commit of a run we
    ask once (through the Hub, under its retry policy): a plain 404 there (no Hub error code:
    the route itself is missing) switches the run to LFS, which the client takes when an
    operation is a file object, and says so in one line.
    """

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.xet: bool | None = None  # None until decided
        self._lock = asyncio.Lock()

    async def use_xet(self, repo: str, revision: str) -> bool:
        """True to let the client upload over Xet, False to make it use LFS."""
        async with self._lock:
            if self.xet is None:
                decided = await self._probe(repo, revision)
                if decided is False:
                    logging.getLogger("huggingface_hub._commit_api").addFilter(_DropClientNotice())
                    log.warning(
                        "%s offers no Xet storage (xet-write-token answered 404): uploading over LFS for this run",
                        self.hub.endpoint,
                    )
                if decided is not None:
                    self.xet = decided
            return self.xet is not False

    async def _probe(self, repo: str, revision: str) -> bool | None:
        """False: no Xet here; True: Xet (or the client would not use it anyway); None: unknown."""
        from huggingface_hub.utils._runtime import is_xet_available

        if not is_xet_available():
            return True  # the client uploads over LFS by itself (HF_HUB_DISABLE_XET or no hf_xet)
        url = f"{self.hub.endpoint}/api/datasets/{repo}/xet-write-token/{quote(revision, safe='')}"
        try:
            answer, _ = await self.hub.request("GET", url, "api")
        except Unverifiable as exc:  # network trouble: let the commit meet (and report) it
            log.debug("xet-write-token probe failed: %s", self.hub.scrub(str(exc)))
            return None
        return not (answer.status == 404 and not answer.error_code)


__all__ = [
    "PATHS_INFO_CHUNK",
    "DatasetRepo",
    "Destination",
    "Destinations",
    "DestinationLimits",
    "OnLanded",
    "RemoteFile",
    "Upload",
    "Written",
    "XetChoice",
]
