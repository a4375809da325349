"""repair: the three kinds of damage of ARCHIVE.md, fixed tweet by tweet.

    missing      the recorded file is not in the repo: encrypt the local file, upload it to
                 that path; the URL stays.
    wrong_path   an unencrypted images/ or videos/ path was recorded: encrypt the local file
                 at that path, upload it to its encrypted path, replace that one URL.
    empty_media  backup URLs but no media list: fetch the tweet (twscrape), download its
                 media into the local layout, back them up, record media_urls and the URLs.
    unreadable   a read-back (`verify --deep`, `audit`) found that the backup does not decrypt
                 (tampered, truncated): encrypt the local file again, upload it to that path —
                 once this run's key (proven to open the archive) read it back and it still
                 does not decrypt: a good backup is never overwritten because of what an earlier
                 read-back remembered (a wrong key's, say), and its good read-back clears that.

Problems come from verify's progress file (a fresh verify runs when there is none); empty
media lists come from the database. Every step is idempotent: encrypted names are
deterministic, files already in the repo are not uploaded again, and a tweet whose row already
says what the repair would write is left alone — so `--resume` is simply running again.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hfcheck.config import Config
from hfcheck.crypto import Codecs, CryptoError, NameCodec, load_codecs
from hfcheck.db.archive import Archive, TweetRow
from hfcheck.db.gaps import gap_tweets_sql
from hfcheck.db.state import DECRYPTED_RESULTS, STATE_DB_NAME, StateDB
from hfcheck.errors import InputError
from hfcheck.model.outcomes import FileKind, RunSummary, UploadSource
from hfcheck.model.paths import (
    BackupURL,
    UnsafePath,
    find_by_tweet,
    local_path_for,
    parse_local_relpath,
    remote_media,
    remote_path_for,
)
from hfcheck.net.hub import Hub
from hfcheck.readback.deep import DeepAction
from hfcheck.readback.keycheck import require_key
from hfcheck.readback.walk import Walk
from hfcheck.report.catalog import Msg, msg, t
from hfcheck.verify.checkers import UrlTask
from hfcheck.verify.checkpoint import PROGRESS_NAME, Progress, archive_identity
from hfcheck.verify.findings import Category, Finding
from hfcheck.verify.pipeline import VerifyOptions, run_verify
from hfcheck.write.placement import RepoPlacement
from hfcheck.write.plan import FilePlan, TweetPlan
from hfcheck.write.recover import CopyFinder, recover_media, tweet_source
from hfcheck.write.runner import WriteOptions, write_tweets
from hfcheck.write.upload import remote_sizes

if TYPE_CHECKING:
    from hfcheck.net.twitter import TweetSource


def load_problems(cfg: Config) -> tuple[list[Finding], list[dict[str, Any]]]:
    """The repairable findings of the last verify (its progress file), and its repo problems:
    repos the Hub could not answer for, whose files nobody can tell missing or present."""
    path = cfg.data_dir / PROGRESS_NAME
    progress = Progress.load(path, archive_identity(cfg))
    if not progress.complete:
        raise InputError(msg("err_verify_unfinished", path=path))
    found = [f for f in progress.problems if f.category in (Category.MISSING, Category.WRONG_PATH)]
    return found, list(progress.repo_problems.values())


Unreadable = tuple[str, str, str, int, str]  # (repo, path, local rel, media index, tweet id)


Unmapped = tuple[str, str, Exception]  # (repo, path, why the name does not decrypt)


def load_unreadable(cfg: Config, key: NameCodec) -> tuple[list[Unreadable], list[Unmapped]]:
    """Backups a read-back found undecryptable, and the ones whose name does not decrypt either
    (`map_by_row` may still find them). Reads state.db only if it exists."""
    if not (cfg.data_dir / STATE_DB_NAME).is_file():
        return [], []
    with StateDB.in_data_dir(cfg.data_dir) as state:
        found = state.unreadable_backups()
    items: list[Unreadable] = []
    errors: list[Unmapped] = []
    for repo_id, path in found:
        try:
            rel = local_path_for(key, path)
            _, _, name = parse_local_relpath(rel)
        except (CryptoError, UnsafePath) as exc:
            errors.append((repo_id, path, exc))
            continue
        items.append((repo_id, path, rel, name.index, name.tweet_id))
    return items, errors


async def still_unreadable(hub: Hub, codecs: Codecs, items: list[Unreadable], *, remember: bool) -> list[Unreadable]:
    """The remembered unreadable backups that do not decrypt now either, read back with this
    run's key; the outcome of each is recorded (`remember`: not in a dry run), so a good one
    leaves the list for good. One that cannot be read now (the Hub did not answer) is kept."""
    if not items:
        return []
    cfg = hub.cfg
    assert cfg.media_root is not None
    kept: list[Unreadable] = []
    with contextlib.ExitStack() as stack:
        state = stack.enter_context(StateDB.in_data_dir(cfg.data_dir)) if remember else None
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hfcheck-recheck-")))
        walk = Walk(codecs, hub, tmp, media_root=cfg.media_root)
        action = DeepAction(cfg.media_root, state)

        async def read(item: Unreadable) -> str:
            repo_id, path, _, index, tweet_id = item
            url = BackupURL(hub.endpoint, repo_id, cfg.revision, path)
            return (await walk.read(UrlTask(0, tweet_id, path.split("/")[1], index, url), action)).category

        outcomes = await asyncio.gather(*(read(item) for item in items))
    for item, category in zip(items, outcomes, strict=True):
        if category not in DECRYPTED_RESULTS and category != "missing":  # missing: verify's, repaired as such
            kept.append(item)
    return kept


async def map_by_row(
    cfg: Config, archive: Archive, unmapped: list[Unmapped]
) -> tuple[list[Unreadable], list[Unmapped]]:
    """One-way names: the row that records an unreadable backup gives its tweet id and media
    index, and so its local file (one pass over the rows with backups)."""
    wanted = {(repo_id, path): exc for repo_id, path, exc in unmapped}
    found: list[Unreadable] = []
    async for row in archive.rows(where=archive.has_backup_sql()):
        for i, raw in enumerate(row.hf_urls):
            try:
                u = BackupURL.parse(raw)
                if (u.repo_id, u.path) not in wanted:
                    continue
                rel = find_by_tweet(cfg.media_root, row.username, row.tweet_id, i, remote_media(u.path))
            except (ValueError, UnsafePath):
                continue
            if rel is not None:
                del wanted[(u.repo_id, u.path)]
                found.append((u.repo_id, u.path, rel, i, row.tweet_id))
    return found, [(repo_id, path, exc) for (repo_id, path), exc in wanted.items()]


class Planner:
    """Turns findings, unreadable backups and empty media lists into `TweetPlan`s, reading the
    archive only (whether a file is already in the repo is `mark_existing`'s question)."""

    def __init__(self, cfg: Config, archive: Archive, key: NameCodec, placement: RepoPlacement) -> None:
        self.cfg = cfg
        self.archive = archive
        self.key = key
        self.placement = placement
        cfg.require("media_root")
        assert cfg.media_root is not None
        self.root: Path = cfg.media_root

    async def plans(
        self,
        findings: list[Finding],
        *,
        file_type: str | None,
        limit: int | None,
        unreadable: Sequence[Unreadable] = (),
    ) -> list[TweetPlan]:
        by_tweet: dict[str, TweetPlan] = {}
        for f in findings:
            plan = by_tweet.setdefault(f.tweet_id, TweetPlan(f.tweet_id))
            plan.kinds.add(FileKind(f.category.value))
            plan.findings.append(f)
        for repo_id, path, rel, index, tweet_id in unreadable:
            plan = by_tweet.setdefault(tweet_id, TweetPlan(tweet_id))
            plan.kinds.add(FileKind.UNREADABLE)
            plan.unreadable.append((repo_id, path, rel, index))
        async for lost in self.archive.rows(where=gap_tweets_sql(self.archive, ("empty_media",))):
            by_tweet.setdefault(lost.tweet_id, TweetPlan(lost.tweet_id)).kinds.add(FileKind.EMPTY_MEDIA)
        plans = []
        for tweet_id in sorted(by_tweet, key=lambda t: (len(t), t)):
            plan = by_tweet[tweet_id]
            row = await self.archive.get(tweet_id)
            if row is None:
                plan.errors.append(msg("err_not_in_db"))
            else:
                self._plan_files(plan, row)
            if file_type and plan.files and not any(fp.media == file_type for fp in plan.files):
                continue
            if file_type:
                plan.files = [fp for fp in plan.files if fp.media == file_type]
            plans.append(plan)
            if limit is not None and len(plans) >= limit:
                break
        return plans

    def _plan_files(self, plan: TweetPlan, row: TweetRow) -> None:
        for f in plan.findings:
            try:
                fp = self._missing(f, row) if f.category is Category.MISSING else self._wrong_path(f, row)
            except (UnsafePath, ValueError) as exc:
                plan.errors.append(msg("err_bad_url", url=f.url, error=exc))
                continue
            if isinstance(fp, Msg):
                plan.errors.append(fp)
            else:
                plan.files.append(fp)
        for repo_id, path, rel, index in plan.unreadable:
            recorded = next((u for u in row.hf_urls if _is_at(u, repo_id, path)), None)
            if recorded is None:
                plan.errors.append(msg("err_unreadable_unrecorded", repo=repo_id, path=path))
                continue
            media_url = row.media_urls[index] if index < len(row.media_urls) else None
            plan.files.append(
                FilePlan(FileKind.UNREADABLE, rel, repo_id, path, recorded, media_url=media_url, replace=True)
            )

    @staticmethod
    def _recorded(f: Finding, row: TweetRow) -> str:
        """The URL as the row records it: verify checked it at the configured revision, which
        a URL recorded at another one (`other_revision`) does not name; the row edit must find it."""
        url = BackupURL.parse(f.url)
        raw = row.hf_urls[f.index] if f.index < len(row.hf_urls) else f.url
        return raw if _is_at(raw, url.repo_id, url.path) else f.url

    def _missing(self, f: Finding, row: TweetRow) -> FilePlan | Msg:
        url = BackupURL.parse(f.url)
        media_url = row.media_urls[f.index] if f.index < len(row.media_urls) else None
        try:
            rel: str | None = local_path_for(self.key, url.path)
        except (CryptoError, UnsafePath):
            rel = find_by_tweet(self.root, row.username, row.tweet_id, f.index)  # one-way names, or an older scheme's
            if rel is None:
                return msg("err_no_local_for_name", url=f.url, user=row.username, tweet_id=row.tweet_id, index=f.index)
        return FilePlan(FileKind.MISSING, rel, url.repo_id, url.path, self._recorded(f, row), media_url=media_url)

    def _wrong_path(self, f: Finding, row: TweetRow) -> FilePlan:
        url = BackupURL.parse(f.url)
        parse_local_relpath(url.path)  # the extension tells images from videos
        remote = remote_path_for(self.key, url.path)
        repo_id = self.placement.find_existing(remote) or self.placement.place(remote)  # new: where there is room
        new = BackupURL(url.endpoint, repo_id, self.cfg.revision, remote)
        media_url = row.media_urls[f.index] if f.index < len(row.media_urls) else None
        old = self._recorded(f, row)
        return FilePlan(FileKind.WRONG_PATH, url.path, repo_id, remote, str(new), old_url=old, media_url=media_url)


async def mark_existing(hub: Hub, plans: list[TweetPlan]) -> None:
    """Files already in the repo (an earlier, interrupted repair) are not uploaded again."""
    by_repo: dict[str, list[FilePlan]] = defaultdict(list)
    for plan in plans:
        for fp in plan.files:
            if not fp.replace:
                by_repo[fp.repo_id].append(fp)
    for repo_id, fps in by_repo.items():
        found = await remote_sizes(hub, repo_id, [fp.remote_path for fp in fps])
        for fp in fps:
            fp.exists_remote = fp.remote_path in found


def _is_at(url: str, repo_id: str, path: str) -> bool:
    try:
        u = BackupURL.parse(url)
    except ValueError:
        return False
    return (u.repo_id, u.path) == (repo_id, path)


@dataclass
class RepairOptions:
    dry_run: bool = False
    limit: int | None = None
    file_type: str | None = None
    concurrency: int = 4
    echo: Callable[[str], None] = print
    progress_bar: bool = False


@dataclass
class RepairWriter:
    """What a repair supplies to the writer: its planned tweets, read afresh when their turn
    comes, and lost media lists recovered from X."""

    cfg: Config
    archive: Archive
    key: Codecs
    placement: RepoPlacement
    plans: list[TweetPlan]
    x: TweetSource | None = None
    finder: CopyFinder | None = None  # where lost local files are looked for before their media URL
    source: UploadSource = UploadSource.REPAIR

    async def tweets(self) -> AsyncIterator[TweetPlan]:
        for plan in self.plans:
            yield plan

    async def prepare(self, plan: TweetPlan, state: StateDB) -> None:
        plan.row = await self.archive.get(plan.tweet_id)
        if plan.row is None:
            plan.errors.append(msg("err_not_in_db"))
        elif FileKind.EMPTY_MEDIA in plan.kinds:
            await recover_media(self.cfg, self.key, self.placement, plan, self.x, state)
        if self.finder is not None and not plan.errors:
            await self.finder.locate(plan, state)


async def run_repair(cfg: Config, opts: RepairOptions) -> RunSummary:
    """Plan, then (unless dry run) fix every tweet; the database changes only after commits."""
    codecs = load_codecs(cfg)
    async with Hub(cfg) as hub:  # the run's one Hub: key check, verify and the writer share its quota
        return await _repair(cfg, opts, codecs, hub)


async def _repair(cfg: Config, opts: RepairOptions, codecs: Codecs, hub: Hub) -> RunSummary:
    check = await require_key(cfg, codecs, hub=hub)  # before verify's hours and anything written
    if not (cfg.data_dir / PROGRESS_NAME).exists():
        opts.echo(t("run_verify_first", cfg.lang))
        await run_verify(cfg, VerifyOptions(), hub)
    findings, repo_problems = load_problems(cfg)
    unreadable, unmapped = load_unreadable(cfg, codecs)
    summary = RunSummary(dry_run=opts.dry_run, repo_problems=repo_problems)
    async with Archive(cfg, writable=not opts.dry_run) as archive:
        if unmapped and not all(c.names_reversible for c in codecs.read):
            found, unmapped = await map_by_row(cfg, archive, unmapped)
            unreadable += found
        for repo_id, path, exc in unmapped:
            problem = msg("err_unreadable_name", repo=repo_id, path=path, error=exc)
            opts.echo(t("run_error_line", cfg.lang, reason=problem.render(cfg.lang)))
            summary.files_failed += 1
            summary.errors.append({"tweet_id": "", "reason": str(problem)})
        unreadable = await still_unreadable(hub, codecs, unreadable, remember=not opts.dry_run)
        placement = await RepoPlacement.load(hub)
        plans = await Planner(cfg, archive, codecs, placement).plans(
            findings, file_type=opts.file_type, limit=opts.limit, unreadable=unreadable
        )
        await mark_existing(hub, plans)
        summary.tweets = len(plans)
        needs_x = not opts.dry_run and any(FileKind.EMPTY_MEDIA in p.kinds for p in plans)
        finder = CopyFinder(cfg, codecs, fetch=not opts.dry_run, hub=hub)
        if opts.dry_run:  # the writer prints a dry run's plans as they are: say now where lost files would come from
            for plan in plans:
                if not plan.errors:
                    await finder.locate(plan, None)
        writer = RepairWriter(
            cfg, archive, codecs, placement, plans, x=await tweet_source(cfg) if needs_x else None, finder=finder
        )
        write_opts = WriteOptions(
            dry_run=opts.dry_run,
            concurrency=opts.concurrency,
            echo=opts.echo,
            progress_bar=opts.progress_bar,
            key=check,
        )
        try:
            await write_tweets(hub, archive, codecs, writer, summary, write_opts)
        finally:
            finder.cleanup()
    return summary
