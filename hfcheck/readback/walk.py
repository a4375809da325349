"""The read-back walk shared by restore, deep (and so audit): one recorded URL at a time,

    name (decrypted by the first read codec whose names decrypt it; for one-way names, the
    local file of the row's tweet id and media index) → local path confined under the
    action's root → fetch the ciphertext through the Hub client (`.part`, Range-resumable)
    → the codec that recognises the file's first bytes (`Codecs.codec_for`) decrypts it
    (none: `unknown_format`, never `decrypt_failed`) → the action's outcome

with the per-file action passed in, as rclone's `check` takes its compare function: restore's
action writes the plaintext into the output folder, deep's compares its sha256 with the local
file. A reversible name is never taken from the database, so a file read back is exactly what
was encrypted for that path.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from hfcheck.crypto import HEAD_BYTES, Codec, Codecs, FileTooLarge
from hfcheck.errors import CryptoError, FetchFailed, UnsafePath, Unverifiable
from hfcheck.model.paths import (
    BackupURL,
    LocalName,
    PathKind,
    confine,
    find_by_tweet,
    local_path_for,
    local_relpath,
    media_ext_from_url,
    remote_media,
)
from hfcheck.net.fetch import Fetched, discard_part, download
from hfcheck.net.hub import Hub
from hfcheck.net.outcome import HubOutcome
from hfcheck.verify.checkers import UrlTask

O = TypeVar("O", covariant=True)


class Failure(enum.Enum):
    """Why a file could not be read back; each action words it in its own categories."""

    WRONG_PATH = "wrong_path"  # an unencrypted path is recorded
    MALFORMED = "malformed"  # not a backup path at all
    DECRYPT_FAILED = "decrypt_failed"  # the name or the bytes fail authentication
    UNKNOWN_FORMAT = "unknown_format"  # no configured codec recognises the file: never decrypt_failed
    TOO_LARGE = "too_large"  # above a one-shot codec's size limit: not read (unknown)
    MISSING = "missing"  # 404 EntryNotFound
    REPO_NOT_FOUND = "repo_not_found"
    REVISION_NOT_FOUND = "revision_not_found"
    NO_ACCESS = "no_access"
    FETCH_FAILED = "failed"  # another final answer
    UNVERIFIED = "unverified"  # retries exhausted: unknown
    WRITE_FAILED = "write_failed"  # the local disk refused the plaintext


_BY_OUTCOME = {
    HubOutcome.MISSING: Failure.MISSING,
    HubOutcome.REPO_NOT_FOUND: Failure.REPO_NOT_FOUND,
    HubOutcome.REVISION_NOT_FOUND: Failure.REVISION_NOT_FOUND,
    HubOutcome.NO_ACCESS: Failure.NO_ACCESS,
}


@dataclass(frozen=True)
class Target:
    """One file to read back: its task, its local name and where that is under the action's root."""

    task: UrlTask
    local: str  # relative: images/{user}/{tweet_id}_{i}.{ext}
    path: Path


class Action(Protocol[O]):
    """What to do with one file read back (restore: write it; deep: compare it)."""

    root: Path  # local names are confined under this folder

    def before(self, target: Target) -> O | None:
        """An outcome that needs no download (e.g. already restored), or None to read it."""

    def destination(self, target: Target) -> Path | None:
        """Where the plaintext is written, or None to only hash it in memory."""

    async def after(self, target: Target, fetched: Fetched, plain_sha256: str) -> O:
        """The outcome of a file that decrypted (and, with a destination, is in place)."""

    def failed(self, task: UrlTask, failure: Failure, detail: str, target: Target | None) -> O:
        """The outcome of a file that could not be read back."""


def decrypted_sha256(codec: Codec, ciphertext: Path, remote_path: str) -> str:
    """SHA-256 of the plaintext; nothing is written (the codec decrypts into /dev/null, chunk
    by chunk where it streams). CryptoError if any part fails authentication or is truncated."""
    with open(os.devnull, "wb") as sink:
        return codec.decrypt_to(ciphertext, sink, remote_path)


def read_head(path: Path) -> bytes:
    """The first HEAD_BYTES of a file: what a codec recognises its format by."""
    with open(path, "rb") as f:
        return f.read(HEAD_BYTES)


def one_way_local(task: UrlTask, media_root: Path | None) -> str:
    """The local name of a one-way remote name: the media root's file of (tweet id, media index)
    in the remote folder's media type, else the name the row's media URL gives. UnsafePath if
    neither is known."""
    u = task.url
    media = remote_media(u.path)
    found = find_by_tweet(media_root, task.username, task.tweet_id, task.index, media)
    if found is not None:
        return found
    if task.media_url and task.username:
        name = LocalName(task.tweet_id, task.index, media_ext_from_url(task.media_url))
        if name.media is media:
            return local_relpath(task.username, name)
    raise UnsafePath(f"one-way name: no local file {task.username}/{task.tweet_id}_{task.index}.* and no media URL")


