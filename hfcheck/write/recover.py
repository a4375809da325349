"""Lost media lists: ask X (twscrape) for a tweet's media and plan their backup.

A repair's one step that the backup has not: a tweet whose backup URLs are recorded but whose
media list is empty gets its list back from X, and its media are planned like a backup's.
X's answer is kept in state.db: a tweet X said is deleted or does not exist is not asked about
again (twscrape accounts are scarce).
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from hfcheck.config import Config
from hfcheck.crypto import CryptoError, NameCodec
from hfcheck.db.archive import TweetRow
from hfcheck.db.state import FINAL_ON_X, StateDB
from hfcheck.errors import InputError
from hfcheck.model.outcomes import FileKind
from hfcheck.model.paths import BackupURL, LocalName, local_path_for, local_relpath, media_ext_from_url, remote_path_for
from hfcheck.report.catalog import msg
from hfcheck.write.placement import RepoPlacement
from hfcheck.write.plan import FilePlan, TweetPlan

if TYPE_CHECKING:
    from hfcheck.net.twitter import TweetSource


async def tweet_source(cfg: Config) -> TweetSource | None:
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
    row: TweetRow,
    source: TweetSource | None,
    state: StateDB,
) -> None:
    """Ask X for the tweet's media and add their files to the plan; deleted/protected tweets
    become the plan's error with X's reason (and since when it is known, when it was asked before)."""
    known = state.x_lookup(plan.tweet_id)
    if known is not None and known.status in FINAL_ON_X:
        since = time.strftime("%Y-%m-%d", time.gmtime(known.checked_at))
        plan.errors.append(msg("err_x_known", status=known.status, since=since, reason=known.reason))
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
        plan.errors.append(msg("err_x_status", status=lookup.status, reason=lookup.reason))
        return
    urls = [m.url for m in lookup.media if m.url]
    if not urls:
        plan.errors.append(msg("err_x_no_media", reason=lookup.reason))
        return
    plan.media_urls = urls
    plan.files += empty_media_files(cfg, key, placement, row, urls)
