"""Deep verification: read backups back, decrypt them, compare with the local files.

`verify` proves a file *exists* in the repo; only reading it back proves it *decrypts* to the
local bytes. That costs a download per file, so it runs on a sample (`sample.Sample`). The
reading is the read-back walk (`walk.Walk`) with `DeepAction`, which hashes the plaintext in
memory and compares it with the local file; `recorded.compare_recorded` adds, at no download
cost, the recorded uploads against the listing. Categories: `deep_result`.

Each read-back file's outcome is appended to state.db's `deep_checks` (when it was last
deep-verified). Nothing else is written anywhere: downloads go to a temporary folder.

What is remembered is never poisoned by a wrong key: the key is checked first
(`keycheck.require_key`: a wrong key is refused once, not reported as N unreadable files), and a
file is recorded unreadable only when the key is proven to open the archive, or once another
file of the same run decrypted; a later read-back that decrypts clears it.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from hfcheck.config import Config
from hfcheck.crypto import load_codecs
from hfcheck.db.archive import Archive
from hfcheck.db.state import DECRYPTED_RESULTS, StateDB
from hfcheck.model.paths import PathKind
from hfcheck.net.fetch import Fetched, sha256_file
from hfcheck.net.hub import Hub
from hfcheck.pool import Put, run_pool
from hfcheck.readback.deep_result import DeepFinding, DeepResult
from hfcheck.readback.keycheck import KeyCheck, require_key
from hfcheck.readback.recorded import accept_read_back, compare_recorded
from hfcheck.readback.sample import Sample
from hfcheck.readback.walk import Failure, Target, Walk
from hfcheck.verify.checkers import UrlTask
from hfcheck.verify.checkpoint import Progress
from hfcheck.verify.findings import Category
from hfcheck.verify.pipeline import split_row

UNREADABLE = frozenset({"decrypt_failed", "unknown_format"})  # what a wrong key would also give

# How the walk's failures read in deep's categories: only a 404 is a finding; an answer that
# says nothing about the file's bytes (no access, retries spent) leaves it unverified.
_CATEGORY = {
    Failure.DECRYPT_FAILED: "decrypt_failed",
    Failure.UNKNOWN_FORMAT: "unknown_format",
    Failure.MISSING: "missing",
}


class DeepAction:
    """The walk's action for deep: compare the plaintext's sha256 with the local file's."""

    def __init__(self, media_root: Path, state: StateDB | None, *, key_opens: bool = True) -> None:
        self.root = media_root
        self.state = state
        self.key_opens = key_opens  # False: hold "unreadable" until a file of this run decrypts
        self._held: list[tuple[str, str, str, float]] = []

    def before(self, target: Target) -> DeepFinding | None:
        return None

    def destination(self, target: Target) -> Path | None:
        return None  # hashed in memory: nothing is written

    async def after(self, target: Target, fetched: Fetched, plain_sha256: str) -> DeepFinding:
        f = self._finding(target.task, target)
        if not target.path.is_file():
            return self._done(f, "local_missing", "the backup decrypts, but there is no local file to compare with")
        if await asyncio.to_thread(sha256_file, target.path) != plain_sha256:
            return self._done(f, "differs", "the decrypted backup differs from the local file")
        return self._done(f, "deep_ok", "")

    def failed(self, task: UrlTask, failure: Failure, detail: str, target: Target | None) -> DeepFinding:
        return self._done(self._finding(task, target), _CATEGORY.get(failure, "unverified"), detail)

    @staticmethod
    def _finding(task: UrlTask, target: Target | None) -> DeepFinding:
        u = task.url
        return DeepFinding(
            "deep_ok", u.repo_id, u.path, task.tweet_id, task.username, str(u), target.local if target else None
        )

    def _done(self, f: DeepFinding, category: str, detail: str) -> DeepFinding:
        f.category, f.detail = category, detail
        if self.state is None or category == "unverified":
            return f
        if category in DECRYPTED_RESULTS and not self.key_opens:
            self.key_opens = True  # this run's key opens a file of the archive: what it held is true
            for repo_id, path, held, at in self._held:
                self.state.record_deep_check(repo_id, path, held, checked_at=at)
            self._held.clear()
        if category in UNREADABLE and not self.key_opens:
            self._held.append((f.repo_id, f.path, category, time.time()))
        else:
            self.state.record_deep_check(f.repo_id, f.path, category)
        return f


