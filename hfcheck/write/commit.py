"""The single batched committer: many producers, one task that commits to the Hub.

Why one committer: the Hub limits commits (about 128 an hour per repo have been seen in 429
messages) and advises tens to hundreds of files per commit, while a repair produces files one
by one from many concurrent encrypt tasks. Producers `await committer.put(Staged(...))` into a
bounded queue (a full queue holds them back, so staged ciphertext on disk stays bounded); the
committer task groups items per repo into commits made with the official client
(`HfApi.create_commit`, in a thread) and, only once the Hub confirmed a commit, records the
files in `state.db`, hands them to the caller's `on_committed` and deletes the staged files.

Batch size adapts as huggingface_hub's own large-upload pipeline does: start at 50, double
after a full batch committed quickly, halve after a failure. A batch also closes after a short
linger, so a run of three files does not wait for fifty.

Failures:
- a 429 (commit quota) is waited out per the server's `RateLimit`/`Retry-After` headers; it is
  not a failure and uses no attempt;
- a 5xx, a reset or a timeout may hide a commit that landed (the Hub docs say so): before any
  retry the paths are looked up (`get_paths_info`) and files whose remote LFS sha256 and size
  equal ours count as committed; only the rest is retried, with exponential backoff and jitter,
  up to `max_attempts` per file;
- a missing repo, no write access, a bad request: the items fail at once with the reason.
Reasons never contain the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiolimiter import AsyncLimiter

from hfcheck.db.state import StateDB
from hfcheck.errors import CommitterStopped, GaveUp, RateLimited, TransientError
from hfcheck.model.outcomes import UploadSource
from hfcheck.net.fetch import sha256_file
from hfcheck.net.outcome import HubOutcome, classify_exception
from hfcheck.net.ratelimit import Bucket, run_buckets
from hfcheck.net.retry import RetryPolicy
from hfcheck.write.transfer import TransferChoice

if TYPE_CHECKING:
    from huggingface_hub import HfApi

    from hfcheck.config import Config

log = logging.getLogger(__name__)

PATHS_INFO_CHUNK = 500  # the real Hub answers 413 past about 1,000 paths


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
    max_rate_limit_wait_s: float = 6 * 3600.0  # total 429 wait per repo group before giving up
    default_retry_after_s: float = 60.0  # a 429 without headers

    @property
    def retry(self) -> RetryPolicy:
        """hfcheck's one retry policy with these numbers (its backoff: full jitter)."""
        return RetryPolicy(
            attempts=self.max_attempts,
            base=self.backoff_base_s,
            cap=self.backoff_cap_s,
            max_rate_limit_wait=self.max_rate_limit_wait_s,
        )


@dataclass
class CommitStats:
    """Counters for the run summary."""

    commits: int = 0
    files_committed: int = 0
    files_found_landed: int = 0  # committed by an attempt that reported failure
    files_already_present: int = 0  # same content already at that path: nothing was sent
    bytes_uploaded: int = 0
    files_failed: int = 0
    retries: int = 0
    rate_limited: int = 0
    rate_limit_wait_s: float = 0.0
    batch_size: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Outcome:
    """What became of one commit attempt."""

    kind: str  # "ok", "rate_limited", "transient", "fatal"
    commit_oid: str | None = None
    unchanged: int = 0  # files the client found identical remotely (not re-sent)
    seconds: float = 0.0  # the commit call itself, without waiting for the limiter
    reason: str = ""
    retry_after: float = 0.0


_CLOSE = object()


