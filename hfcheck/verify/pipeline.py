"""The verify run: producer → bounded queue → rate-limited workers → ledger → checkpoint.

Memory stays flat: the queue holds at most a few URLs per worker, the ledger at most
`MAX_ROWS_IN_FLIGHT` rows, and the progress file only problems. Interrupted runs (Ctrl-C,
SIGTERM, `kill -9`) resume from the last checkpoint and end with the same summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from hfcheck.config import Config
from hfcheck.db.archive import Archive, TweetRow
from hfcheck.db.gaps import GapSummary, find_gaps
from hfcheck.errors import EXIT_INCOMPLETE, EXIT_OK, EXIT_PROBLEMS, MalformedURL
from hfcheck.model.paths import BackupURL
from hfcheck.net.hub import HubClient
from hfcheck.pool import Put, run_pool
from hfcheck.verify.checkers import Checker, UrlTask
from hfcheck.verify.checkpoint import PROGRESS_NAME, Progress, archive_identity
from hfcheck.verify.findings import Category, Finding
from hfcheck.verify.ledger import Ledger

MAX_ROWS_IN_FLIGHT = 10_000
MALFORMED_CODES = {"invalid_json", "not_a_list", "non_string_item"}


@dataclass
class VerifyOptions:
    concurrency: int = 64
    method: str = "auto"  # auto | head | list
    resume: bool = False
    limit: int | None = None  # stop after this many URLs (resume continues)
    batch_size: int | None = None  # with delay: pause `delay` seconds after every batch
    delay: float = 0.0
    check_missing: bool = False
    checkpoint_interval: float = 5.0
    progress_bar: bool = False
    progress_path: Path | None = None


@dataclass
class VerifyResult:
    progress: Progress
    gaps: GapSummary | None
    stats: dict[str, Any] = field(default_factory=dict)
    limited: bool = False

    @property
    def exit_code(self) -> int:
        """0 all present; 1 problems found; 3 could not complete (no access, unverified,
        stopped). One rule for `verify` and `audit`."""
        c = self.progress.counts
        if c["no_access"] or c["unverified"] or not self.progress.complete:
            return EXIT_INCOMPLETE
        gaps = self.gaps
        gap_found = bool(gaps and (gaps.unbacked or gaps.partial or gaps.empty_media))
        if c["missing"] or c["wrong_path"] or c["repo_not_found"] or c["malformed"] or gap_found:
            return EXIT_PROBLEMS
        return EXIT_OK


def progress_path(cfg: Config, opts: VerifyOptions) -> Path:
    return opts.progress_path or cfg.data_dir / PROGRESS_NAME


def split_row(row: TweetRow, endpoint: str, hf_column: str) -> tuple[list[Finding], list[UrlTask], list[dict[str, Any]]]:
    """A row's immediate findings (malformed), its URLs to check, and its other row problems.

    An unreadable URL column counts as one malformed URL; a salvaged one (a bare string) is
    checked and only noted. Other hosts in the URL column become malformed URLs below.
    """
    findings: list[Finding] = []
    tasks: list[UrlTask] = []
    notes: list[dict[str, Any]] = []
    for p in row.problems:
        in_hf = p.column == hf_column
        salvaged = p.code == "not_a_list" and bool(row.hf_urls)
        if in_hf and p.code in MALFORMED_CODES and not salvaged:
            findings.append(Finding(Category.MALFORMED, row.tweet_id, p.detail, username=row.username, detail=f"{p.code} in {hf_column}"))
        elif not (in_hf and p.code == "unexpected_host"):
            notes.append({"tweet_id": row.tweet_id, "column": p.column, "code": p.code, "detail": p.detail})
    for i, raw in enumerate(row.hf_urls):
        try:
            url = BackupURL.parse(raw)
            if url.endpoint != endpoint:
                raise MalformedURL(f"not on the configured endpoint {endpoint}")
        except MalformedURL as exc:
            findings.append(Finding(Category.MALFORMED, row.tweet_id, raw, index=i, username=row.username, detail=str(exc)))
            continue
        tasks.append(UrlTask(-1, row.tweet_id, row.username, i, url))
    return findings, tasks, notes


async def run_verify(cfg: Config, opts: VerifyOptions) -> VerifyResult:
    """Check every recorded URL (resuming if asked) and, with `check_missing`, count the gaps."""
    path = progress_path(cfg, opts)
    identity = archive_identity(cfg)
    progress = Progress.load(path, identity) if opts.resume and path.exists() else Progress(identity, method=opts.method)
    result = VerifyResult(progress, None)
    async with Archive(cfg) as archive:
        if not progress.complete:
            async with HubClient(cfg, concurrency=opts.concurrency) as http:
                started = time.monotonic()
                result.limited = await _check_all(archive, http, progress, path, opts)
                result.stats = {
                    "seconds": round(time.monotonic() - started, 3),
                    "requests": http.requests,
                    "retries": http.retries,
                    "rate_limited": http.rate_limited,
                }
        if opts.check_missing:
            result.gaps = await find_gaps(archive)
    return result


async def _check_all(archive: Archive, http: HubClient, progress: Progress, path: Path, opts: VerifyOptions) -> bool:
    """Run producer, workers and checkpoint writer; returns True when `limit` stopped it."""
    total = await archive.count_urls(after=progress.position)
    if opts.limit is not None:
        total = min(total, opts.limit)
    checker = Checker(http, opts.method, total)
    rows_in_flight = asyncio.Semaphore(MAX_ROWS_IN_FLIGHT)

    def settle(entry: Any) -> None:
        progress.settle(entry)
        rows_in_flight.release()

    ledger = Ledger(settle)
    bar = tqdm(total=total, unit="url", disable=not opts.progress_bar, dynamic_ncols=True, smoothing=0.05)
    limited = False

    async def produce(put: Put[UrlTask]) -> None:
        nonlocal limited
        sent = 0
        async for row in archive.rows(after=progress.position, where=archive.has_backup_sql()):
            findings, tasks, notes = split_row(row, http.endpoint, archive.cfg.columns.huggingface_urls)
            if opts.limit is not None and sent + len(tasks) > opts.limit and sent > 0:
                limited = True
                break
            await rows_in_flight.acquire()
            seq = ledger.open(row.key, len(tasks), findings, notes)
            bar.update(len(findings))
            for task in tasks:
                await put(replace(task, seq=seq))
                sent += 1
                if opts.batch_size and opts.delay and sent % opts.batch_size == 0:
                    await asyncio.sleep(opts.delay)

    async def work(task: UrlTask) -> None:
        ledger.add(task.seq, await checker.check(task))
        bar.update(1)

    async def checkpoint() -> None:
        while True:
            await asyncio.sleep(opts.checkpoint_interval)
            progress.save(path)

    writer = asyncio.create_task(checkpoint())
    try:
        await run_pool(produce, work, opts.concurrency)
        progress.complete = not limited
        progress.method = opts.method
    finally:
        writer.cancel()
        with contextlib.suppress(BaseException):
            await writer
        bar.close()
        progress.save(path)  # also on Ctrl-C / SIGTERM: what settled is kept
    return limited