def _verified_missing(progress: Progress | None) -> set[tuple[str, str]] | None:
    """(repo, path) a complete verify found missing; None without one (nothing is forgotten)."""
    if progress is None or not progress.complete:
        return None
    return {(f.repo_id, f.path) for f in progress.problems if f.category is Category.MISSING and f.repo_id and f.path}


def _digest64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def _excluded_urls(progress: Progress | None) -> set[str]:
    """URLs verify found not present: a deep check reads back present files only."""
    if progress is None:
        return set()
    return {f.url for f in progress.problems if f.category is not Category.PRESENT}


async def deep_check(
    cfg: Config,
    sample: Sample,
    hub: Hub,
    *,
    progress: Progress | None = None,
    state: StateDB | None = None,
    concurrency: int = 4,
    seed: int | None = None,
    on_finding: Callable[[DeepFinding], None] | None = None,
    covered_since: float | None = None,
    key_opens: bool = True,
) -> DeepResult:
    """Read back the sampled present files of the archive and compare them with local files.

    `progress` (a finished verify) excludes the URLs it found missing, wrong or malformed;
    without it, a sampled file that is not in the repo is counted as `missing`. The same
    remote path recorded twice is read once. With `state` and `covered_since`, it also counts
    the candidates whose latest read-back since then decrypted (`covered`): the audit's gauge.
    """
    cfg.require("db", "key_file", "media_root")
    assert cfg.media_root is not None
    codecs = load_codecs(cfg)
    excluded = _excluded_urls(progress)
    rng = random.Random(seed)
    result = DeepResult(sample.spec)
    seen: set[int] = set()  # 64-bit digests of repo/path: ~70 bytes a file instead of ~250
    action = DeepAction(cfg.media_root, state, key_opens=key_opens)
    with tempfile.TemporaryDirectory(prefix="hfcheck-deep-") as tmp:
        async with Archive(cfg) as archive:
            walk = Walk(codecs, hub, Path(tmp), media_root=cfg.media_root)

            async def produce(put: Put[UrlTask]) -> None:
                async for row in archive.rows(where=archive.has_backup_sql()):
                    _, tasks, _ = split_row(row, hub.endpoint, cfg.columns.huggingface_urls, cfg.revision)
                    for task in tasks:
                        u = task.url
                        digest = _digest64(f"{u.repo_id}/{u.path}")
                        if u.kind is not PathKind.ENCRYPTED or str(u) in excluded or digest in seen:
                            continue
                        seen.add(digest)
                        result.candidates += 1
                        if sample.picks(u.path, rng):
                            await put(task)

            async def work(task: UrlTask) -> None:
                finding = await walk.read(task, action)
                result.add(finding)
                if on_finding is not None:
                    on_finding(finding)

            await run_pool(produce, work, concurrency)
            result.bytes_read = walk.bytes_read
    if state is not None and covered_since is not None:
        # only files still present count: the digests of this run's candidates are at hand
        recent = state.decrypted_since(covered_since)
        result.covered = sum(1 for repo_id, path in recent if _digest64(f"{repo_id}/{path}") in seen)
        result.covered_since = covered_since
    return result


async def run_deep(
    cfg: Config,
    sample: Sample,
    hub: Hub,
    *,
    progress: Progress | None = None,
    concurrency: int = 4,
    seed: int | None = None,
    covered_since: float | None = None,
    key: KeyCheck | None = None,
) -> DeepResult:
    """Both checks, as `verify --deep` and `audit` run them; deep checks recorded in state.db.

    The key is checked first unless the caller did (`key`): WrongKey (exit 2) before any read.
    `hub` is the run's one Hub (the caller's: verify's, the audit's, the watch service's)."""
    key = key or await require_key(cfg, hub=hub, writing=False)
    started = time.time()
    with StateDB.in_data_dir(cfg.data_dir) as state:
        recorded = await compare_recorded(cfg, hub, state, verified_missing=_verified_missing(progress))
        result = await deep_check(
            cfg,
            sample,
            hub,
            progress=progress,
            state=state,
            concurrency=concurrency,
            seed=seed,
            covered_since=covered_since,
            key_opens=key.opens,
        )
        accept_read_back(recorded, state, started)
    result.recorded = recorded
    return result


__all__ = ["DeepAction", "deep_check", "run_deep"]
