"""The single batched committer: many producers, one task that commits to the Hub.

Why one committer: the Hub limits commits (about 128 an hour per repo have been seen in 429
messages) and advises tens to hundreds of files per commit, while a repair produces files one
by one from many concurrent encrypt tasks. Producers `await committer.put(Staged(...))` into a
bounded queue (a full queue holds them back, so staged ciphertext on disk stays bounded); the
committer task groups items per repo into writes to the run's destination
(`net/destination.py`: for a dataset repo, one commit of the official client) and, only once
the Hub confirmed a commit, records the files in `state.db`, hands them to the caller's
`on_committed` and deletes the staged files.

Batch size adapts as huggingface_hub's own large-upload pipeline does: start at 50, double
after a full batch committed quickly, halve after a failure. A batch also closes after a short
linger, so a run of three files does not wait for fifty.

Failures, all through the run's one retry policy (`Hub.call`):
- a 429 (commit quota) is waited out per the server's `RateLimit`/`Retry-After` headers; it is
  not a failure and uses no attempt;
- a 5xx, a reset or a timeout may hide a commit that landed (the Hub docs say so): the policy's
  recovery step looks the paths up and files whose remote LFS sha256 and size equal ours count
  as committed; only the rest is retried, with exponential backoff and jitter, up to
  `max_attempts` in all;
- a missing repo, no write access, a bad request: the items fail at once with the reason.
Reasons never contain the token.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hfcheck.db.state import StateDB
from hfcheck.errors import CommitterStopped, HubAnswered, Unverifiable
from hfcheck.model.outcomes import UploadSource
from hfcheck.net.destination import Destination, Upload
from hfcheck.net.fetch import sha256_file
from hfcheck.net.hub import CallCounts, Hub
from hfcheck.net.outcome import HubOutcome
from hfcheck.net.retry import RetryPolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Staged:
    """One encrypted file ready to upload. `file` is a staged temp file the committer deletes
    once the Hub confirmed it; `sha256`/`size` are of its bytes (the LFS oid); `tag` is the
    caller's (e.g. the tweet and media index the upload repairs); `source` is the command the
    upload is recorded under in `state.db`, always said (keyword-only, no default)."""

    repo_id: str
    path_in_repo: str
    file: Path
    sha256: str
    size: int
    tag: Any = None
    source: UploadSource = field(kw_only=True)


OnCommitted = Callable[[list[Staged], str], Awaitable[None]]
OnFailed = Callable[[list[Staged], str], Awaitable[None]]


@dataclass(frozen=True)
class BatchPolicy:
    """Batch sizing, pacing and retry settings (parameters so tests can make them small)."""

    initial: int = 50
    minimum: int = 10
    maximum: int = 500
    grow_below_s: float = 40.0  # a full batch committed faster than this doubles the size
    linger_s: float = 2.0  # a batch closes this long after its first item arrived
    max_attempts: int = 5  # transient failures tolerated per file
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 60.0
    commit_timeout_s: float = 900.0  # the client's commit POST has no timeout of its own
    max_rate_limit_wait_s: float = 6 * 3600.0  # total 429 wait per batch before giving up
    default_retry_after_s: float = 60.0  # a 429 without headers

    @property
    def retry(self) -> RetryPolicy:
        """hfcheck's one retry policy with these numbers (its backoff: full jitter)."""
        return RetryPolicy(
            attempts=self.max_attempts,
            base=self.backoff_base_s,
            cap=self.backoff_cap_s,
            max_rate_limit_wait=self.max_rate_limit_wait_s,
            default_retry_after=self.default_retry_after_s,
        )