def local_name(codecs: Codecs, task: UrlTask, media_root: Path | None) -> str:
    """The local file a remote name stands for: decrypted by the read codecs or, when one of
    them has one-way names, found by tweet id and media index. CryptoError or UnsafePath if
    neither works."""
    try:
        return local_path_for(codecs, task.url.path)
    except CryptoError:
        if all(c.names_reversible for c in codecs.read):
            raise
        return one_way_local(task, media_root)


def part_path(parts: Path, url: BackupURL) -> Path:
    """Where the ciphertext of `url` is downloaded to: stable, so a rerun continues it."""
    digest = hashlib.sha256(f"{url.repo_id}@{url.revision}/{url.path}".encode()).hexdigest()[:40]
    return parts / f"{digest}.part"


class Walk:
    """Reads recorded URLs back through one Hub client; one instance per run."""

    def __init__(self, codecs: Codecs, client: Hub, parts: Path, *, media_root: Path | None = None) -> None:
        self.codecs = codecs
        self.media_root = media_root  # where one-way names find their local file
        self.client = client
        self.parts = parts
        self.bytes_read = 0
        self.resumed = 0

    async def read(self, task: UrlTask, action: Action[O]) -> O:
        """The action's outcome for one URL; never raises for the Hub's answers or bad bytes."""
        u = task.url
        if u.kind is not PathKind.ENCRYPTED:
            failure = Failure.WRONG_PATH if u.kind is PathKind.WRONG else Failure.MALFORMED
            return action.failed(task, failure, "not an encrypted backup path; run repair", None)
        try:
            local = self.local_name(task)
            target = Target(task, local, confine(action.root, local))
        except (CryptoError, UnsafePath) as exc:
            return action.failed(task, Failure.DECRYPT_FAILED, f"file name: {exc}", None)
        early = action.before(target)
        if early is not None:
            return early
        return await self._fetch_and_decrypt(target, action)

    def local_name(self, task: UrlTask) -> str:
        return local_name(self.codecs, task, self.media_root)

    async def _fetch_and_decrypt(self, target: Target, action: Action[O]) -> O:
        """Download, decrypt; a resumed `.part` that fails to decrypt gets one fresh download."""
        u, task = target.task.url, target.task
        part = part_path(self.parts, u)
        dest = action.destination(target)
        for attempt in (1, 2):
            try:
                fetched = await download(self.client, u, part)
            except FetchFailed as exc:
                return action.failed(task, _BY_OUTCOME.get(exc.outcome, Failure.FETCH_FAILED), exc.detail, target)
            except Unverifiable as exc:
                return action.failed(task, Failure.UNVERIFIED, str(exc), target)
            self.bytes_read += fetched.size
            try:
                codec = self.codecs.codec_for(await asyncio.to_thread(read_head, part))
                if codec is None:
                    discard_part(part)
                    if fetched.resumed_from and attempt == 1:
                        continue
                    schemes = ", ".join(self.codecs.schemes)
                    return action.failed(
                        task, Failure.UNKNOWN_FORMAT, f"no configured scheme ({schemes}) recognises this file", target
                    )
                if dest is None:
                    plain = await asyncio.to_thread(decrypted_sha256, codec, part, u.path)
                else:
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    plain = await asyncio.to_thread(codec.decrypt_file, part, dest, u.path)
            except FileTooLarge as exc:
                discard_part(part)
                return action.failed(task, Failure.TOO_LARGE, str(exc).replace(f"{part}: ", ""), target)
            except CryptoError as exc:
                discard_part(part)
                if fetched.resumed_from and attempt == 1:
                    continue  # the kept prefix may be what is wrong: download all of it again
                return action.failed(task, Failure.DECRYPT_FAILED, str(exc).replace(f"{part}: ", ""), target)
            except OSError as exc:
                return action.failed(task, Failure.WRITE_FAILED, exc.strerror or type(exc).__name__, target)
            discard_part(part)
            if fetched.resumed_from:
                self.resumed += 1
            return await action.after(target, fetched, plain)
        raise AssertionError("unreachable")


__all__ = [
    "Action",
    "Failure",
    "Target",
    "Walk",
    "decrypted_sha256",
    "local_name",
    "one_way_local",
    "part_path",
    "read_head",
]
