"""migrate: re-encrypt the backups of one scheme into another, through the one writer.

    rows with backups → per recorded URL whose name is not yet the target scheme's:
      the plaintext: the local file (unless a read-back found it to differ from the backup),
                     else the old backup downloaded and decrypted by the read-back walk
      → encrypt with the target codec, upload under the target name (the one committer)
      → read the new file back (download, the target codec must recognise it, decrypt,
        sha256 = the plaintext's) → state.db: verified
      → only then the row edit: the old URL replaced by the new one → state.db: recorded
    --delete-old, in a later commit: delete old files whose replacement is verified and recorded
      and that no row refers to any more → state.db: deleted

At every instant each tweet has a URL that restores its media: the old file stays until the
row points to a replacement that was read back, and is deleted only after that (a crash in
between leaves both, and the next run finishes the job). A file counts as migrated when its
recorded name is the one the target scheme gives its local name; running again migrates what
is left (`--limit N` does N tweets a run).
"""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hfcheck.config import Config
from hfcheck.crypto import Codec, Codecs, CryptoError, load_codec, load_codecs
from hfcheck.db.archive import Archive, TweetRow
from hfcheck.db.state import StateDB
from hfcheck.errors import UnsafePath, Unverifiable
from hfcheck.model.outcomes import FileKind, RunSummary, UploadSource
from hfcheck.model.paths import BackupURL, LocalName, PathKind, confine, remote_path_for
from hfcheck.net.fetch import Fetched, sha256_file
from hfcheck.net.hub import Hub
from hfcheck.net.outcome import HubOutcome
from hfcheck.readback.keycheck import require_key
from hfcheck.readback.walk import Failure, Target, Walk, local_name
from hfcheck.report.catalog import msg
from hfcheck.verify.checkers import UrlTask
from hfcheck.verify.pipeline import split_row
from hfcheck.write.commit import DeleteFailed, delete_files
from hfcheck.write.plan import FilePlan, TweetPlan
from hfcheck.write.runner import WriteOptions, write_tweets
from hfcheck.write.upload import TweetJob, remote_sizes

PLAIN_DIR = "migrate-plain"  # under data_dir: plaintext read back from old backups, deleted once encrypted
READ_DIR = "migrate-read"  # under data_dir: downloads in flight (`.part` files)


@dataclass
class MigrateOptions:
    to: str
    dry_run: bool = False
    limit: int | None = None
    delete_old: bool = False
    concurrency: int = 4
    echo: Callable[[str], None] = print
    progress_bar: bool = False


@dataclass
class MigrateResult:
    """The writer's summary, and what only a migration has."""

    run: RunSummary
    scheme: str
    already: int = 0  # recorded backups already in the target scheme
    recorded: int = 0  # replacements whose row now points to them (this run)
    deletable: int = 0  # old files whose replacement is verified and recorded, not deleted yet
    deleted: int = 0
    delete_commits: int = 0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        extra = {
            k: getattr(self, k) for k in ("scheme", "already", "recorded", "deletable", "deleted", "delete_commits")
        }
        return {**self.run.to_dict(), "migrate": {**extra, "delete_errors": self.errors}}


@dataclass(frozen=True)
class OldFile:
    """The backup a planned file replaces, and how to read it back."""

    task: UrlTask
    tweet_id: str


class _ReadBack:
    """The walk's action for migrate: the plaintext's sha256 (written under `root` when
    `keep`), or the reason it could not be read."""

    def __init__(self, root: Path, *, keep: bool) -> None:
        self.root = root
        self.keep = keep

    def before(self, target: Target) -> tuple[str | None, str] | None:
        return None

    def destination(self, target: Target) -> Path | None:
        return target.path if self.keep else None

    async def after(self, target: Target, fetched: Fetched, plain_sha256: str) -> tuple[str | None, str]:
        return plain_sha256, str(target.path)

    def failed(self, task: UrlTask, failure: Failure, detail: str, target: Target | None) -> tuple[str | None, str]:
        return None, f"{failure.value}: {detail}"


