"""Lost files and lost media lists: every copy that still exists, and X (twscrape).

A repair's one step that the backup has not: a tweet whose backup URLs are recorded but whose
media list is empty gets its list back from X, and its media are planned like a backup's.
X's answer is kept in state.db: a tweet X said is deleted or does not exist is not asked about
again (twscrape accounts are scarce). A file whose local copy is gone is looked for elsewhere
first (`CopyFinder`: other folders, the repo's history, the media URL).
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from hfcheck.atomic import write_stream_atomic
from hfcheck.config import Config
from hfcheck.crypto import HEAD_BYTES, Codecs, CryptoError, NameCodec
from hfcheck.db.archive import TweetRow
from hfcheck.db.state import FINAL_ON_X, StateDB
from hfcheck.errors import UnsafePath, Unverifiable
from hfcheck.model.outcomes import FileKind
from hfcheck.model.paths import (
    BackupURL,
    LocalName,
    confine,
    find_by_tweet,
    is_bucket,
    local_path_for,
    local_relpath,
    media_ext_from_url,
    parse_local_relpath,
    remote_path_for,
)
from hfcheck.net.hub import Hub
from hfcheck.report.catalog import Msg, msg
from hfcheck.write.history import SHORT_SHA, RepoHistory
from hfcheck.write.placement import RepoPlacement
from hfcheck.write.plan import FilePlan, TweetPlan

if TYPE_CHECKING:
    from hfcheck.net.twitter import TweetSource

HISTORY_DIR = "history-copies"  # under data_dir: backups downloaded from earlier commits, until committed
HISTORY_VERSIONS = 3  # older versions tried when the newest one in the history does not authenticate


async def tweet_source(cfg: Config) -> TweetSource | None:
    """twscrape, set up for this run.

    Imported here, not at the top: twscrape costs 0.4 s and 46 MiB to load, and only a repair
    of lost media lists needs it."""
    from hfcheck.net.twitter import TweetSource, add_cookie_account

    if cfg.twscrape_accounts_db is None:
        return None
    source = TweetSource(cfg.twscrape_accounts_db)
    if source.transport is not None and not await source.active_accounts():
        # X stood in for by canned answers (the demo, tests): an account to sign the requests with
        await add_cookie_account(cfg.twscrape_accounts_db, "stand-in", "auth_token=stand-in; ct0=stand-in")
    return source


def empty_media_files(
    cfg: Config, key: NameCodec, placement: RepoPlacement, row: TweetRow, media_urls: list[str]
) -> list[FilePlan]:
    """Files for a tweet whose media list was recovered from X (index = position in the list).

    A file already backed up stays where it is: its recorded URL when the name decrypts to
    it (a scraper's Fernet names are random: computing the name would not find them), else the
    computed path when it is in a repo; a new one goes where there is room."""
    recorded = _recorded_names(key, row)
    files = []
    for i, media_url in enumerate(media_urls):
        rel = local_relpath(row.username or "", LocalName(row.tweet_id, i, media_ext_from_url(media_url)))
        if rel in recorded:
            raw, u = recorded[rel]
            files.append(
                FilePlan(FileKind.EMPTY_MEDIA, rel, u.repo_id, u.path, raw, media_url=media_url, exists_remote=True)
            )
            continue
        remote = remote_path_for(key, rel)
        existing = placement.find_existing(remote)
        repo_id = existing or placement.place(remote)
        url = str(BackupURL(cfg.endpoint, repo_id, cfg.revision, remote))
        files.append(
            FilePlan(
                FileKind.EMPTY_MEDIA, rel, repo_id, remote, url, media_url=media_url, exists_remote=existing is not None
            )
        )
    return files


def _recorded_names(key: NameCodec, row: TweetRow) -> dict[str, tuple[str, BackupURL]]:
    """{local rel: (recorded URL as written, parsed)} of the row's backups whose names decrypt."""
    out: dict[str, tuple[str, BackupURL]] = {}
    for raw in row.hf_urls:
        try:
            u = BackupURL.parse(raw)
            out.setdefault(local_path_for(key, u.path), (raw, u))
        except (ValueError, CryptoError):
            continue
    return out


async def recover_media(
    cfg: Config,
    key: NameCodec,
    placement: RepoPlacement,
    plan: TweetPlan,
    source: TweetSource | None,
    state: StateDB,
) -> None:
    """Ask X for the media of the plan's tweet (its row read) and add their files to the plan;
    deleted/protected tweets become the plan's error with X's reason (and since when it is known,
    when it was asked before)."""
    row = plan.row
    assert row is not None  # the caller read it: a tweet not in the database has no media to recover
    known = state.x_lookup(plan.tweet_id)
    if known is not None and known.status in FINAL_ON_X:
        since = time.strftime("%Y-%m-%d", time.gmtime(known.checked_at))
        plan.errors.append(msg("err_x_known", status=msg(f"x_{known.status}"), since=since, reason=known.reason))
        return
    if source is None:
        plan.errors.append(msg("err_no_twscrape"))
        return
    if row.username is None:
        plan.errors.append(msg("err_unsafe_username"))
        return
    lookup = await source.lookup(plan.tweet_id)
    if lookup.status != "error":
        state.record_x_lookup(plan.tweet_id, lookup.status, lookup.reason)
    if lookup.status != "ok":
        plan.errors.append(msg("err_x_status", status=msg(f"x_{lookup.status}"), reason=lookup.reason))
        return
    urls = [m.url for m in lookup.media if m.url]
    if not urls:
        plan.errors.append(msg("err_x_no_media", reason=lookup.reason))
        return
    plan.media_urls = urls
    plan.files += empty_media_files(cfg, key, placement, row, urls)


# -- lost files: every copy that still exists ----------------------------------------------------


class CopyFinder:
    """Finds a planned file whose local copy is gone, in the README's order, stopping at the
    first copy that checks out:

        the media root → `archive.search_roots` (same relative path, else tweet id and media
        index in the same media type) → the repo's history (MISSING/UNREADABLE backups: the
        newest earlier commit with another version, downloaded and decrypted before use) →
        the media URL (downloaded by the writer, `runner.ensure_local`) → X (lost media lists)

    A copy found is put back into the media root (a search root's by copying, history's by
    decrypting) and the file plan says where it came from (`origin`). With `fetch=False`
    (a dry run) it only looks: nothing is downloaded, copied or written."""

    def __init__(self, cfg: Config, codecs: Codecs, *, fetch: bool, hub: Hub) -> None:
        assert cfg.media_root is not None
        self.cfg = cfg
        self.hub = hub  # the run's: the history search goes through it
        self.root: Path = cfg.media_root
        self.codecs = codecs
        self.fetch = fetch
        self.histories: dict[str, RepoHistory] = {}
        self.downloads = cfg.data_dir / HISTORY_DIR  # history copies, deleted at the end of the run

    def history(self, repo_id: str) -> RepoHistory:
        if repo_id not in self.histories:
            self.histories[repo_id] = RepoHistory(self.hub, repo_id)
        return self.histories[repo_id]

    async def locate(self, plan: TweetPlan, state: StateDB | None) -> None:
        """Give every file of the plan that needs a local copy and has none its source."""
        for fp in plan.files:
            if not fp.needs_local or fp.local_rel is None:
                continue
            try:
                if confine(self.root, fp.local_rel).is_file():
                    continue
                found = self._in_search_roots(fp.local_rel)
            except UnsafePath as exc:
                plan.errors.append(msg("err_bad_local", local=fp.local_rel, error=exc))
                continue
            if found is not None:
                copy, root = found
                if self.fetch:
                    await asyncio.to_thread(_copy_into, copy, confine(self.root, fp.local_rel))
                fp.origin = msg("from_search_root", root=str(root))
                continue
            if fp.kind in (FileKind.MISSING, FileKind.UNREADABLE):
                fp.unusable += await self._from_history(fp, state)
                if fp.origin is not None:
                    continue
                if fp.unusable and not fp.media_url:
                    plan.errors += fp.unusable  # why the history did not give it back is the last word
                    continue
            if fp.media_url:
                fp.origin = msg("from_media_url")

    def _in_search_roots(self, rel: str) -> tuple[Path, Path] | None:
        """(copy, its search root): the same relative path, else the file of the same tweet
        id and media index in the same media type (any extension of that type)."""
        media, username, name = parse_local_relpath(rel)
        for root in self.cfg.search_roots:
            same = confine(root, rel)
            if _usable(same):
                return same, root
            other = find_by_tweet(root, username, name.tweet_id, name.index, media)
            if other is not None and _usable(confine(root, other)):
                return confine(root, other), root
        return None

    async def _from_history(self, fp: FilePlan, state: StateDB | None) -> list[Msg]:
        """Look for an earlier version of the backup; in a real run download it, decrypt it
        into the media root and keep the ciphertext to commit again as it is. A version that
        does not authenticate is passed over for the next older one (up to `HISTORY_VERSIONS`).
        Returns why the history gave nothing usable (empty: found, or never there). A Storage
        Bucket keeps no history: nothing to look in."""
        if is_bucket(fp.repo_id):
            return []
        hist = self.history(fp.repo_id)
        path = fp.remote_path
        problems: list[Msg] = []
        try:
            commits = await hist.commits()
            head = None if fp.kind is FileKind.MISSING else await hist.state(commits[0], path)
            upload = state.get_upload(fp.repo_id, path) if state is not None else None
            below: str | None = None
            for _ in range(HISTORY_VERSIONS):
                commit = await hist.find(path, head, upload.commit_oid if upload else None, below=below)
                if commit is None:
                    break
                short = commit[:SHORT_SHA]
                if not self.fetch:
                    fp.origin = msg("from_history", commit=short)
                    break
                ciphertext = await hist.fetch(commit, path, self.downloads)
                assert fp.local_rel is not None
                try:
                    await asyncio.to_thread(self._authenticate, ciphertext, path, confine(self.root, fp.local_rel))
                except (CryptoError, OSError) as exc:
                    problems.append(msg("err_history_copy", commit=short, path=path, error=exc))
                    head, below = await hist.state(commit, path), commit
                    continue
                fp.sealed = ciphertext
                fp.origin = msg("from_history", commit=short)
                break
        except Unverifiable as exc:
            problems.append(msg("err_history_unavailable", repo=fp.repo_id, error=exc))
        return problems

    def _authenticate(self, ciphertext: Path, remote_path: str, dest: Path) -> None:
        """Decrypt the history copy into the media root; CryptoError unless every byte
        authenticates (no file appears then)."""
        with open(ciphertext, "rb") as f:
            codec = self.codecs.codec_for(f.read(HEAD_BYTES))
        if codec is None:
            raise CryptoError(msg("err_no_scheme_recognises", schemes=", ".join(self.codecs.schemes)))
        dest.parent.mkdir(parents=True, exist_ok=True)
        codec.decrypt_file(ciphertext, dest, remote_path)

    def cleanup(self) -> None:
        shutil.rmtree(self.downloads, ignore_errors=True)


def _usable(path: Path) -> bool:
    """A copy checks out when it is a readable, non-empty regular file."""
    try:
        with open(path, "rb") as f:
            return path.is_file() and bool(f.read(1))
    except OSError:
        return False


def _copy_into(src: Path, dest: Path) -> None:
    """Copy a search root's file into the media root atomically (temp file, fsync, rename)."""
    with open(src, "rb") as f:
        write_stream_atomic(dest, lambda out: shutil.copyfileobj(f, out))