@dataclass
class CommitStats(CallCounts):
    """Counters for the run summary (`retries`, `rate_limited`: of this committer's commits)."""

    commits: int = 0
    files_committed: int = 0
    files_found_landed: int = 0  # committed by an attempt that reported failure
    files_already_present: int = 0  # same content already at that path: nothing was sent
    bytes_uploaded: int = 0
    files_failed: int = 0
    batch_size: int = 0
    # repos whose commits the Hub refused for the whole repo (no write access, a refused token,
    # no such repo or revision): {repo_id, revision, category, detail, urls}, as verify's
    repo_problems: dict[str, dict[str, Any]] = field(default_factory=dict)


_CLOSE = object()
# final answers about a whole repo (no write access, a refused token, no such repo or revision)
_REPO_LEVEL = frozenset({HubOutcome.NO_ACCESS, HubOutcome.REPO_NOT_FOUND, HubOutcome.REVISION_NOT_FOUND})


class Committer:
    """Use as `async with Committer(hub, state, on_committed=..., on_failed=...) as c:` and
    `await c.put(item)` from any number of producer tasks; leaving the block drains the queue,
    commits what is pending and stops. `stats` holds the counters. Commits go to `destination`
    (the run's dataset repos unless another is given)."""

    def __init__(
        self,
        hub: Hub,
        state: StateDB,
        *,
        on_committed: OnCommitted,
        on_failed: OnFailed,
        policy: BatchPolicy | None = None,
        queue_size: int | None = None,
        destination: Destination | None = None,
        commit_message: str = "hfcheck: upload {n} encrypted files",
        quiet: bool = True,
    ) -> None:
        from huggingface_hub.utils import disable_progress_bars

        if quiet:  # the client draws a bar per file; hfcheck reports progress itself (process-wide)
            disable_progress_bars()

        self.state = state
        self.policy = policy or BatchPolicy()
        self.on_committed = on_committed
        self.on_failed = on_failed
        self.destination = destination or hub.destination
        self.revision = hub.cfg.revision  # where the commits go: named in a repo problem
        self.commit_message = commit_message
        self.batch_size = max(1, self.policy.initial)
        self.stats = CommitStats(batch_size=self.batch_size)
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=queue_size or max(self.policy.maximum, 1))
        self._pending: dict[str, deque[Staged]] = {}
        self._first_at: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    # -- lifecycle --------------------------------------------------------------------------
    async def __aenter__(self) -> Committer:
        self.start()
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            await self.close()
        else:
            await self.abort()

    def start(self) -> None:
        """Start the committer task (once)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="hfcheck-committer")

    async def put(self, item: Staged) -> None:
        """Hand one staged file to the committer; waits while the queue is full."""
        self._check_alive()
        await self._queue.put(item)
        if self._task is not None and self._task.done():  # it died while we waited: item lost
            self._check_alive()

    async def close(self) -> CommitStats:
        """Commit everything queued or pending, stop, and return the stats.

        Re-raises what stopped the task early (e.g. an exception from a callback).
        """
        self.start()
        assert self._task is not None
        if not self._closing and not self._task.done():
            self._closing = True
            await self._queue.put(_CLOSE)
        await self._task
        return self.stats

    async def abort(self) -> None:
        """Stop without committing what is pending (staged files are left in place)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            except Exception as exc:  # noqa: BLE001 - aborting already; the cause is elsewhere
                log.debug("committer ended with %s while aborting", type(exc).__name__)

    def _check_alive(self) -> None:
        if self._task is None:
            self.start()
        elif self._task.done():
            exc = None if self._task.cancelled() else self._task.exception()
            raise CommitterStopped(f"the committer has stopped{f': {exc}' if exc else ''}")
        if self._closing:
            raise CommitterStopped("the committer is closing")

    # -- the committer task -----------------------------------------------------------------
    async def _run(self) -> None:
        """Collect items per repo; commit a repo's group when full, lingered or closing."""
        try:
            closing = False
            while not closing or self._pending:
                if closing:
                    await self._commit_group(next(iter(self._pending)))
                    continue
                full = next((r for r, q in self._pending.items() if len(q) >= self.batch_size), None)
                if full is not None:
                    await self._commit_group(full)
                    continue
                item = await self._next_item()
                if item is None:
                    await self._commit_group(min(self._first_at, key=self._first_at.__getitem__))
                elif item is _CLOSE:
                    closing = True
                else:
                    self._add_pending(item)
        finally:
            self._drain()

    async def _next_item(self) -> Any:
        """The next queued item, or None when the oldest pending group's linger ran out."""
        if not self._pending:
            return await self._queue.get()
        timeout = min(self._first_at.values()) + self.policy.linger_s - time.monotonic()
        if timeout <= 0:
            try:
                return self._queue.get_nowait()
            except asyncio.QueueEmpty:
                return None
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None

    def _add_pending(self, item: Staged) -> None:
        if item.repo_id not in self._pending:
            self._pending[item.repo_id] = deque()
            self._first_at[item.repo_id] = time.monotonic()
        self._pending[item.repo_id].append(item)

    def _take_batch(self, repo_id: str) -> list[Staged]:
        """Up to `batch_size` items of the repo's group, one per path (a later duplicate waits)."""
        pending = self._pending[repo_id]
        batch: list[Staged] = []
        seen: set[str] = set()
        deferred: list[Staged] = []
        while pending and len(batch) < self.batch_size:
            item = pending.popleft()
            (deferred if item.path_in_repo in seen else batch).append(item)
            seen.add(item.path_in_repo)
        pending.extendleft(reversed(deferred))
        if pending:
            self._first_at[repo_id] = time.monotonic()
        else:
            del self._pending[repo_id], self._first_at[repo_id]
        return batch

    def _drain(self) -> None:
        """Empty the queue when the task ends, so no producer stays blocked on a full queue."""
        while True:
            try:
                self._queue.get_nowait()
            except asyncio.QueueEmpty:
                return

    # -- one group --------------------------------------------------------------------------
    async def _commit_group(self, repo_id: str) -> None:
        """Commit one batch of `repo_id`, `batch_size` files a commit."""
        todo = deque(self._take_batch(repo_id))
        while todo:
            chunk = await self._drop_unreadable([todo.popleft() for _ in range(min(self.batch_size, len(todo)))])
            final = await self._commit(repo_id, chunk) if chunk else None
            if final is not None:
                await self._failed(list(todo), final)
                return

    async def _commit(self, repo_id: str, chunk: list[Staged]) -> str | None:
        """One commit through the destination under the one retry policy: files written (or
        found written after a failed attempt) are confirmed, the rest failed. After a final
        answer (no such repo, no write access) its reason: the group's other files fail too."""
        unsettled = {i.path_in_repo: i for i in chunk}
        full = len(chunk) >= self.batch_size

        async def landed(paths: list[str], version: str | None) -> None:
            self._adapt(success=False)
            if paths and version is not None:
                found = [unsettled.pop(p) for p in paths]
                self.stats.files_found_landed += len(found)
                await self._confirmed(found, version)

        try:
            written = await self.destination.write(
                repo_id,
                [Upload(i.path_in_repo, i.file, i.sha256, i.size) for i in chunk],
                message=self.commit_message.format(n=len(chunk)),
                on_landed=landed,
                counts=self.stats,
                policy=self.policy.retry,
                timeout=self.policy.commit_timeout_s,
            )
        except HubAnswered as exc:
            reason = f"{repo_id}: {exc.detail}"
            if exc.outcome in _REPO_LEVEL:  # the whole repo refused: one repo problem, named once
                self.stats.repo_problems.setdefault(
                    repo_id,
                    dict(
                        repo_id=repo_id,
                        revision=self.revision,
                        category=exc.outcome.value,
                        detail=exc.detail,
                        urls=0,
                    ),
                )
            await self._failed(list(unsettled.values()), reason)
            return reason
        except Unverifiable as exc:
            await self._failed(list(unsettled.values()), f"gave up: {exc}")
            return None
        if written is not None:
            rest = list(unsettled.values())
            self.stats.files_already_present += written.unchanged
            if written.unchanged < len(rest):  # else the client made no commit (nothing changed)
                self.stats.commits += 1
            await self._confirmed(rest, written.version)
            self._adapt(success=True, full=full, seconds=written.seconds)
        return None

    async def _drop_unreadable(self, chunk: list[Staged]) -> list[Staged]:
        """Fail items whose staged file is gone, so one bad item cannot sink a whole commit."""
        missing = [i for i in chunk if not i.file.is_file()]
        if missing:
            await self._failed(missing, "staged file is missing")
        return [i for i in chunk if i.file.is_file()]

    def _adapt(self, *, success: bool, full: bool = False, seconds: float = 0.0) -> None:
        """Double after a quick full batch, halve after a failure (within the policy's bounds)."""
        p = self.policy
        if success and full and seconds < p.grow_below_s:
            self.batch_size = min(max(p.maximum, 1), self.batch_size * 2)
        elif not success:
            self.batch_size = max(max(1, min(p.minimum, self.batch_size)), self.batch_size // 2)
        self.stats.batch_size = self.batch_size

    # -- outcomes ---------------------------------------------------------------------------
    async def _confirmed(self, items: list[Staged], commit_oid: str) -> None:
        """The Hub has the files: record them, tell the caller, then delete the staged files."""
        await asyncio.to_thread(self.state.record_uploads, items, commit_oid)
        self.stats.files_committed += len(items)
        self.stats.bytes_uploaded += sum(i.size for i in items)
        await self.on_committed(items, commit_oid)
        await asyncio.to_thread(_unlink_all, [i.file for i in items])

    async def _failed(self, items: list[Staged], reason: str) -> None:
        """Give up on `items`; their staged files are left for the caller."""
        if not items:
            return
        self.stats.files_failed += len(items)
        if items[0].repo_id in self.stats.repo_problems:
            self.stats.repo_problems[items[0].repo_id]["urls"] += len(items)
        log.warning("%d file(s) for %s not uploaded: %s", len(items), items[0].repo_id, reason)
        await self.on_failed(items, reason)


def _unlink_all(files: list[Path]) -> None:
    for f in files:
        try:
            f.unlink(missing_ok=True)
        except OSError as exc:  # a leftover temp file is not worth failing a confirmed upload
            log.debug("could not delete staged file %s: %s", f, exc)


def staged_from_file(repo_id: str, path_in_repo: str, file: Path, *, source: UploadSource, tag: Any = None) -> Staged:
    """Build a `Staged` for a file on disk, hashing it (call in a thread for big files)."""
    return Staged(repo_id, path_in_repo, file, sha256_file(file), file.stat().st_size, tag, source=source)


class DeleteFailed(RuntimeError):
    """A deletion commit that did not happen (the reason never holds the token)."""


async def delete_files(
    hub: Hub, repo_id: str, paths: Sequence[str], *, message: str, policy: BatchPolicy | None = None
) -> str:
    """One commit deleting `paths` from `repo_id`; the commit id. Through the destination, under
    the one retry policy: a 429 waits as asked, a transient error retries after checking whether
    the deletion landed (none of the paths left). Only `migrate --delete-old` deletes, and only
    files whose replacement is committed, read back and recorded."""
    policy = policy or BatchPolicy()
    try:
        return await hub.destination.delete(
            repo_id, paths, message=message, policy=policy.retry, timeout=policy.commit_timeout_s
        )
    except HubAnswered as exc:
        raise DeleteFailed(f"{repo_id}: {exc.detail}") from None
    except Unverifiable as exc:
        raise DeleteFailed(f"{repo_id}: gave up: {exc}") from None


__all__ = [
    "BatchPolicy",
    "DeleteFailed",
    "delete_files",
    "CommitStats",
    "Committer",
    "CommitterStopped",
    "OnCommitted",
    "OnFailed",
    "Staged",
    "staged_from_file",
]