class MigratePlanner:
    """Which recorded backups of a row are not in the target scheme yet, and where they go."""

    def __init__(self, cfg: Config, codecs: Codecs, target: Codec) -> None:
        self.cfg = cfg
        self.codecs = codecs
        self.target = target
        self.already = 0
        self.old: dict[tuple[str, str], OldFile] = {}  # (repo, new path) -> the file it replaces

    def plan(self, row: TweetRow) -> TweetPlan | None:
        _, tasks, _ = split_row(row, self.cfg.endpoint, self.cfg.columns.huggingface_urls, self.cfg.revision)
        plan = TweetPlan(row.tweet_id, kinds={FileKind.MIGRATE}, row=row)
        for task in tasks:
            u = task.url
            if u.kind is not PathKind.ENCRYPTED:
                continue  # wrong paths and others are repair's
            try:
                rel = local_name(self.codecs, task, self.cfg.media_root)
                new = remote_path_for(self.target, rel)
            except (CryptoError, UnsafePath, ValueError) as exc:
                plan.errors.append(msg("err_migrate_name", url=str(u), error=exc))
                continue
            if new == u.path:
                self.already += 1
                continue
            url = str(BackupURL(u.endpoint, u.repo_id, u.revision, new))
            plan.files.append(
                FilePlan(
                    FileKind.MIGRATE,
                    rel,
                    u.repo_id,
                    new,
                    url,
                    old_url=row.hf_urls[task.index],
                    media_url=task.media_url,
                )
            )
            self.old[(u.repo_id, new)] = OldFile(task, row.tweet_id)
        return plan if plan.files or plan.errors else None


@dataclass
class MigrateWriter:
    """What a migration supplies to the writer: its planned tweets, the plaintext of each file
    (local, or read back from the old backup), and the read-back of every new file before the
    row changes (`confirm`)."""

    cfg: Config
    planner: MigratePlanner
    plans: list[TweetPlan]
    walk: Walk  # reads old backups (every configured scheme)
    check: Walk  # reads new files: only the target codec may recognise them
    state: StateDB
    scheme: str
    source: UploadSource = UploadSource.MIGRATE
    expected: dict[tuple[str, str], str] = field(default_factory=dict)  # (repo, new path) -> plaintext sha256

    async def tweets(self) -> AsyncIterator[TweetPlan]:
        for plan in self.plans:
            yield plan

    async def prepare(self, plan: TweetPlan, state: StateDB) -> None:
        assert self.cfg.media_root is not None
        plain_root = self.cfg.data_dir / PLAIN_DIR
        for fp in plan.files:
            old = self.planner.old[(fp.repo_id, fp.remote_path)]
            assert fp.local_rel is not None
            local = confine(self.cfg.media_root, fp.local_rel)
            seen = state.last_deep_check(old.task.url.repo_id, old.task.url.path)
            if local.is_file() and not (seen is not None and seen.result == "differs"):
                fp.source_file = local  # trusted; unless a read-back found it to differ from the backup
                sha = await asyncio.to_thread(sha256_file, local)
            else:
                got, detail = await self.walk.read(old.task, _ReadBack(plain_root, keep=True))
                if got is None:
                    plan.errors.append(msg("err_migrate_read", url=str(old.task.url), reason=detail))
                    continue
                fp.source_file, sha = Path(detail), got
            self.expected[(fp.repo_id, fp.remote_path)] = sha

    async def confirm(self, job: TweetJob) -> str | None:
        """Read every new file of the tweet back; record them verified when all match."""
        plan: TweetPlan = job.info["plan"]
        by_path = {fp.remote_path: fp for fp in plan.files}
        results = await asyncio.gather(*(self._read_new(job, by_path[f.remote_path]) for f in job.files))
        for fp in by_path.values():
            if fp.source_file is not None and fp.source_file.is_relative_to(self.cfg.data_dir / PLAIN_DIR):
                fp.source_file.unlink(missing_ok=True)
        bad = [r for r in results if r is not None]
        if bad:
            return "; ".join(bad)
        for f in job.files:
            old = self.planner.old[(f.repo_id, f.remote_path)]
            await asyncio.to_thread(
                self.state.record_migration_verified,
                (old.task.url.repo_id, old.task.url.path),
                (f.repo_id, f.remote_path),
                job.tweet_id,
                self.scheme,
                self.expected[(f.repo_id, f.remote_path)],
            )
        return None

    async def _read_new(self, job: TweetJob, fp: FilePlan) -> str | None:
        old = self.planner.old[(fp.repo_id, fp.remote_path)].task
        assert fp.local_rel is not None
        index = LocalName.parse(fp.local_rel.rsplit("/", 1)[1]).index
        task = UrlTask(-1, job.tweet_id, old.username, index, BackupURL.parse(fp.url), fp.media_url)
        got, detail = await self.check.read(task, _ReadBack(self.cfg.data_dir / READ_DIR, keep=False))
        if got is None:
            return str(msg("err_migrate_readback", path=fp.remote_path, reason=detail))
        if got != self.expected[(fp.repo_id, fp.remote_path)]:
            return str(
                msg("err_migrate_readback", path=fp.remote_path, reason="decrypts to other bytes than its plaintext")
            )
        return None


