"""The one writer behind `repair` and `backup`: tweets in, files on the Hub, rows changed.

    producer (the command's tweets, numbered)
      → prepare, tweets in parallel (`pool.run_pool`): the command's own step, then fetch
        what is not on disk (`Downloader`, allowed hosts only)
      → stage: encrypt in threads into staged files (`upload.TweetUploader`)
      → the one committer (`commit.Committer`): batched commits, uploads recorded in state.db
        under the command's `UploadSource`
      → the row edit, once the Hub confirmed every file of the tweet; its line and tally.

Before anything is written (a dry run too), the key must open the archive
(`readback.keycheck.require_key`); the first tweet written to an archive that nothing recorded
could prove the key with leaves the key-check record first.

The commands differ only in what they supply (`TweetWriter`): the tweets they produce and how
one is made ready (a repair recovers lost media lists from X; a backup has nothing to add).
Downloads overlap each other and the uploads because tweets are prepared in parallel.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from hfcheck.crypto import Codec, Codecs
from hfcheck.db.archive import Archive
from hfcheck.db.state import StateDB
from hfcheck.model.outcomes import RunSummary, UploadSource
from hfcheck.model.paths import confine
from hfcheck.net.download import Downloader, DownloadResult
from hfcheck.net.hosts import AllowList, url_problem
from hfcheck.net.hub import Hub
from hfcheck.pool import Put, run_pool
from hfcheck.readback.keycheck import RECORD_PATH, RECORD_PLAINTEXT, KeyCheck, require_key
from hfcheck.report.catalog import msg, t
from hfcheck.write.commit import BatchPolicy, Committer, Staged
from hfcheck.write.lines import TweetLines
from hfcheck.write.plan import FilePlan, TweetPlan, to_job
from hfcheck.write.upload import TweetJob, TweetUploader

OnTweet = Callable[[TweetPlan, str | None], Awaitable[None] | None]


class ConfirmingWriter(Protocol):
    """A writer that checks a tweet's committed files before its row changes (migrate reads
    them back): the reason it failed, or None to apply the row edit."""

    async def confirm(self, job: TweetJob) -> str | None: ...


class TweetWriter(Protocol):
    """What a command supplies to the writer."""

    @property
    def source(self) -> UploadSource:
        """The command the uploads are recorded under."""
        ...

    def tweets(self) -> AsyncIterator[TweetPlan]:
        """The tweets to write, in the order they are numbered and printed."""
        ...

    async def prepare(self, plan: TweetPlan, state: StateDB) -> None:
        """Make one tweet ready, adding files or errors to its plan (`plan.row` may be set)."""
        ...


@dataclass
class WriteOptions:
    dry_run: bool = False
    concurrency: int = 4
    echo: Callable[[str], None] = print
    progress_bar: bool = False
    # For a caller that lives longer than one batch of tweets (`watch`): the committer once it
    # runs (its live stats), and each tweet's end (None: backed up; else the reason it failed).
    on_committer: Callable[[Committer], None] | None = None
    on_tweet: OnTweet | None = None
    commit_policy: BatchPolicy | None = None  # the committer's batching (None: its defaults); watch sets the linger
    key: KeyCheck | None = None  # the key check the command already made (None: the writer makes it)


async def write_tweets(
    hub: Hub, archive: Archive, codecs: Codecs, writer: TweetWriter, summary: RunSummary, opts: WriteOptions
) -> None:
    """Carry out (or, in a dry run, print) the plan of every tweet `writer` produces.

    Files are encrypted with `codecs.write` (crypto.write_scheme). `summary.tweets` must already
    say how many there will be (the `[i/n]` of each line)."""
    cfg = hub.cfg
    assert cfg.media_root is not None
    root: Path = cfg.media_root
    check = opts.key or await require_key(cfg, codecs, archive=archive, hub=hub)
    lines = TweetLines(summary, writer.source, cfg.lang, opts.echo, bar=opts.progress_bar and not opts.dry_run)
    if opts.dry_run:
        allowed = AllowList(cfg.allowed_hosts)
        async for i, plan in numbered(writer.tweets()):
            refuse_downloads(root, plan, allowed)
            lines.plan(i, plan)
        return
    async with contextlib.AsyncExitStack() as stack:
        dl = await stack.enter_async_context(
            Downloader(cfg.allowed_hosts, root=root, rate_per_host=cfg.limits.downloads_per_second_per_host)
        )
        state = stack.enter_context(StateDB.in_data_dir(cfg.data_dir))

        async def tweet_ended(plan: TweetPlan, reason: str | None) -> None:
            summary.commits = up.committer.stats.commits  # live, for a caller that reads it while running
            summary.bytes_uploaded = up.committer.stats.bytes_uploaded
            if opts.on_tweet is not None and asyncio.iscoroutine(result := opts.on_tweet(plan, reason)):
                await result

        async def done(job: TweetJob) -> None:
            lines.done(job)
            await tweet_ended(job.info["plan"], job.failed)

        confirming: ConfirmingWriter | None = writer if callable(getattr(writer, "confirm", None)) else None  # type: ignore[assignment]
        up = await stack.enter_async_context(
            TweetUploader(
                hub,
                archive,
                codecs.write,
                state,
                source=writer.source,
                concurrency=opts.concurrency,
                on_done=done,
                policy=opts.commit_policy,
                confirm=confirming.confirm if confirming else None,
            )
        )
        if opts.on_committer is not None:
            opts.on_committer(up.committer)
        record = _KeyRecord(hub, codecs, state, writer.source, opts.echo) if check.write_record else None

        async def produce(put: Put[tuple[int, TweetPlan]]) -> None:
            async for item in numbered(writer.tweets()):
                await put(item)

        async def prepare(item: tuple[int, TweetPlan]) -> None:
            i, plan = item
            if not plan.errors:
                await writer.prepare(plan, state)
            if plan.row is None and not plan.errors:
                plan.row = await archive.get(plan.tweet_id)
                if plan.row is None:
                    plan.errors.append(msg("err_not_in_db"))
            if not plan.errors:
                _count_downloads(summary, await ensure_local(root, plan, dl))
            if plan.errors:
                reasons = [e.render(cfg.lang) for e in plan.errors]
                lines.fail(i, plan, reasons)
                await tweet_ended(plan, "; ".join(reasons))
                return
            assert plan.row is not None
            if record is not None:
                await record.leave()
            await up.submit(to_job(plan, plan.row, root, i))

        await run_pool(produce, prepare, opts.concurrency)
    lines.close()
    summary.commits = up.committer.stats.commits
    summary.bytes_uploaded = up.committer.stats.bytes_uploaded
    known = {(p["repo_id"], p["category"]) for p in summary.repo_problems}
    for problem in up.committer.stats.repo_problems.values():  # refused commits: exit 3, each repo named once
        if (problem["repo_id"], problem["category"]) not in known:
            summary.repo_problems.append(problem)


class _KeyRecord:
    """The key-check record, committed once, before the run's first file (first use)."""

    def __init__(
        self, hub: Hub, codecs: Codecs, state: StateDB, source: UploadSource, echo: Callable[[str], None]
    ) -> None:
        self.hub, self.codecs, self.state, self.source, self.echo = hub, codecs, state, source, echo
        self._lock = asyncio.Lock()
        self._done = False

    async def leave(self) -> None:
        async with self._lock:
            if self._done:
                return
            self._done = True
            failed = await write_key_record(self.hub, self.codecs.write, self.state, self.source)
            lang, repo = self.hub.cfg.lang, self.hub.cfg.repo
            if failed is None:
                self.echo(t("key_record_written", lang, repo=repo, path=RECORD_PATH))
            else:
                self.echo(t("key_record_failed", lang, repo=repo, reason=failed))