class Committer:
    """Use as `async with Committer(cfg, state, on_committed=..., on_failed=...) as c:` and
    `await c.put(item)` from any number of producer tasks; leaving the block drains the queue,
    commits what is pending and stops. `stats` holds the counters."""

    def __init__(
        self,
        cfg: Config,
        state: StateDB,
        *,
        on_committed: OnCommitted,
        on_failed: OnFailed,
        policy: BatchPolicy | None = None,
        queue_size: int | None = None,
        api: HfApi | None = None,
        limiter: AsyncLimiter | None = None,
        api_bucket: Bucket | None = None,
        commit_message: str = "hfcheck: upload {n} encrypted files",
        quiet: bool = True,
        upload_threads: int = 8,
    ) -> None:
        from huggingface_hub import HfApi
        from huggingface_hub.utils import disable_progress_bars

        if quiet:  # the client draws a bar per file; hfcheck reports progress itself (process-wide)
            disable_progress_bars()

        self.cfg = cfg
        self.state = state
        self.policy = policy or BatchPolicy()
        self.on_committed = on_committed
        self.on_failed = on_failed
        self.api = api or HfApi(endpoint=cfg.endpoint, token=cfg.token)
        self.limiter = limiter or AsyncLimiter(cfg.limits.commits_per_hour, 3600)
        self.api_bucket = api_bucket
        self.commit_message = commit_message
        self.upload_threads = upload_threads  # LFS PUTs in flight within one commit (client default 5)
        self.batch_size = max(1, self.policy.initial)
        self.stats = CommitStats(batch_size=self.batch_size)
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=queue_size or max(self.policy.maximum, 1))
        self._pending: dict[str, deque[Staged]] = {}
        self._first_at: dict[str, float] = {}
        self._paused_until = 0.0
        self._task: asyncio.Task[None] | None = None
        self._abandoned: set[asyncio.Future[Any]] = set()
        self._closing = False
        self.transfer = TransferChoice(cfg.endpoint, cfg.token)

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
        """Commit one batch of `repo_id`, retrying what did not land, until done or failed."""
        todo = deque(self._take_batch(repo_id))
        attempts: dict[str, int] = {}
        waited = 0.0
        while todo:
            chunk = [todo.popleft() for _ in range(min(self.batch_size, len(todo)))]
            chunk = await self._drop_unreadable(chunk)
            if not chunk:
                continue
            full = len(chunk) >= self.batch_size
            outcome = await self._attempt(repo_id, chunk)
            if outcome.kind == "ok":
                assert outcome.commit_oid is not None
                self.stats.files_already_present += outcome.unchanged
                if outcome.unchanged < len(chunk):  # else the client made no commit (nothing changed)
                    self.stats.commits += 1
                await self._confirmed(chunk, outcome.commit_oid)
                self._adapt(success=True, full=full, seconds=outcome.seconds)
            elif outcome.kind == "rate_limited":
                waited += outcome.retry_after
                if waited > self.policy.max_rate_limit_wait_s:
                    await self._failed(chunk + list(todo), f"rate limited for over {waited:.0f}s: {outcome.reason}")
                    return
                self._pause(outcome.retry_after)
                todo.extendleft(reversed(chunk))
            elif outcome.kind == "fatal":
                await self._failed(chunk + list(todo), outcome.reason)
                return
            else:
                todo.extendleft(reversed(await self._after_transient(repo_id, chunk, attempts, outcome.reason)))

    async def _after_transient(
        self, repo_id: str, chunk: list[Staged], attempts: dict[str, int], reason: str
    ) -> list[Staged]:
        """Count what landed despite the error, fail what is out of attempts; return the rest."""
        self._adapt(success=False)
        head, landed, rest = await self._split_landed(repo_id, chunk)
        if landed and head is not None:
            self.stats.files_found_landed += len(landed)
            await self._confirmed(landed, head)
        retry: list[Staged] = []
        exhausted: list[Staged] = []
        for item in rest:
            attempts[item.path_in_repo] = attempts.get(item.path_in_repo, 0) + 1
            (exhausted if attempts[item.path_in_repo] >= self.policy.max_attempts else retry).append(item)
        if exhausted:
            await self._failed(exhausted, f"gave up after {self.policy.max_attempts} attempts: {reason}")
        if retry:
            self.stats.retries += 1
            delay = self.policy.retry.backoff(max(attempts[i.path_in_repo] for i in retry))
            log.info("commit to %s failed (%s); retrying %d file(s) in %.1fs", repo_id, reason, len(retry), delay)
            await asyncio.sleep(delay)
        return retry

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

    # -- Hub calls --------------------------------------------------------------------------
    async def _wait_for_slot(self) -> None:
        """Respect a 429 pause, then the commit limiter and the run's `api` bucket (a commit
        starts with API requests: preupload, LFS batch)."""
        while (wait := self._paused_until - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        await self.limiter.acquire()
        await self._api_bucket().acquire()

    def _api_bucket(self) -> Bucket:
        if self.api_bucket is None:
            self.api_bucket = run_buckets(self.cfg.limits)["api"]
        return self.api_bucket

    def _pause(self, seconds: float) -> None:
        self.stats.rate_limited += 1
        self.stats.rate_limit_wait_s += seconds
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)
        log.info("commit quota reached; waiting %.0fs as the Hub asks", seconds)

    async def _attempt(self, repo_id: str, chunk: list[Staged]) -> _Outcome:
        """One `create_commit` in a thread, bounded by `commit_timeout_s`; never raises."""
        await self._wait_for_slot()
        started = time.monotonic()
        fut = asyncio.ensure_future(asyncio.to_thread(self._create_commit, repo_id, chunk))
        done, _ = await asyncio.wait({fut}, timeout=self.policy.commit_timeout_s)
        if not done:
            # The thread cannot be stopped; keep it referenced and let it finish on its own.
            self._abandoned.add(fut)
            fut.add_done_callback(self._forget_abandoned)
            return _Outcome("transient", reason=f"commit timed out after {self.policy.commit_timeout_s:.0f}s")
        try:
            oid, unchanged = fut.result()
        except Exception as exc:  # noqa: BLE001 - classified below; nothing may escape the committer
            return self._classify(exc, repo_id)
        return _Outcome("ok", commit_oid=oid, unchanged=unchanged, seconds=time.monotonic() - started)

    def _create_commit(self, repo_id: str, chunk: Sequence[Staged]) -> tuple[str, int]:
        """(commit id, files left out as unchanged). When every file is unchanged the client
        makes no commit and answers the head, which holds them all."""
        from huggingface_hub import CommitOperationAdd

        with contextlib.ExitStack() as files:
            lfs = not self.transfer.use_xet(repo_id, self.cfg.revision)
            # A file object makes the client send the whole batch over LFS (see transfer.py).
            ops = [
                CommitOperationAdd(
                    path_in_repo=i.path_in_repo,
                    path_or_fileobj=files.enter_context(open(i.file, "rb")) if lfs else str(i.file),
                )
                for i in chunk
            ]
            info = self.api.create_commit(
                repo_id=repo_id,
                repo_type="dataset",
                revision=self.cfg.revision,
                operations=ops,
                commit_message=self.commit_message.format(n=len(chunk)),
                num_threads=self.upload_threads,
            )
        unchanged = sum(
            1 for op in ops if getattr(op, "_remote_oid", None) is not None and op._remote_oid == op._local_oid
        )
        return str(info.oid), unchanged

    def _classify(self, exc: Exception, repo_id: str) -> _Outcome:
        """Rate limited, transient (retry after checking what landed) or fatal (fail now)."""
        outcome = self._classify_error(exc)
        if outcome.kind == "fatal":
            outcome.reason = f"{repo_id}: {outcome.reason}"
        return outcome

    def _classify_error(self, exc: Exception) -> _Outcome:
        """hfcheck's one mapping (`net.outcome`); everything but a 429 or a transient is fatal."""
        mapped = classify_exception(
            exc, has_token=bool(self.cfg.token), default_retry_after=self.policy.default_retry_after_s
        )
        reason = self._safe(mapped.detail)
        if mapped.outcome is HubOutcome.RATE_LIMITED:
            return _Outcome("rate_limited", reason=reason, retry_after=mapped.retry_after)
        if mapped.outcome is HubOutcome.TRANSIENT:
            return _Outcome("transient", reason=reason)
        return _Outcome("fatal", reason=reason)

    def _safe(self, text: str) -> str:
        return _safe(text, self.cfg.token)

    def _forget_abandoned(self, fut: asyncio.Future[Any]) -> None:
        """An abandoned commit thread ended: drop it and read its outcome (never "never retrieved")."""
        self._abandoned.discard(fut)
        if not fut.cancelled():
            fut.exception()

    async def _split_landed(self, repo_id: str, chunk: list[Staged]) -> tuple[str | None, list[Staged], list[Staged]]:
        """(head commit, landed, rest): a file landed when the remote content equals ours.

        The head is read first and the paths are looked up *at that commit*, so the commit id
        recorded for landed files is one that holds them. A lookup that itself fails counts
        nothing as landed: re-uploading identical content is harmless (the client drops files
        whose remote oid equals the local one, and LFS objects already stored are not sent).
        """
        paths = [i.path_in_repo for i in chunk]
        for _ in range(1 + -(-len(paths) // PATHS_INFO_CHUNK)):
            await self._api_bucket().acquire()
        try:
            head, remote = await asyncio.to_thread(self._remote_files, repo_id, paths)
        except Exception as exc:  # noqa: BLE001 - any failure means "unknown": retry them all
            log.info("could not check which files landed in %s: %s", repo_id, self._safe(str(exc)))
            return None, [], list(chunk)
        landed: list[Staged] = []
        rest: list[Staged] = []
        for item in chunk:
            (landed if _same_content(item, remote.get(item.path_in_repo)) else rest).append(item)
        return head, landed, rest

    def _remote_files(self, repo_id: str, paths: list[str]) -> tuple[str, dict[str, Any]]:
        """The head commit and `get_paths_info` at it, in chunks of ≤500 paths (the Hub
        refuses large ones)."""
        head = str(self.api.repo_info(repo_id, repo_type="dataset", revision=self.cfg.revision).sha)
        out: dict[str, Any] = {}
        for start in range(0, len(paths), PATHS_INFO_CHUNK):
            infos = self.api.get_paths_info(
                repo_id, paths[start : start + PATHS_INFO_CHUNK], repo_type="dataset", revision=head
            )
            out.update({i.path: i for i in infos})
        return head, out

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
        log.warning("%d file(s) for %s not uploaded: %s", len(items), items[0].repo_id, reason)
        await self.on_failed(items, reason)


def _same_content(item: Staged, remote: Any) -> bool:
    """Remote file equals ours: LFS sha256 and size, or (regular file) the git blob sha1."""
    if remote is None or getattr(remote, "size", None) != item.size:
        return False
    lfs = getattr(remote, "lfs", None)
    if lfs is not None:
        return bool(lfs.sha256 == item.sha256)
    try:
        return bool(getattr(remote, "blob_id", None) == _git_blob_sha1(item.file))
    except OSError:
        return False


def _git_blob_sha1(path: Path) -> str:
    h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


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
    cfg: Config,
    repo_id: str,
    paths: Sequence[str],
    *,
    message: str,
    policy: BatchPolicy | None = None,
    api: HfApi | None = None,
) -> str:
    """One commit deleting `paths` from `repo_id`; the commit id. Behind the run's api bucket,
    under the one retry policy: a 429 waits as asked, a transient error retries after checking
    whether the deletion landed (none of the paths left). Only `migrate --delete-old` deletes,
    and only files whose replacement is committed, read back and recorded."""
    from huggingface_hub import CommitOperationDelete, HfApi

    policy = policy or BatchPolicy()
    hub = api or HfApi(endpoint=cfg.endpoint, token=cfg.token)
    bucket = run_buckets(cfg.limits)["api"]
    ops = [CommitOperationDelete(path_in_repo=p) for p in paths]

    def landed() -> str | None:
        """The head commit when none of `paths` is left, else None (also when the Hub cannot say)."""
        try:
            if hub.get_paths_info(repo_id, list(paths), repo_type="dataset", revision=cfg.revision):
                return None
            return str(hub.repo_info(repo_id, repo_type="dataset", revision=cfg.revision).sha)
        except Exception:  # noqa: BLE001 - unknown whether it landed: try again
            return None

    async def attempt() -> str:
        await bucket.acquire()
        try:
            info = await asyncio.to_thread(
                hub.create_commit,
                repo_id=repo_id,
                repo_type="dataset",
                revision=cfg.revision,
                operations=ops,
                commit_message=message,
            )
            return str(info.oid)
        except Exception as exc:  # noqa: BLE001 - mapped below
            mapped = classify_exception(
                exc, has_token=bool(cfg.token), default_retry_after=policy.default_retry_after_s
            )
        if mapped.outcome is HubOutcome.RATE_LIMITED:
            raise RateLimited(mapped.retry_after)
        if mapped.outcome is not HubOutcome.TRANSIENT:
            raise DeleteFailed(f"{repo_id}: {_safe(mapped.detail, cfg.token)}")
        oid = await asyncio.to_thread(landed)
        if oid is not None:
            return oid
        raise TransientError(_safe(mapped.detail, cfg.token))

    try:
        return await policy.retry.run(attempt)
    except GaveUp as exc:
        raise DeleteFailed(f"{repo_id}: gave up: {exc}") from None


def _safe(text: str, token: str | None) -> str:
    """A reason for humans: one line, bounded, and never the token."""
    if token:
        text = text.replace(token, "***")
    return " ".join(text.split())[:300]


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
