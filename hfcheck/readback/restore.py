"""restore: download backups from the Hub and decrypt them into the local layout.

    archive rows (--tweet / --user / --all: `select`) → recorded URLs → the read-back walk
    (`walk.Walk`: name → confined path → fetch → decrypt) with `RestoreAction`, which writes
    each file to DIR/images|videos/{user}/{tweet_id}_{i}.{ext}

A file appears under its final name only after its last chunk verified (`crypto.decrypt_file`
writes a temp file and renames it). Interrupted downloads stay in DIR/.hfcheck-parts and are
continued with `Range` by the next run.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from hfcheck.config import Config
from hfcheck.crypto import load_codecs
from hfcheck.db.archive import Archive, TweetRow
from hfcheck.errors import InputError
from hfcheck.model.paths import BackupURL
from hfcheck.net.fetch import Fetched
from hfcheck.net.hub import Hub
from hfcheck.pool import Put, run_pool
from hfcheck.readback.keycheck import require_key
from hfcheck.readback.select import Selection, selected_rows, user_sql
from hfcheck.readback.walk import Failure, Target, Walk
from hfcheck.report.catalog import msg
from hfcheck.verify.checkers import UrlTask
from hfcheck.verify.pipeline import split_row

PARTS_DIR = ".hfcheck-parts"
RESTORE_STATUSES = ("restored", "exists", "failed", "incomplete")
# The Hub (or the local disk) could not answer: unknown, not damaged; exit 3, run again. Only the
# rest (missing, does not decrypt, unknown format, wrong path, malformed) is a file proven lost.
_INCOMPLETE = frozenset(
    {
        Failure.NO_ACCESS,
        Failure.REPO_NOT_FOUND,
        Failure.REVISION_NOT_FOUND,
        Failure.FETCH_FAILED,
        Failure.UNVERIFIED,
        Failure.TOO_LARGE,
        Failure.WRITE_FAILED,
    }
)
# Answers for a whole repo: one line per repo and revision (`repo_problems`), not one per file.
REPO_LEVEL = frozenset(f.value for f in (Failure.NO_ACCESS, Failure.REPO_NOT_FOUND, Failure.REVISION_NOT_FOUND))


@dataclass
class RestoreOutcome:
    """What happened to one recorded URL (`local` is relative to DIR, when known)."""

    status: str  # restored | exists | failed | incomplete
    tweet_id: str
    url: str
    index: int = 0
    local: str | None = None
    category: str = ""  # why it failed: missing, decrypt_failed, unknown_format, wrong_path, malformed, no_access, ...
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


@dataclass
class RestoreSummary:
    counts: Counter[str] = field(default_factory=Counter)
    problems: list[RestoreOutcome] = field(default_factory=list)
    tweets: int = 0
    bytes_written: int = 0
    resumed: int = 0
    repo_problems: dict[str, dict[str, Any]] = field(default_factory=dict)  # as verify's, by repo@revision

    def add(self, outcome: RestoreOutcome) -> None:
        self.counts[outcome.status] += 1
        if outcome.category in REPO_LEVEL:
            u = BackupURL.parse(outcome.url)
            rp = self.repo_problems.setdefault(
                f"{u.repo_id}@{u.revision}",
                dict(repo_id=u.repo_id, revision=u.revision, category=outcome.category, detail=outcome.detail, urls=0),
            )
            rp["urls"] += 1
        elif outcome.status in ("failed", "incomplete"):
            self.problems.append(outcome)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tweets": self.tweets,
            "counts": {k: self.counts.get(k, 0) for k in RESTORE_STATUSES},
            "bytes_written": self.bytes_written,
            "resumed_downloads": self.resumed,
            "problems": [p.to_dict() for p in self.problems],
            "repo_problems": list(self.repo_problems.values()),
        }


class RestoreAction:
    """The walk's action for restore: write the plaintext into `root` (keep what is there)."""

    def __init__(self, root: Path, *, overwrite: bool = False) -> None:
        self.root = root
        self.overwrite = overwrite
        self.bytes_written = 0

    @staticmethod
    def _outcome(
        task: UrlTask, status: str, local: str | None = None, category: str = "", detail: str = ""
    ) -> RestoreOutcome:
        return RestoreOutcome(status, task.tweet_id, str(task.url), task.index, local, category, detail)

    def before(self, target: Target) -> RestoreOutcome | None:
        if target.path.exists() and not self.overwrite:
            return self._outcome(target.task, "exists", target.local, detail="already in the output folder (kept)")
        return None

    def destination(self, target: Target) -> Path:
        return target.path

    async def after(self, target: Target, fetched: Fetched, plain_sha256: str) -> RestoreOutcome:
        self.bytes_written += target.path.stat().st_size
        return self._outcome(target.task, "restored", target.local)

    def failed(self, task: UrlTask, failure: Failure, detail: str, target: Target | None) -> RestoreOutcome:
        status = "incomplete" if failure in _INCOMPLETE else "failed"
        return self._outcome(task, status, target.local if target else None, failure.value, detail)