def _to_fetch(root: Path, fp: FilePlan) -> Path | None:
    """Where a file must be downloaded to before it can be uploaded, or None when it need not be."""
    if not fp.needs_local or fp.local_rel is None:
        return None
    local = confine(root, fp.local_rel)
    return None if local.is_file() else local


def refuse_downloads(root: Path, plan: TweetPlan, allowed: AllowList) -> None:
    """A dry run's word for the downloads the real run would refuse (a host not allowed): the
    file becomes the plan's error instead of an upload. Pure: no request is made."""
    keep: list[FilePlan] = []
    for fp in plan.files:
        if _to_fetch(root, fp) is not None and fp.media_url and url_problem(fp.media_url, allowed):
            host = urlsplit(fp.media_url).netloc
            plan.errors.append(msg("err_local_refused", local=fp.local_rel, url=fp.media_url, host=host))
        else:
            keep.append(fp)
    plan.files = keep


async def ensure_local(root: Path, plan: TweetPlan, dl: Downloader) -> list[DownloadResult]:
    """Every file to upload (and every recovered medium) must be on disk: fetch what is gone.

    Failures become the plan's errors (a 404/410 names the URL: gone at the source); the
    downloads made are returned for the summary."""
    fetched: list[DownloadResult] = []
    for fp in plan.files:
        local = _to_fetch(root, fp)
        if local is None:
            continue
        if not fp.media_url:
            plan.errors.append(msg("err_local_no_url", local=fp.local_rel))
            continue
        local.parent.mkdir(parents=True, exist_ok=True)
        result = await dl.fetch(fp.media_url, local)
        fetched.append(result)
        if result.status not in ("ok", "exists"):
            plan.errors += fp.unusable  # the copies passed over before the media URL, and why
        if result.status == "gone":
            plan.errors.append(msg("err_local_gone", local=fp.local_rel, url=fp.media_url, reason=result.reason))
        elif result.status not in ("ok", "exists"):
            plan.errors.append(
                msg("err_local_fetch", local=fp.local_rel, url=fp.media_url, status=result.status, reason=result.reason)
            )
    return fetched


def _count_downloads(summary: RunSummary, results: list[DownloadResult]) -> None:
    for result in results:
        summary.files_downloaded += result.status == "ok"
        if result.status == "gone":
            summary.gone_at_source.append(result.url)


async def numbered(items: AsyncIterator[TweetPlan]) -> AsyncIterator[tuple[int, TweetPlan]]:
    """`enumerate` for async iterators, from 1 (the users' `[1/n]`)."""
    i = 0
    async for item in items:
        i += 1
        yield i, item


async def write_key_record(hub: Hub, codec: Codec, state: StateDB, source: UploadSource) -> str | None:
    """Commit the key-check record to the first configured repo through the one committer;
    None when done, else the reason it failed (the next writing run tries again)."""
    cfg = hub.cfg
    failed: list[str] = []

    async def committed(items: list[Staged], commit_oid: str) -> None:
        return None

    async def refused(items: list[Staged], reason: str) -> None:
        failed.append(reason)

    with tempfile.TemporaryDirectory(prefix="hfcheck-key-") as tmp:
        plain, staged = Path(tmp) / "keycheck", Path(tmp) / "keycheck.enc"
        plain.write_bytes(RECORD_PLAINTEXT)
        result = await asyncio.to_thread(codec.encrypt_file, plain, staged, RECORD_PATH)
        async with Committer(
            hub, state, on_committed=committed, on_failed=refused, commit_message="hfcheck: key-check record"
        ) as committer:
            await committer.put(Staged(cfg.repo, RECORD_PATH, staged, result.sha256, result.size, source=source))
    return failed[0] if failed else None
