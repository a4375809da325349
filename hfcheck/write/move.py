"""migrate --to hf://buckets/NS/NAME: move a dataset repo's backups into a Storage Bucket.

    rows with backups, a page at a time → each recorded dataset-repo URL:
      its Xet hash and size, from one tree listing of its repo
      → already in the bucket with that hash (a resumed run)? nothing is sent
      → else a server-side copy by Xet hash (no bytes move); a file without one (kept in git,
        or sent over LFS) is downloaded and uploaded (the bucket's write)
      → confirmed by the bucket's look-up (same size and Xet hash) → state.db: the upload and
        the migration (verified)
      → only then the row edit: the URL replaced by the bucket's → state.db: recorded
    --delete-old: as the re-encrypting migrate, the old files recorded and referenced by no row
      are deleted from the repo (in commits; the repo keeps them in its history)

The ciphertext moves unchanged (same name, same bytes: the key is not needed). At every instant
each URL restores: the old file stays until the row points to a confirmed copy, and the repo is
untouched without `--delete-old`. Running again (after a crash or `kill -9`) moves what is left.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hfcheck.config import Config
from hfcheck.db.archive import Archive, RowChange, TweetRow
from hfcheck.db.state import StateDB
from hfcheck.errors import FetchFailed, HubAnswered, Refused, Unverifiable
from hfcheck.model.outcomes import RunSummary, UploadSource
from hfcheck.model.paths import BackupURL, is_bucket
from hfcheck.net.bucket import BUCKET_VERSION, StorageBucket
from hfcheck.net.destination import OnLanded, Upload
from hfcheck.net.fetch import download, sha256_file
from hfcheck.net.hub import Hub, TreeEntry
from hfcheck.report.catalog import t
from hfcheck.write.migrate import MigrateOptions, MigrateResult, delete_old, record_done

PAGE = 200  # rows moved together: one copy batch, one look-up, one row transaction


@dataclass(frozen=True)
class _Moved:
    """A file confirmed in the bucket (what `StateDB.record_uploads` needs)."""

    repo_id: str
    path_in_repo: str
    sha256: str
    size: int
    source: UploadSource = UploadSource.MIGRATE


async def run_move(cfg: Config, opts: MigrateOptions, target: str) -> MigrateResult:
    """Move every dataset-repo backup into the bucket `target` (`hf://buckets/NS/NAME`)."""
    from huggingface_hub.utils import disable_progress_bars

    assert is_bucket(target)
    disable_progress_bars()  # the client's bar per file; the summary says what moved
    result = MigrateResult(RunSummary(dry_run=opts.dry_run), scheme=target)
    with StateDB.in_data_dir(cfg.data_dir) as state:
        async with Archive(cfg, writable=not opts.dry_run) as archive, Hub(cfg, concurrency=opts.concurrency) as hub:
            if not opts.dry_run:
                result.recorded += await record_done(archive, state)  # a run killed after its row edits
            mover = _Mover(hub, archive, state, target, result, opts)
            page: list[tuple[TweetRow, list[BackupURL]]] = []
            async for row in archive.rows(where=archive.has_backup_sql()):
                urls = _parsed(row)
                result.already += sum(1 for u in urls if u.repo_id == target)
                old = [u for u in urls if not is_bucket(u.repo_id) and u.endpoint == hub.endpoint]
                if not old:
                    continue
                page.append((row, old))
                result.run.tweets += 1
                if len(page) >= PAGE or (opts.limit is not None and result.run.tweets >= opts.limit):
                    await mover.move(page)
                    page = []
                if opts.limit is not None and result.run.tweets >= opts.limit:
                    break
            if page:
                await mover.move(page)
            if not opts.dry_run:
                result.recorded += await record_done(archive, state)
            if opts.delete_old:
                await delete_old(hub, archive, state, result, dry_run=opts.dry_run)
    return result


def _parsed(row: TweetRow) -> list[BackupURL]:
    out = []
    for raw in row.hf_urls:
        try:
            out.append(BackupURL.parse(raw))
        except ValueError:
            continue  # verify reports it; nothing here to move
    return out


class _Mover:
    def __init__(
        self, hub: Hub, archive: Archive, state: StateDB, target: str, result: MigrateResult, opts: MigrateOptions
    ) -> None:
        self.hub, self.archive, self.state, self.target = hub, archive, state, target
        self.result, self.opts = result, opts
        self.bucket: StorageBucket = hub.destination.bucket
        self._listed: dict[tuple[str, str], dict[str, TreeEntry]] = {}
        self._tweet: dict[str, str] = {}  # bucket path -> the tweet it was found in

    async def _listing(self, repo_id: str, revision: str) -> dict[str, TreeEntry]:
        """The source repo's files, listed once a run (their Xet hash, LFS sha256 and size)."""
        key = (repo_id, revision)
        if key not in self._listed:
            self._listed[key] = {e.path: e async for e in self.hub.tree(repo_id, revision) if e.type == "file"}
        return self._listed[key]

    async def move(self, page: list[tuple[TweetRow, list[BackupURL]]]) -> None:
        """Copy (or upload) the page's files, confirm them, then edit the rows."""
        echo, run = self.opts.echo, self.result.run
        sources: dict[str, tuple[BackupURL, TreeEntry]] = {}  # bucket path -> (old URL, its entry)
        failed: set[str] = set()
        for row, urls in page:
            for u in urls:
                try:
                    entry = (await self._listing(u.repo_id, u.revision)).get(u.path)
                except (Refused, Unverifiable) as exc:
                    self.result.errors.append(f"{u.repo_id}@{u.revision}: {exc}")
                    failed.add(u.path)
                    continue
                if entry is None:  # not in its repo: verify's and repair's, not a move's
                    failed.add(u.path)
                    self.result.errors.append(t("move_not_in_repo", self.hub.cfg.lang, url=u))
                elif u.path not in sources:
                    sources[u.path] = (u, entry)
                    self._tweet[u.path] = row.tweet_id
        if self.opts.dry_run:
            for path, (old, _) in sources.items():
                new = BackupURL(self.hub.endpoint, self.target, "", path)
                echo(t("move_plan_line", self.hub.cfg.lang, old=old, new=new))
            return
        confirmed = await self._copy(sources)
        failed |= set(sources) - confirmed
        edits = [(row.key, self._edit(confirmed)) for row, urls in page]
        await self.archive.update_rows(edits)
        for _, urls in page:
            if any(u.path in failed for u in urls):
                run.tweets_error += 1
                run.files_failed += sum(1 for u in urls if u.path in failed)
            else:
                run.tweets_completed += 1
                run.files_succeeded += len(urls)

    async def _copy(self, sources: dict[str, tuple[BackupURL, TreeEntry]]) -> set[str]:
        """The paths confirmed in the bucket: already there, copied, or uploaded; each recorded
        (upload, migration verified) before its row changes."""
        confirmed: set[str] = set()

        async def landed(paths: list[str], version: str | None) -> None:
            moved = [p for p in paths if p not in confirmed]
            confirmed.update(moved)
            self._record(moved, sources)

        have = await self.bucket.lookup(self.target, list(sources))
        there = [
            p for p, (_, e) in sources.items() if (r := have.get(p)) and (r.size, r.xet_hash) == (e.size, e.xet_hash)
        ]
        await landed(there, BUCKET_VERSION)
        copies = [
            ("dataset", u.repo_id, e.xet_hash, p, int(e.size or 0))
            for p, (u, e) in sources.items()
            if p not in confirmed and e.xet_hash
        ]
        uploads = [p for p, (_, e) in sources.items() if p not in confirmed and not e.xet_hash]
        try:
            if copies:
                await self.bucket.copy(self.target, copies, on_landed=landed)
                await landed([c[3] for c in copies], BUCKET_VERSION)
            if uploads:
                await self._upload(uploads, sources, landed)
        except (HubAnswered, Unverifiable) as exc:
            self.result.errors.append(f"{self.target}: {exc}")
        return confirmed

    async def _upload(
        self,
        paths: list[str],
        sources: dict[str, tuple[BackupURL, TreeEntry]],
        landed: OnLanded,
    ) -> None:
        """Files with no Xet hash: downloaded from the repo, uploaded to the bucket."""
        with tempfile.TemporaryDirectory(prefix="hfcheck-move-", dir=self.hub.cfg.data_dir) as tmp:
            files: list[Upload] = []
            for i, path in enumerate(paths):
                part = Path(tmp) / f"{i}.part"
                try:
                    await download(self.hub, sources[path][0], part)
                except (FetchFailed, Unverifiable) as exc:
                    self.result.errors.append(f"{sources[path][0]}: {exc}")
                    continue
                files.append(Upload(path, part, sha256_file(part), part.stat().st_size))
            if files:
                await self.bucket.write(self.target, files, message="", on_landed=landed)
                await landed([f.path for f in files], BUCKET_VERSION)

    def _record(self, paths: list[str], sources: dict[str, tuple[BackupURL, TreeEntry]]) -> None:
        if not paths:
            return
        items = []
        for p in paths:
            url, entry = sources[p]
            sha = entry.lfs.oid if entry.lfs else ""
            items.append(_Moved(self.target, p, sha, int(entry.size or 0)))
        self.state.record_uploads(items, BUCKET_VERSION)
        for p in paths:  # the "plaintext" sha256 of a move is the ciphertext's: the bytes do not change
            url, entry = sources[p]
            self.state.record_migration_verified(
                (url.repo_id, p), (self.target, p), self._tweet[p], self.target, entry.lfs.oid if entry.lfs else ""
            )

    def _edit(self, confirmed: set[str]) -> Callable[[TweetRow], RowChange | None]:
        """The row as it is now, each old URL whose copy is confirmed replaced by the bucket's."""
        endpoint, target = self.hub.endpoint, self.target

        def edit(row: TweetRow) -> RowChange | None:
            new, changed = [], False
            for raw in row.hf_urls:
                try:
                    u = BackupURL.parse(raw)
                except ValueError:
                    new.append(raw)
                    continue
                if not is_bucket(u.repo_id) and u.path in confirmed:
                    new.append(str(BackupURL(endpoint, target, "", u.path)))
                    changed = True
                else:
                    new.append(raw)
            return RowChange(hf_urls=new) if changed else None

        return edit


__all__ = ["run_move"]
