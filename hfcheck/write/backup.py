"""backup: tweets with media and no (or a partial) backup get one.

For each medium without a backup URL: use the local file if it is there, else download it
from its media URL (allowed hosts only, `.part` then rename) into the local layout; encrypt;
upload through the same batched committer as `repair`, into the first configured repo with
room; then record the URLs. A medium gone at the source (404/410) is reported with its URL.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from hfcheck.db.archive import Archive, TweetRow
from hfcheck.config import Config
from hfcheck.crypto import ArchiveKey, CryptoError, archive_key
from hfcheck.net.download import Downloader
from hfcheck.db.gaps import gap_tweets_sql
from hfcheck.model.paths import (
    BackupURL,
    LocalName,
    Media,
    UnsafePath,
    confine,
    local_path_for,
    local_relpath,
    media_ext_from_url,
    remote_path_for,
)
from hfcheck.write.placement import RepoPlacement
from hfcheck.write.plan import (
    FilePlan,
    RunSummary,
    TweetLines,
    TweetPlan,
    dry_run_lines,
    ensure_local,
    plan_line,
    to_job,
)
from hfcheck.pool import Put, run_pool
from hfcheck.db.state import StateDB
from hfcheck.write.upload import TweetUploader


@dataclass
class BackupOptions:
    user: str | None = None
    limit: int | None = None
    dry_run: bool = False
    concurrency: int = 4
    echo: Callable[[str], None] = print
    progress_bar: bool = False


def backed_up_indices(key: ArchiveKey, row: TweetRow) -> set[int]:
    """Media indices that already have a backup URL (by decrypting the names).

    A name that does not decrypt (an older scheme) counts for the first free index, so a
    tweet with as many URLs as media is never backed up twice.
    """
    found: set[int] = set()
    unknown = 0
    for raw in row.hf_urls:
        try:
            rel = local_path_for(key, BackupURL.parse(raw).path)
            found.add(LocalName.parse(rel.rsplit("/", 1)[1]).index)
        except (ValueError, CryptoError):
            unknown += 1
    free = [i for i in range(len(row.media_urls)) if i not in found]
    return found | set(free[:unknown])


def find_local(root: Path, username: str, tweet_id: str, index: int, ext: str) -> str:
    """The local file of a medium: the expected name, else any extension already on disk."""
    rel = local_relpath(username, LocalName(tweet_id, index, ext))
    if confine(root, rel).is_file():
        return rel
    for media in Media:
        folder = root / media.value / username
        if folder.is_dir():
            for p in sorted(folder.glob(f"{tweet_id}_{index}.*")):
                with contextlib.suppress(UnsafePath):
                    return local_relpath(username, LocalName.parse(p.name))
    return rel


class BackupPlanner:
    def __init__(self, cfg: Config, key: ArchiveKey, placement: RepoPlacement | None) -> None:
        assert cfg.media_root is not None
        self.cfg = cfg
        self.key = key
        self.root = cfg.media_root
        self.placement = placement

    def plan(self, row: TweetRow) -> TweetPlan:
        plan = TweetPlan(row.tweet_id, kinds={"unbacked" if not row.hf_urls else "partial"})
        if row.username is None:
            plan.errors.append("unsafe username: cannot build local paths")
            return plan
        done = backed_up_indices(self.key, row)
        for i, media_url in enumerate(row.media_urls):
            if i in done:
                continue
            try:
                rel = find_local(self.root, row.username, row.tweet_id, i, media_ext_from_url(media_url))
                remote = remote_path_for(self.key, rel)
            except (UnsafePath, ValueError) as exc:
                plan.errors.append(f"medium {i} ({media_url}): {exc}")
                continue
            existing = self.placement.find_existing(remote) if self.placement else None
            repo_id = existing or (self.placement.place(remote) if self.placement else self.cfg.repo)
            url = str(BackupURL(self.cfg.endpoint, repo_id, self.cfg.revision, remote))
            plan.files.append(FilePlan("unbacked", rel, repo_id, remote, url, media_url=media_url, exists_remote=existing is not None))
        return plan


async def run_backup(cfg: Config, opts: BackupOptions) -> RunSummary:
    """Back up every unbacked or partially backed tweet (of one user, if asked)."""
    cfg.require("db", "media_root", "key_file", "repos")
    key = archive_key(cfg)
    summary = RunSummary(dry_run=opts.dry_run)
    placement = await RepoPlacement.load(cfg)
    planner = BackupPlanner(cfg, key, placement)
    async with Archive(cfg, writable=not opts.dry_run) as archive:
        where, params = f"({gap_tweets_sql(archive)})", ()
        if opts.user:
            where, params = f'{where} AND "{cfg.columns.username}" = ?', (opts.user,)
        summary.tweets = min(await archive.count(where, params), opts.limit or 1 << 62)
        # Keyset paging reads each page afresh, so rows we update behind us are never re-read.
        rows = _limited(archive.rows(where=where, params=params), opts.limit)
        if opts.dry_run:
            async for i, row in _numbered(rows):
                plan = planner.plan(row)
                opts.echo(plan_line(i, summary.tweets, plan))
                for line in dry_run_lines(plan):
                    opts.echo(line)
            return summary
        await _execute(cfg, key, archive, planner, rows, opts, summary)
    return summary


async def _limited(rows: AsyncIterator[TweetRow], limit: int | None) -> AsyncIterator[TweetRow]:
    n = 0
    async for row in rows:
        if limit is not None and n >= limit:
            return
        n += 1
        yield row


async def _numbered(rows: AsyncIterator[TweetRow]) -> AsyncIterator[tuple[int, TweetRow]]:
    i = 0
    async for row in rows:
        i += 1
        yield i, row


async def _execute(cfg: Config, key: ArchiveKey, archive: Archive, planner: BackupPlanner, rows: AsyncIterator[TweetRow], opts: BackupOptions, summary: RunSummary) -> None:
    assert cfg.media_root is not None
    lines = TweetLines(summary, opts.echo, bar=opts.progress_bar)
    async with contextlib.AsyncExitStack() as stack:
        dl = await stack.enter_async_context(Downloader(cfg.allowed_hosts, root=cfg.media_root, rate_per_host=cfg.limits.downloads_per_second_per_host))
        state = stack.enter_context(StateDB.in_data_dir(cfg.data_dir))
        up = await stack.enter_async_context(TweetUploader(cfg, archive, key, state, concurrency=opts.concurrency, on_done=lines.done))

        async def produce(put: Put[tuple[int, TweetRow]]) -> None:
            async for item in _numbered(rows):
                await put(item)

        async def prepare(item: tuple[int, TweetRow]) -> None:
            """Plan, fetch what is not on disk, hand to the uploader: tweets in parallel, so
            downloads overlap each other and the uploads."""
            i, row = item
            plan = planner.plan(row)
            if not plan.errors:
                summary.downloads(await ensure_local(cfg.media_root, plan, dl))
            if plan.errors:
                lines.fail(i, plan, "; ".join(plan.errors))
                return
            await up.submit(to_job(plan, row, cfg.media_root, i))

        await run_pool(produce, prepare, opts.concurrency)
    lines.close()
    summary.commits = up.committer.stats.commits
    summary.bytes_uploaded = up.committer.stats.bytes_uploaded