def target_codecs(cfg: Config, scheme: str) -> tuple[Codecs, Codecs]:
    """(the run's codecs writing `scheme` and reading every configured one, the target alone)."""
    codecs = load_codecs(cfg)
    target = codecs.by_scheme(scheme) if scheme in codecs.schemes else load_codec(cfg, scheme)
    read = codecs.read if scheme in codecs.schemes else (*codecs.read, target)
    schemes = codecs.schemes if scheme in codecs.schemes else (*codecs.schemes, scheme)
    return Codecs(write=target, read=read, schemes=schemes), Codecs(write=target, read=(target,), schemes=(scheme,))


async def record_done(archive: Archive, state: StateDB) -> int:
    """Mark recorded the verified replacements whose row points to them (and no longer to the
    old file): the row edit and state.db cannot change in one transaction, so the row is the
    truth and this reads it. Returns how many were marked."""
    done = []
    for m in state.migrations(state="unrecorded"):
        row = await archive.get(m.tweet_id)
        paths = set()
        for raw in row.hf_urls if row else []:
            try:
                u = BackupURL.parse(raw)
            except ValueError:
                continue
            paths.add((u.repo_id, u.path))
        if (m.new_repo, m.new_path) in paths and (m.repo_id, m.path) not in paths:
            done.append((m.repo_id, m.path))
    if done:
        state.mark_migrations("recorded_at", done)
    return len(done)


async def delete_old(hub: Hub, archive: Archive, state: StateDB, result: MigrateResult, *, dry_run: bool) -> None:
    """Delete the old files whose replacement is verified and recorded, that no row refers to
    (one full pass over the rows), in commits of at most one look-up's worth of paths per repo."""
    candidates = {(m.repo_id, m.path) for m in state.migrations(state="deletable")}
    if not candidates:
        return
    async for row in archive.rows(where=archive.has_backup_sql()):
        for raw in row.hf_urls:
            try:
                u = BackupURL.parse(raw)
            except ValueError:
                continue
            candidates.discard((u.repo_id, u.path))  # still someone's backup: kept
    result.deletable = len(candidates)
    if dry_run or not candidates:
        return
    by_repo: dict[str, list[str]] = defaultdict(list)
    for repo_id, path in sorted(candidates):
        by_repo[repo_id].append(path)
    for repo_id, paths in by_repo.items():
        step = hub.destination.limits.paths_per_lookup
        for start in range(0, len(paths), step):
            chunk = paths[start : start + step]
            present = await remote_sizes(hub, repo_id, chunk)
            gone = [p for p in chunk if p not in present]  # deleted by a run killed before it noted it
            if gone:
                state.mark_migrations("deleted_at", [(repo_id, p) for p in gone])
            todo = [p for p in chunk if p in present]
            if not todo:
                continue
            try:
                oid = await delete_files(
                    hub, repo_id, todo, message=f"hfcheck migrate: delete {len(todo)} replaced files"
                )
            except DeleteFailed as exc:
                result.errors.append(str(exc))
                continue
            state.mark_migrations("deleted_at", [(repo_id, p) for p in todo], commit=oid)
            result.deleted += len(todo) + len(gone)
            result.delete_commits += 1


