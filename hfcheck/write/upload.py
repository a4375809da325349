"""Whole-tweet uploads: encrypt concurrently, commit in batches, then change the row.

Shared by `repair` and `backup`. A tweet's database change is applied only after the Hub
confirmed the commit(s) holding every one of its files, and all the tweets completed by one
commit change in one transaction: a crash leaves each tweet before or after its repair, never
between. Encryption (CPU) runs in threads, off the event loop; staged ciphertext waits on disk
(never a whole video in memory) and the committer deletes it once committed.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hfcheck.crypto import Codec, EncryptResult
from hfcheck.db.archive import Archive, Key, RowChange, TweetRow
from hfcheck.db.state import StateDB
from hfcheck.errors import HubAnswered, InputError, Unverifiable
from hfcheck.model.outcomes import UploadSource
from hfcheck.net.fetch import sha256_file
from hfcheck.net.hub import Hub
from hfcheck.write.commit import BatchPolicy, Committer, Staged


@dataclass
class FileJob:
    """One local file to encrypt and upload to `remote_path` in `repo_id`."""

    repo_id: str
    remote_path: str
    local: Path
    media: str = ""  # images | videos, for --file-type and the summary
    sealed: bool = False  # `local` is already the ciphertext for `remote_path` (a copy from the repo's history)


@dataclass
class TweetJob:
    """Everything one tweet needs; `change` computes its new row once all files are on the Hub."""

    key: Key
    tweet_id: str
    files: list[FileJob]
    change: Callable[[TweetRow], RowChange | None] | None = None
    pending: int = 0
    failed: str | None = None
    done: bool = False
    bytes: int = 0
    info: dict[str, Any] = field(default_factory=dict)


OnDone = Callable[[TweetJob], Awaitable[None] | None]
Confirm = Callable[[TweetJob], Awaitable[str | None]]


class TweetUploader:
    """`async with TweetUploader(...) as up: await up.submit(job)`; results go to `on_done`."""

    def __init__(
        self,
        hub: Hub,
        archive: Archive,
        codec: Codec,
        state: StateDB,
        *,
        source: UploadSource,
        concurrency: int,
        on_done: OnDone,
        policy: BatchPolicy | None = None,
        confirm: Confirm | None = None,
    ) -> None:
        cfg = hub.cfg
        self.cfg = cfg
        self.source = source  # what state.db records the uploads as
        self.archive = archive
        self.codec = codec  # the write codec (crypto.write_scheme)
        self.staging = cfg.data_dir / "staging"
        self._sem = asyncio.Semaphore(concurrency)
        self._on_done = on_done
        self._confirm = confirm  # checks a tweet's committed files before its row changes (migrate's read-back)
        self._tasks: set[asyncio.Task[None]] = set()
        self.committer = Committer(hub, state, on_committed=self._committed, on_failed=self._failed, policy=policy)

    async def __aenter__(self) -> TweetUploader:
        shutil.rmtree(self.staging, ignore_errors=True)  # leftovers of a killed run: never committed as such
        self.staging.mkdir(parents=True, exist_ok=True)
        self.committer.start()
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                await asyncio.gather(*self._tasks)
                await self.committer.close()
            else:
                for t in self._tasks:
                    t.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
                await self.committer.abort()
        finally:
            shutil.rmtree(self.staging, ignore_errors=True)

    async def submit(self, job: TweetJob) -> None:
        """Start the tweet's uploads (or apply its change at once when it has no files)."""
        job.pending = len(job.files)
        if not job.files:
            await self._finish([job])
            return
        for i, f in enumerate(job.files):
            await self._sem.acquire()  # bounds staged files and threads in flight
            task = asyncio.create_task(self._stage(job, i, f))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _stage(self, job: TweetJob, index: int, f: FileJob) -> None:
        try:
            dst = self.staging / f"{job.tweet_id}_{index}_{abs(hash(f.remote_path)):x}.enc"
            try:
                if f.sealed:
                    result = await asyncio.to_thread(_stage_as_is, f.local, dst)
                else:
                    result = await asyncio.to_thread(self.codec.encrypt_file, f.local, dst, f.remote_path)
            except OSError as exc:
                await self._fail_job(job, f"cannot read {f.local}: {exc.strerror or exc}")
                return
            except InputError as exc:  # e.g. above a one-shot codec's size limit: one line naming the file
                await self._fail_job(job, str(exc))
                return
            job.bytes += result.size
            staged = Staged(f.repo_id, f.remote_path, dst, result.sha256, result.size, tag=job, source=self.source)
            await self.committer.put(staged)
        finally:
            self._sem.release()

    async def _committed(self, items: list[Staged], commit_oid: str) -> None:
        ready: list[TweetJob] = []
        failed: list[TweetJob] = []
        for item in items:
            job: TweetJob = item.tag
            job.pending -= 1
            job.info.setdefault("commits", set()).add(commit_oid)
            if job.pending == 0:
                (ready if job.failed is None else failed).append(job)
        if self._confirm is not None and ready:
            reasons = await asyncio.gather(*(self._confirm(job) for job in ready))
            for job, reason in zip(ready, reasons):
                if reason is not None:
                    job.failed = reason
                    failed.append(job)
            ready = [job for job, reason in zip(ready, reasons) if reason is None]
        await self._finish(ready)
        for job in failed:
            await self._report(job)

    async def _failed(self, items: list[Staged], reason: str) -> None:
        for item in items:
            await self._fail_job(item.tag, reason)

    async def _fail_job(self, job: TweetJob, reason: str) -> None:
        """The first reason is the tweet's; it is reported once none of its files is still with
        the committer, so whoever tries the tweet again sees every file that landed."""
        job.pending -= 1
        if job.failed is None:
            job.failed = reason
        if job.pending == 0:
            await self._report(job)

    async def _finish(self, jobs: Iterable[TweetJob]) -> None:
        """One transaction for the rows of every tweet this commit completed."""
        jobs = list(jobs)
        edits = [(j.key, j.change) for j in jobs if j.change is not None]
        if edits:
            await self.archive.update_rows(edits)
        for job in jobs:
            job.done = True
            await self._report(job)

    async def _report(self, job: TweetJob) -> None:
        result = self._on_done(job)
        if asyncio.iscoroutine(result):
            await result


def _stage_as_is(src: Path, dst: Path) -> EncryptResult:
    """Stage ciphertext that was authenticated elsewhere, byte for byte (the committer deletes
    the staged copy, never the source)."""
    shutil.copyfile(src, dst)
    return EncryptResult(dst.stat().st_size, sha256_file(dst))


async def remote_sizes(hub: Hub, repo_id: str, paths: list[str], *, strict: bool = False) -> dict[str, int]:
    """{path: size} of those `paths` the destination holds (looked up a chunk at a time, each
    under the retry policy).

    A chunk the Hub cannot answer is skipped (its files are uploaded, which deterministic names
    keep idempotent), or with `strict` raised: the caller must not take "unknown" for "absent"."""
    dest = hub.destination
    step = dest.limits.paths_per_lookup
    found: dict[str, int] = {}
    for start in range(0, len(paths), step):
        try:
            remote = await dest.lookup(repo_id, paths[start : start + step])
        except (Unverifiable, HubAnswered):
            if strict:
                raise
            continue
        found.update((path, f.size) for path, f in remote.items())
    return found
