"""The read-back walk shared by restore, deep (and so audit): one recorded URL at a time,

    name (the decrypted remote name, authenticated by AES-SIV) → local path confined under the
    action's root → fetch the ciphertext through the Hub client (`.part`, Range-resumable)
    → decrypt (every chunk authenticated) → the action's outcome

with the per-file action passed in, as rclone's `check` takes its compare function: restore's
action writes the plaintext into the output folder, deep's compares its sha256 with the local
file. The local name is never taken from the database, so a file read back is exactly what
was encrypted for that path.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from hfcheck.crypto import HEADER_SIZE, ArchiveKey, Decryptor, decrypt_file
from hfcheck.errors import CryptoError, FetchFailed, UnsafePath, Unverifiable
from hfcheck.model.paths import BackupURL, PathKind, confine, local_path_for
from hfcheck.net.fetch import READ_CHUNK, Fetched, discard_part, download
from hfcheck.net.hub import HubClient
from hfcheck.net.outcome import HubOutcome
from hfcheck.verify.checkers import UrlTask

O = TypeVar("O", covariant=True)


class Failure(enum.Enum):
    """Why a file could not be read back; each action words it in its own categories."""

    WRONG_PATH = "wrong_path"  # an unencrypted path is recorded
    MALFORMED = "malformed"  # not a backup path at all
    DECRYPT_FAILED = "decrypt_failed"  # the name or the bytes fail authentication
    MISSING = "missing"  # 404 EntryNotFound
    REPO_NOT_FOUND = "repo_not_found"
    NO_ACCESS = "no_access"
    FETCH_FAILED = "failed"  # another final answer
    UNVERIFIED = "unverified"  # retries exhausted: unknown
    WRITE_FAILED = "write_failed"  # the local disk refused the plaintext


_BY_OUTCOME = {
    HubOutcome.MISSING: Failure.MISSING,
    HubOutcome.REPO_NOT_FOUND: Failure.REPO_NOT_FOUND,
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


def decrypted_sha256(key: ArchiveKey, ciphertext: Path, remote_path: str) -> str:
    """SHA-256 of the plaintext, decrypting in memory chunk by chunk (nothing is written).
    CryptoError if any chunk fails authentication or the stream is truncated."""
    dec = Decryptor(key, remote_path)
    h = hashlib.sha256()
    with open(ciphertext, "rb", buffering=0) as f:
        dec.start(f.read(HEADER_SIZE))
        while block := f.read(READ_CHUNK):
            h.update(dec.update(block))
    h.update(dec.finalize())
    return h.hexdigest()


def part_path(parts: Path, url: BackupURL) -> Path:
    """Where the ciphertext of `url` is downloaded to: stable, so a rerun continues it."""
    digest = hashlib.sha256(f"{url.repo_id}@{url.revision}/{url.path}".encode()).hexdigest()[:40]
    return parts / f"{digest}.part"


class Walk:
    """Reads recorded URLs back through one Hub client; one instance per run."""

    def __init__(self, key: ArchiveKey, client: HubClient, parts: Path) -> None:
        self.key = key
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
            local = local_path_for(self.key, u.path)
            target = Target(task, local, confine(action.root, local))
        except (CryptoError, UnsafePath) as exc:
            return action.failed(task, Failure.DECRYPT_FAILED, f"file name: {exc}", None)
        early = action.before(target)
        if early is not None:
            return early
        return await self._fetch_and_decrypt(target, action)

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
                if dest is None:
                    plain = await asyncio.to_thread(decrypted_sha256, self.key, part, u.path)
                else:
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    plain = await asyncio.to_thread(decrypt_file, self.key, part, dest, u.path)
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


__all__ = ["Action", "Failure", "Target", "Walk", "decrypted_sha256", "part_path"]