async def answering(client: Hub, plans: list[TweetPlan], revision: str) -> tuple[list[TweetPlan], list[dict[str, Any]]]:
    """The plans whose repos answer at `revision`, and one problem per repo that does not (not
    found, no access, no such revision, or could not be asked): its tweets stay as they are."""
    files: Counter[str] = Counter(fp.repo_id for plan in plans for fp in plan.files)
    problems: dict[str, dict[str, Any]] = {}
    for repo_id in sorted(files):
        try:
            access, why = await client.access(repo_id, revision)
            category = access.value
        except Unverifiable as exc:
            access, category, why = None, "unverified", str(exc)
        if access is not HubOutcome.OK:
            problems[repo_id] = dict(
                repo_id=repo_id, revision=revision, category=category, detail=why, urls=files[repo_id]
            )
    kept = [plan for plan in plans if not any(fp.repo_id in problems for fp in plan.files)]
    return kept, list(problems.values())


async def run_migrate(cfg: Config, opts: MigrateOptions) -> MigrateResult:
    """Migrate (at most `limit` tweets of) the archive's backups into `opts.to`."""
    cfg.require("db", "media_root", "key_file", "repos")
    codecs, check = target_codecs(cfg, opts.to)
    result = MigrateResult(RunSummary(dry_run=opts.dry_run), opts.to)
    plain_root = cfg.data_dir / PLAIN_DIR
    shutil.rmtree(plain_root, ignore_errors=True)
    try:
        with StateDB.in_data_dir(cfg.data_dir) as state:
            async with (
                Archive(cfg, writable=not opts.dry_run) as archive,
                Hub(cfg, concurrency=opts.concurrency) as client,
            ):
                key_check = await require_key(cfg, codecs, archive=archive, hub=client)  # before any row edit
                if not opts.dry_run:
                    result.recorded += await record_done(archive, state)  # a run killed after its row edits
                planner = MigratePlanner(cfg, codecs, codecs.write)
                plans: list[TweetPlan] = []
                async for row in archive.rows(where=archive.has_backup_sql()):
                    plan = planner.plan(row)
                    if plan is not None:
                        plans.append(plan)
                        if opts.limit is not None and len(plans) >= opts.limit:
                            break
                plans, result.run.repo_problems = await answering(client, plans, cfg.revision)
                result.run.tweets = len(plans)
                read_dir = cfg.data_dir / READ_DIR
                writer = MigrateWriter(
                    cfg,
                    planner,
                    plans,
                    Walk(codecs, client, read_dir, media_root=cfg.media_root),
                    Walk(check, client, read_dir, media_root=cfg.media_root),
                    state,
                    opts.to,
                )
                write_opts = WriteOptions(
                    dry_run=opts.dry_run,
                    concurrency=opts.concurrency,
                    echo=opts.echo,
                    progress_bar=opts.progress_bar,
                    key=key_check,
                )
                await write_tweets(client, archive, codecs, writer, result.run, write_opts)
                result.already = planner.already
                if not opts.dry_run:
                    result.recorded += await record_done(archive, state)
                if opts.delete_old:
                    await delete_old(client, archive, state, result, dry_run=opts.dry_run)
    finally:
        shutil.rmtree(plain_root, ignore_errors=True)
        shutil.rmtree(cfg.data_dir / READ_DIR, ignore_errors=True)
    return result


__all__ = ["MigrateOptions", "MigrateResult", "delete_old", "record_done", "run_migrate", "target_codecs"]
