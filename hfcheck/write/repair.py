"""repair: the three kinds of damage of ARCHIVE.md, fixed tweet by tweet.

    missing      the recorded file is not in the repo: encrypt the local file, upload it to
                 that path; the URL stays.
    wrong_path   an unencrypted images/ or videos/ path was recorded: encrypt the local file
                 at that path, upload it to its encrypted path, replace that one URL.
    empty_media  backup URLs but no media list: fetch the tweet (twscrape), download its
                 media into the local layout, back them up, record media_urls and the URLs.
    unreadable   a read-back (`verify --deep`, `audit`) found that the backup does not decrypt
                 (tampered, truncated): encrypt the local file again, upload it to that path.

Problems come from verify's progress file (a fresh verify runs when there is none); empty
media lists come from the database. Every step is idempotent: encrypted names are
deterministic, files already in the repo are not uploaded again, and a tweet whose row already
says what the repair would write is left alone — so `--resume` is simply running again.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hfcheck.db.archive import Archive, TweetRow
from hfcheck.config import Config
from hfcheck.crypto import ArchiveKey, CryptoError, archive_key
from hfcheck.net.download import Downloader
from hfcheck.errors import InputError
from hfcheck.db.gaps import gap_tweets_sql
from hfcheck.model.paths import (
    BackupURL,
    LocalName,
    UnsafePath,
    confine,
    local_path_for,
    local_relpath,
    media_ext_from_url,
    parse_local_relpath,
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
from hfcheck.db.state import FINAL_ON_X, STATE_DB_NAME, StateDB
from hfcheck.write.upload import TweetUploader, remote_sizes
from hfcheck.verify.checkpoint import PROGRESS_NAME, Progress, archive_identity
from hfcheck.verify.findings import Category, Finding
from hfcheck.verify.pipeline import VerifyOptions, run_verify

if TYPE_CHECKING:
    from hfcheck.net.twitter import TweetSource

KINDS = ("missing", "wrong_path", "empty_media", "unreadable")


def load_problems(cfg: Config) -> list[Finding]:
    """The repairable findings of the last verify (its progress file)."""
    path = cfg.data_dir / PROGRESS_NAME
    progress = Progress.load(path, archive_identity(cfg))
    if not progress.complete:
        raise InputError(f"the verify run in {path} did not finish: run `hfcheck verify --resume` first")
    return [f for f in progress.problems if f.category in (Category.MISSING, Category.WRONG_PATH)]


Unreadable = tuple[str, str, str, int, str]  # (repo, path, local rel, media index, tweet id)


def load_unreadable(cfg: Config, key: ArchiveKey) -> tuple[list[Unreadable], list[str]]:
    """Backups a read-back found undecryptable, and the ones that cannot be mapped back to a
    local file (their name does not decrypt either). Reads state.db only if it exists."""
    if not (cfg.data_dir / STATE_DB_NAME).is_file():
        return [], []
    with StateDB.in_data_dir(cfg.data_dir) as state:
        found = state.unreadable_backups()
    items: list[Unreadable] = []
    errors: list[str] = []
    for repo_id, path in found:
        try:
            rel = local_path_for(key, path)
            _, _, name = parse_local_relpath(rel)
        except (CryptoError, UnsafePath) as exc:
            errors.append(f"{repo_id}:{path}: the backup does not decrypt and neither does its name ({exc}); re-upload it by hand")
            continue
        items.append((repo_id, path, rel, name.index, name.tweet_id))
    return items, errors


class Planner:
    """Turns findings and empty media lists into `TweetPlan`s, reading only."""

    def __init__(self, cfg: Config, archive: Archive, key: ArchiveKey, placement: RepoPlacement) -> None:
        self.cfg = cfg
        self.archive = archive
        self.key = key
        self.placement = placement
        cfg.require("media_root")
        assert cfg.media_root is not None
        self.root: Path = cfg.media_root

    async def plans(self, findings: list[Finding], *, file_type: str | None, limit: int | None, unreadable: Sequence[Unreadable] = ()) -> list[TweetPlan]:
        by_tweet: dict[str, TweetPlan] = {}
        for f in findings:
            plan = by_tweet.setdefault(f.tweet_id, TweetPlan(f.tweet_id))
            plan.kinds.add(f.category.value)
            plan.findings.append(f)
        for repo_id, path, rel, index, tweet_id in unreadable:
            plan = by_tweet.setdefault(tweet_id, TweetPlan(tweet_id))
            plan.kinds.add("unreadable")
            plan.unreadable.append((repo_id, path, rel, index))
        async for row in self.archive.rows(where=gap_tweets_sql(self.archive, ("empty_media",))):
            by_tweet.setdefault(row.tweet_id, TweetPlan(row.tweet_id)).kinds.add("empty_media")
        plans = []
        for tweet_id in sorted(by_tweet, key=lambda t: (len(t), t)):
            plan = by_tweet[tweet_id]
            row = await self.archive.get(tweet_id)
            if row is None:
                plan.errors.append("tweet no longer in the database")
            else:
                self._plan_files(plan, row)
            if file_type and plan.files and not any(fp.media == file_type for fp in plan.files):
                continue
            if file_type:
                plan.files = [fp for fp in plan.files if fp.media == file_type]
            plans.append(plan)
            if limit is not None and len(plans) >= limit:
                break
        await self._mark_existing(plans)
        return plans

    def _plan_files(self, plan: TweetPlan, row: TweetRow) -> None:
        for f in plan.findings:
            try:
                fp = self._missing(f, row) if f.category is Category.MISSING else self._wrong_path(f, row)
            except (UnsafePath, ValueError) as exc:
                plan.errors.append(f"{f.url}: {exc}")
                continue
            if isinstance(fp, str):
                plan.errors.append(fp)
            else:
                plan.files.append(fp)
        for repo_id, path, rel, index in plan.unreadable:
            recorded = next((u for u in row.hf_urls if _is_at(u, repo_id, path)), None)
            if recorded is None:
                plan.errors.append(f"{repo_id}:{path}: unreadable, but no longer recorded for this tweet")
                continue
            media_url = row.media_urls[index] if index < len(row.media_urls) else None
            plan.files.append(FilePlan("unreadable", rel, repo_id, path, recorded, media_url=media_url, replace=True))

    def _missing(self, f: Finding, row: TweetRow) -> FilePlan | str:
        url = BackupURL.parse(f.url)
        media_url = row.media_urls[f.index] if f.index < len(row.media_urls) else None
        try:
            rel = local_path_for(self.key, url.path)
        except (CryptoError, UnsafePath):
            rel = self._find_by_tweet(row, f.index)  # a name from an older scheme
            if rel is None:
                return f"{f.url}: name does not decrypt with this key and no local file {row.username}/{row.tweet_id}_{f.index}.* was found"
        return FilePlan("missing", rel, url.repo_id, url.path, f.url, media_url=media_url)

    def _wrong_path(self, f: Finding, row: TweetRow) -> FilePlan:
        url = BackupURL.parse(f.url)
        parse_local_relpath(url.path)  # the extension tells images from videos
        remote = remote_path_for(self.key, url.path)
        repo_id = self.placement.find_existing(remote) or self.placement.place(remote)  # new: where there is room
        new = BackupURL(url.endpoint, repo_id, self.cfg.revision, remote)
        media_url = row.media_urls[f.index] if f.index < len(row.media_urls) else None
        return FilePlan("wrong_path", url.path, repo_id, remote, str(new), old_url=f.url, media_url=media_url)

    def _find_by_tweet(self, row: TweetRow, index: int) -> str | None:
        if row.username is None:
            return None
        for media in ("images", "videos"):
            folder = confine(self.root, f"{media}/{row.username}") if (self.root / media / row.username).is_dir() else None
            if folder is None:
                continue
            for p in sorted(folder.glob(f"{row.tweet_id}_{index}.*")):
                return f"{media}/{row.username}/{p.name}"
        return None

    async def _mark_existing(self, plans: list[TweetPlan]) -> None:
        """Files already in the repo (an earlier, interrupted repair) are not uploaded again."""
        by_repo: dict[str, list[FilePlan]] = defaultdict(list)
        for plan in plans:
            for fp in plan.files:
                if not fp.replace:
                    by_repo[fp.repo_id].append(fp)
        for repo_id, fps in by_repo.items():
            found = await remote_sizes(self.cfg, repo_id, [fp.remote_path for fp in fps])
            for fp in fps:
                fp.exists_remote = fp.remote_path in found


def _is_at(url: str, repo_id: str, path: str) -> bool:
    try:
        u = BackupURL.parse(url)
    except ValueError:
        return False
    return (u.repo_id, u.path) == (repo_id, path)


def empty_media_files(cfg: Config, key: ArchiveKey, placement: RepoPlacement, row: TweetRow, media_urls: list[str]) -> list[FilePlan]:
    """Files for a tweet whose media list was recovered from X (index = position in the list).

    A file already backed up stays where it is; a new one goes where there is room."""
    files = []
    for i, media_url in enumerate(media_urls):
        rel = local_relpath(row.username or "", LocalName(row.tweet_id, i, media_ext_from_url(media_url)))
        remote = remote_path_for(key, rel)
        existing = placement.find_existing(remote)
        repo_id = existing or placement.place(remote)
        url = str(BackupURL(cfg.endpoint, repo_id, cfg.revision, remote))
        files.append(FilePlan("empty_media", rel, repo_id, remote, url, media_url=media_url, exists_remote=existing is not None))
    return files


@dataclass
class RepairOptions:
    dry_run: bool = False
    limit: int | None = None
    file_type: str | None = None
    concurrency: int = 4
    echo: Callable[[str], None] = print
    progress_bar: bool = False


async def run_repair(cfg: Config, opts: RepairOptions) -> RunSummary:
    """Plan, then (unless dry run) fix every tweet; the database changes only after commits."""
    key = archive_key(cfg)
    if not (cfg.data_dir / PROGRESS_NAME).exists():
        opts.echo("no verify progress file: running verify first")
        await run_verify(cfg, VerifyOptions())
    findings = load_problems(cfg)
    unreadable, unmappable = load_unreadable(cfg, key)
    summary = RunSummary(dry_run=opts.dry_run)
    for line in unmappable:
        opts.echo(f"error: {line}")
        summary.files_failed += 1
        summary.errors.append({"tweet_id": "", "reason": line})
    async with Archive(cfg, writable=not opts.dry_run) as archive:
        placement = await RepoPlacement.load(cfg)
        plans = await Planner(cfg, archive, key, placement).plans(findings, file_type=opts.file_type, limit=opts.limit, unreadable=unreadable)
        summary.tweets = len(plans)
        if opts.dry_run:
            for i, plan in enumerate(plans, 1):
                opts.echo(plan_line(i, len(plans), plan))
                for line in dry_run_lines(plan):
                    opts.echo(line)
            return summary
        await _execute(cfg, key, archive, plans, opts, summary, placement)
    return summary


async def _execute(cfg: Config, key: ArchiveKey, archive: Archive, plans: list[TweetPlan], opts: RepairOptions, summary: RunSummary, placement: RepoPlacement) -> None:
    assert cfg.media_root is not None
    lines = TweetLines(summary, opts.echo, bar=opts.progress_bar)
    source = await _tweet_source(cfg) if any("empty_media" in p.kinds for p in plans) else None
    async with contextlib.AsyncExitStack() as stack:
        dl = await stack.enter_async_context(Downloader(cfg.allowed_hosts, root=cfg.media_root, rate_per_host=cfg.limits.downloads_per_second_per_host))
        state = stack.enter_context(StateDB.in_data_dir(cfg.data_dir))
        up = await stack.enter_async_context(TweetUploader(cfg, archive, key, state, concurrency=opts.concurrency, on_done=lines.done))

        async def produce(put: Put[tuple[int, TweetPlan]]) -> None:
            for item in enumerate(plans, 1):
                await put(item)

        async def prepare(item: tuple[int, TweetPlan]) -> None:
            """Recover lost media lists, fetch what is not on disk, hand to the uploader:
            tweets in parallel, so downloads overlap each other and the uploads."""
            i, plan = item
            row = await archive.get(plan.tweet_id)
            if row is None:
                plan.errors.append("tweet no longer in the database")
            elif "empty_media" in plan.kinds:
                await _recover_media(cfg, key, placement, plan, row, source, state)
            if not plan.errors:
                summary.downloads(await ensure_local(cfg.media_root, plan, dl))
            if plan.errors:
                lines.fail(i, plan, "; ".join(plan.errors))
                return
            assert row is not None
            await up.submit(to_job(plan, row, cfg.media_root, i))

        await run_pool(produce, prepare, opts.concurrency)
    lines.close()
    summary.commits = up.committer.stats.commits
    summary.bytes_uploaded = up.committer.stats.bytes_uploaded


async def _tweet_source(cfg: Config) -> TweetSource | None:
    """twscrape, set up for this run (with the fixtures' account when X is served from fixtures).

    Imported here, not at the top: twscrape costs 0.4 s and 46 MiB to load, and only a repair
    of lost media lists needs it."""
    from hfcheck.net.twitter import FixtureTransport, TweetSource, add_cookie_account

    if cfg.twscrape_accounts_db is None:
        return None
    transport = None
    if cfg.twitter_fixtures is not None:
        try:
            transport = FixtureTransport(json.loads(cfg.twitter_fixtures.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise InputError(f"twitter.fixtures {cfg.twitter_fixtures}: {exc}") from None
    source = TweetSource(cfg.twscrape_accounts_db, transport=transport)
    if transport is not None and not await source.active_accounts():
        await add_cookie_account(cfg.twscrape_accounts_db, "fixtures", "auth_token=fixture; ct0=fixture")
    return source


async def _recover_media(cfg: Config, key: ArchiveKey, placement: RepoPlacement, plan: TweetPlan, row: TweetRow, source: TweetSource | None, state: StateDB) -> None:
    """Ask X for the tweet's media; deleted/protected tweets are reported with X's reason.

    A tweet X said is deleted or does not exist is not asked about again (twscrape accounts
    are scarce): its error line says since when it is known."""
    known = state.x_lookup(plan.tweet_id)
    if known is not None and known.status in FINAL_ON_X:
        since = time.strftime("%Y-%m-%d", time.gmtime(known.checked_at))
        plan.errors.append(f"tweet {known.status} on X (known since {since}): {known.reason}")
        return
    if source is None:
        plan.errors.append("media list is empty and twscrape is not configured (twitter.accounts_db)")
        return
    if row.username is None:
        plan.errors.append("unsafe username: cannot build local paths")
        return
    lookup = await source.lookup(plan.tweet_id)
    if lookup.status != "error":
        state.record_x_lookup(plan.tweet_id, lookup.status, lookup.reason)
    if lookup.status != "ok":
        plan.errors.append(f"tweet {lookup.status} on X: {lookup.reason}")
        return
    urls = [m.url for m in lookup.media if m.url]
    if not urls:
        plan.errors.append(f"X lists no downloadable media for this tweet {lookup.reason}".strip())
        return
    plan.media_urls = urls
    plan.files += empty_media_files(cfg, key, placement, row, urls)