def jobs_of(row: TweetRow, endpoint: str, hf_column: str, revision: str) -> tuple[list[UrlTask], list[RestoreOutcome]]:
    """A row's URLs to restore, and the ones that cannot be (malformed or another host)."""
    findings, tasks, _ = split_row(row, endpoint, hf_column, revision)
    bad = [
        RestoreOutcome("failed", f.tweet_id, f.url, f.index, category="malformed", detail=f.detail) for f in findings
    ]
    return tasks, bad


async def run_restore(
    cfg: Config,
    sel: Selection,
    out: Path,
    *,
    concurrency: int = 8,
    overwrite: bool = False,
    on_outcome: Callable[[RestoreOutcome], None] | None = None,
    progress_bar: bool = False,
) -> RestoreSummary:
    """Restore the selected tweets' backups into `out`; the summary lists every failure.

    With `progress_bar`, a tqdm bar over the selected URLs (on stderr); `on_outcome` lines are
    then written above it."""
    sel.validate()
    cfg.require("db", "key_file")
    codecs = load_codecs(cfg)
    out.mkdir(parents=True, exist_ok=True)
    summary = RestoreSummary()
    bar: tqdm[Any] | None = None

    def note(outcome: RestoreOutcome) -> None:
        summary.add(outcome)
        if bar is not None:
            bar.update(1)
        if on_outcome is not None:
            on_outcome(outcome)

    async with Archive(cfg) as archive, Hub(cfg, concurrency=concurrency) as client:
        await require_key(cfg, codecs, archive=archive, hub=client, writing=False)  # "wrong key" once
        walk = Walk(codecs, client, out / PARTS_DIR, media_root=cfg.media_root)
        action = RestoreAction(out, overwrite=overwrite)
        if progress_bar:
            total = None if sel.tweets else await archive.count_urls(where=user_sql(archive, sel))
            bar = tqdm(total=total, unit="file", dynamic_ncols=True)

        async def produce(put: Put[UrlTask]) -> None:
            found = False
            async for row in selected_rows(archive, sel):
                found = True
                summary.tweets += 1
                tasks, bad = jobs_of(row, client.endpoint, cfg.columns.huggingface_urls, cfg.revision)
                for o in bad:
                    note(o)
                for task in tasks:
                    await put(task)
            if sel.tweets and not found:
                raise InputError(msg("err_tweet_not_in_archive", tweets=", ".join(sel.tweets)))

        async def work(task: UrlTask) -> None:
            note(await walk.read(task, action))

        try:
            await run_pool(produce, work, concurrency)
        finally:
            if bar is not None:
                bar.close()
        summary.resumed = walk.resumed
        summary.bytes_written = action.bytes_written
    with contextlib.suppress(OSError):
        (out / PARTS_DIR).rmdir()  # only when empty: interrupted downloads stay for the next run
    return summary


__all__ = ["PARTS_DIR", "RestoreAction", "RestoreOutcome", "RestoreSummary", "Selection", "run_restore"]
