"""backup: tweets with media and no (or a partial) backup get one.

For each medium without a backup URL: use the local file if it is there, else download it
from its media URL (allowed hosts only, `.part` then rename) into the local layout; encrypt;
upload through the same writer as `repair` (`runner.write_tweets`), into the first configured
repo with room; then record the URLs. A medium gone at the source (404/410) is reported with its URL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from hfcheck.config import Config
from hfcheck.crypto import CryptoError, NameCodec, load_codecs
from hfcheck.db.archive import Archive, TweetRow
from hfcheck.db.gaps import gap_tweets_sql
from hfcheck.db.state import StateDB
from hfcheck.model.outcomes import FileKind, RunSummary, UploadSource
from hfcheck.model.paths import (
    BackupURL,
    LocalName,
    UnsafePath,
    confine,
    find_by_tweet,
    local_path_for,
    local_relpath,
    media_ext_from_url,
    remote_path_for,
)
from hfcheck.net.hub import Hub
from hfcheck.report.catalog import msg
from hfcheck.write.placement import RepoPlacement
from hfcheck.write.plan import FilePlan, TweetPlan
from hfcheck.write.runner import WriteOptions, write_tweets


@dataclass
class BackupOptions:
    user: str | None = None
    limit: int | None = None
    dry_run: bool = False
    concurrency: int = 4
    echo: Callable[[str], None] = print
    progress_bar: bool = False


def backed_up_indices(key: NameCodec, row: TweetRow) -> set[int]:
    """Media indices that already have a backup URL (by decrypting the names).

    A name that does not decrypt (an older scheme, one-way names) counts for the first free index, so a
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
    return find_by_tweet(root, username, tweet_id, index) or rel


class BackupPlanner:
    """The plan of one tweet with a gap: a file per medium without a backup URL. Reads no
    database; looks for local files on disk only."""

    def __init__(self, cfg: Config, key: NameCodec, placement: RepoPlacement | None) -> None:
        assert cfg.media_root is not None
        self.cfg = cfg
        self.key = key
        self.root = cfg.media_root
        self.placement = placement

    def plan(self, row: TweetRow) -> TweetPlan:
        kind = FileKind.PARTIAL if row.hf_urls else FileKind.UNBACKED
        plan = TweetPlan(row.tweet_id, kinds={kind}, row=row)
        if row.username is None:
            plan.errors.append(msg("err_unsafe_username"))
            return plan
        done = backed_up_indices(self.key, row)
        for i, media_url in enumerate(row.media_urls):
            if i in done:
                continue
            try:
                rel = find_local(self.root, row.username, row.tweet_id, i, media_ext_from_url(media_url))
                remote = remote_path_for(self.key, rel)
            except (UnsafePath, ValueError) as exc:
                plan.errors.append(msg("err_bad_medium", index=i, url=media_url, error=exc))
                continue
            existing = self.placement.find_existing(remote) if self.placement else None
            repo_id = existing or (self.placement.place(remote) if self.placement else self.cfg.repo)
            url = str(BackupURL(self.cfg.endpoint, repo_id, self.cfg.revision, remote))
            plan.files.append(
                FilePlan(kind, rel, repo_id, remote, url, media_url=media_url, exists_remote=existing is not None)
            )
        return plan


@dataclass
class BackupWriter:
    """What a backup supplies to the writer: the rows with gaps, planned as they are read
    (keyset paging reads each page afresh, so rows updated behind us are never read again)."""

    planner: BackupPlanner
    rows: AsyncIterator[TweetRow]
    source: UploadSource = UploadSource.BACKUP

    async def tweets(self) -> AsyncIterator[TweetPlan]:
        async for row in self.rows:
            yield self.planner.plan(row)

    async def prepare(self, plan: TweetPlan, state: StateDB) -> None:
        """Nothing to add: the plan was made from the row just read."""


async def run_backup(cfg: Config, opts: BackupOptions) -> RunSummary:
    """Back up every unbacked or partially backed tweet (of one user, if asked)."""
    cfg.require("db", "media_root", "key_file", "repos")
    codecs = load_codecs(cfg)
    summary = RunSummary(dry_run=opts.dry_run)
    async with Hub(cfg, concurrency=opts.concurrency) as hub, Archive(cfg, writable=not opts.dry_run) as archive:
        planner = BackupPlanner(cfg, codecs, await RepoPlacement.load(hub))
        where = f"({gap_tweets_sql(archive)})"
        params: tuple[str, ...] = ()
        if opts.user:
            where, params = f'{where} AND "{cfg.columns.username}" = ?', (opts.user,)
        summary.tweets = min(await archive.count(where, params), opts.limit or 1 << 62)
        writer = BackupWriter(planner, _limited(archive.rows(where=where, params=params), opts.limit))
        write_opts = WriteOptions(
            dry_run=opts.dry_run, concurrency=opts.concurrency, echo=opts.echo, progress_bar=opts.progress_bar
        )
        await write_tweets(hub, archive, codecs, writer, summary, write_opts)
    return summary


async def _limited(rows: AsyncIterator[TweetRow], limit: int | None) -> AsyncIterator[TweetRow]:
    n = 0
    async for row in rows:
        if limit is not None and n >= limit:
            return
        n += 1
        yield row
