"""The verify run: producer → bounded queue → rate-limited workers → ledger → checkpoint.

Memory stays flat: the queue holds at most a few URLs per worker, the ledger at most
`MAX_ROWS_IN_FLIGHT` rows, and the progress file only problems. Interrupted runs (Ctrl-C,
SIGTERM, `kill -9`) resume from the last checkpoint and end with the same summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from hfcheck.config import Config
from hfcheck.db.archive import Archive, Key, TweetRow
from hfcheck.db.gaps import GapSummary, find_gaps, unreadable_media_rows
from hfcheck.errors import EXIT_INCOMPLETE, EXIT_OK, EXIT_PROBLEMS, MalformedURL
from hfcheck.model.paths import BackupURL
from hfcheck.net.hub import Hub
from hfcheck.net.ratelimit import Bucket
from hfcheck.pool import Put, run_pool
from hfcheck.verify.checkers import Checker, UrlTask
from hfcheck.verify.checkpoint import PROGRESS_NAME, Progress, archive_identity
from hfcheck.verify.findings import Category, Finding
from hfcheck.verify.ledger import Ledger, RowEntry

MAX_ROWS_IN_FLIGHT = 10_000
# Containers allocated between two young-generation collections while rows stream (the default
# is 700); see `_fewer_collections`.
GC_YOUNG_THRESHOLD = 100_000
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
    per_url: bool = False  # every URL through the queue, repos listed one after another (benchmark baseline)
    buckets: dict[str, Bucket] | None = None  # a caller's rate-limit buckets to share (the watch's audit)


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
        if c["no_access"] or c["unverified"] or c["revision_not_found"] or not self.progress.complete:
            return EXIT_INCOMPLETE
        gaps = self.gaps
        gap_found = bool(gaps and (gaps.unbacked or gaps.partial or gaps.empty_media))
        if c["missing"] or c["wrong_path"] or c["repo_not_found"] or c["malformed"] or gap_found:
            return EXIT_PROBLEMS
        return EXIT_OK


def progress_path(cfg: Config, opts: VerifyOptions) -> Path:
    return opts.progress_path or cfg.data_dir / PROGRESS_NAME


def split_row(
    row: TweetRow, endpoint: str, hf_column: str, revision: str
) -> tuple[list[Finding], list[UrlTask], list[dict[str, Any]]]:
    """A row's immediate findings (malformed), its URLs to check at `revision`, and its other
    row problems.

    An unreadable URL column counts as one malformed URL; a salvaged one (a bare string) is
    checked and only noted. Other hosts in the URL column become malformed URLs below.
    """
    findings, notes = row_notes(row, hf_column)
    tasks: list[UrlTask] = []
    for i, raw in enumerate(row.hf_urls):
        item = url_task(row, i, raw, endpoint, revision, notes, hf_column)
        if isinstance(item, Finding):
            findings.append(item)
        else:
            tasks.append(item)
    return findings, tasks, notes


def row_notes(row: TweetRow, hf_column: str) -> tuple[list[Finding], list[dict[str, Any]]]:
    """The row's problems: a malformed finding for an unreadable URL column, notes for the rest."""
    findings: list[Finding] = []
    notes: list[dict[str, Any]] = []
    for p in row.problems:
        in_hf = p.column == hf_column
        salvaged = p.code == "not_a_list" and bool(row.hf_urls)
        if in_hf and p.code in MALFORMED_CODES and not salvaged:
            findings.append(
                Finding(
                    Category.MALFORMED, row.tweet_id, p.detail, username=row.username, detail=f"{p.code} in {hf_column}"
                )
            )
        elif not (in_hf and p.code == "unexpected_host"):
            notes.append({"tweet_id": row.tweet_id, "column": p.column, "code": p.code, "detail": p.detail})
    return findings, notes


def url_task(
    row: TweetRow, i: int, raw: str, endpoint: str, revision: str, notes: list[dict[str, Any]], hf_column: str
) -> UrlTask | Finding:
    """The URL at position `i` of the row to check, or its malformed finding.

    Files are checked, read and written at the configured `revision` (`--revision`, `hub.revision`):
    a URL recorded at another one is checked there too, and noted in `notes` as the row problem
    `other_revision`, so that a run never answers for a revision it was not asked about."""
    try:
        url = BackupURL.parse(raw)
        if url.endpoint != endpoint:
            raise MalformedURL(f"not on the configured endpoint {endpoint}")
    except MalformedURL as exc:
        return Finding(Category.MALFORMED, row.tweet_id, raw, index=i, username=row.username, detail=str(exc))
    if url.revision != revision:
        notes.append(
            {
                "tweet_id": row.tweet_id,
                "column": hf_column,
                "code": "other_revision",
                "detail": f"{raw} is recorded at revision {url.revision!r}; checked at {revision!r}",
            }
        )
        url = replace(url, revision=revision)
    media_url = row.media_urls[i] if i < len(row.media_urls) else None  # a one-way name's extension (read-back)
    return UrlTask(-1, row.tweet_id, row.username, i, url, media_url)


async def run_verify(cfg: Config, opts: VerifyOptions) -> VerifyResult:
    """Check every recorded URL (resuming if asked) and, with `check_missing`, count the gaps."""
    path = progress_path(cfg, opts)
    identity = archive_identity(cfg)
    progress = (
        Progress.load(path, identity) if opts.resume and path.exists() else Progress(identity, method=opts.method)
    )
    result = VerifyResult(progress, None)
    async with Archive(cfg) as archive:
        if not progress.complete:
            async with Hub(cfg, concurrency=opts.concurrency, buckets=opts.buckets) as http:
                started = time.monotonic()
                with _fewer_collections():
                    result.limited, listing = await _check_all(archive, http, progress, path, opts)
                result.stats = {
                    "seconds": round(time.monotonic() - started, 3),
                    "requests": http.requests,
                    "retries": http.retries,
                    "rate_limited": http.rate_limited,
                    **listing,
                }
        if opts.check_missing:
            result.gaps = await find_gaps(archive)
        progress.row_problems += [p for p in await unreadable_media_rows(archive) if p not in progress.row_problems]
    return result


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often while rows stream. Each page allocates
    thousands of short-lived tuples and lists, so with the default thresholds the collector
    walks the whole heap again and again: ~3 s of a million-URL run (22.6 s, 19.5 s with the
    collector off, 18.2 s with this). Rows make no reference cycles; the thresholds come back
    after the run."""
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], GC_YOUNG_THRESHOLD), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


async def _prefetch_repos(archive: Archive, checker: Checker, endpoint: str, revision: str, after: Key | None) -> None:
    """Start listing every repo (and revision) the rows after `after` name, all at once, instead
    of each when its first row comes. Found by one scan of the table, on a connection of its own,
    while the rows are read; if the scan fails, each repo is listed when its first row comes."""
    keys: dict[tuple[str, str], None] = {}
    try:
        prefixes = await archive.url_prefixes("/resolve/", after=after)
    except sqlite3.Error:
        return
    for prefix in prefixes:
        start = prefix.find("http")
        try:
            url = BackupURL.parse(prefix[start:] + "x") if start >= 0 else None
        except MalformedURL:
            url = None
        if url is not None and url.endpoint == endpoint:
            keys[(url.repo_id, revision)] = None  # every URL is checked at the configured revision
    checker.prefetch(list(keys))


def _next_none(items: list[int | None], start: int) -> int:
    """The index of the first None at or after `start`, else the length (a search in C)."""
    try:
        return items.index(None, start)
    except ValueError:
        return len(items)


async def _check_all(
    archive: Archive, http: Hub, progress: Progress, path: Path, opts: VerifyOptions
) -> tuple[bool, dict[str, int]]:
    """Run producer, workers and checkpoint writer; returns (True when `limit` stopped it, listing stats).

    URLs of repos that are listed (or answered for the whole repo) are settled by the producer,
    a page of rows at a time, against the repo's index; only the others (HEADs) go through the
    queue to the workers. Rows still settle in key order, through the ledger when an earlier
    row is in flight, so a resumed run ends with the same report.
    """
    bulk = not opts.per_url and opts.method != "head"

    async def url_count() -> int:
        """The URLs this run will check (a pass over the table)."""
        n = await archive.count_urls(after=progress.position)
        return n if opts.limit is None else min(n, opts.limit)

    # `auto` needs the URL count to choose; `list` only for the progress bar, after its listings start
    counted = opts.method != "list" or opts.progress_bar
    total = await url_count() if opts.method != "list" else 0
    checker = Checker(http, opts.method, total, folders=not opts.per_url)
    scan = None
    if bulk and opts.limit is None:
        scan = asyncio.ensure_future(
            _prefetch_repos(archive, checker, http.endpoint, archive.cfg.revision, progress.position)
        )
    if counted and opts.method == "list":
        total = await url_count()
    rows_in_flight = asyncio.Semaphore(MAX_ROWS_IN_FLIGHT)

    def settle(entry: Any) -> None:
        progress.settle(entry)
        rows_in_flight.release()

    ledger = Ledger(settle)
    shown = total if counted else None
    bar = tqdm(total=shown, unit="url", disable=not opts.progress_bar, dynamic_ncols=True, smoothing=0.05)
    limited = False
    endpoint = http.endpoint
    hf_column = archive.cfg.columns.huggingface_urls
    revision = archive.cfg.revision

    def split(
        raw: Sequence[Any], plain: int | None
    ) -> tuple[Key, list[Finding], list[dict[str, Any]], int, list[UrlTask]]:
        """A raw row's key, findings and notes, how many URLs are plainly present (recognised in a
        listed repo without a parse) and the URLs still to settle. A plain row whose `plain` URLs
        are all plainly present (most rows) is counted without typing it."""
        if plain is not None:
            return raw[0], [], [], plain, []
        row = archive.to_row(raw)
        findings, notes = row_notes(row, hf_column) if row.problems else ([], [])
        present = 0
        tasks: list[UrlTask] = []
        for i, raw in enumerate(row.hf_urls):
            hit = checker.lookup(raw) if bulk else None
            if hit is True:
                present += 1
            elif isinstance(hit, tuple):
                state, rel = hit
                url = BackupURL(endpoint, state.repo_id, state.revision, rel)
                tasks.append(UrlTask(-1, row.tweet_id, row.username, i, url))
            else:
                item = url_task(row, i, raw, endpoint, revision, notes, hf_column)
                if isinstance(item, Finding):
                    findings.append(item)
                else:
                    tasks.append(item)
        return row.key, findings, notes, present, tasks

    async def produce(put: Put[UrlTask]) -> None:
        nonlocal limited
        sent = 0
        run: RowEntry | None = None  # rows settled on the spot since the last one in the ledger
        throttled = opts.limit is not None or bool(opts.batch_size and opts.delay)

        def fold() -> None:
            nonlocal run
            if run is not None:
                progress.settle(run)
                run = None

        async def one(raw: Sequence[Any], n: int | None) -> int | None:
            """Settle one row here or send its URLs to the workers; its URLs, or None past `limit`."""
            nonlocal run, sent
            key, findings, notes, present, tasks = split(raw, n)
            urls = present + len(tasks)
            if opts.limit is not None and sent + urls > opts.limit and sent > 0:
                return None
            pending: list[UrlTask] = []
            for task in tasks:  # in a listed repo: settled here; else one by one
                state = await checker.resolve(task.url.repo_id, task.url.revision) if bulk else None
                if state is None:
                    pending.append(task)
                elif Checker.present(state, task.url.path):
                    present += 1
                else:
                    findings.append(checker.local_finding(state, task))
            if not pending and not ledger:  # nothing earlier in flight: settled now
                if run is None:
                    run = RowEntry(key, 0, findings, notes, present)
                else:
                    run.key = key
                    run.present += present
                    run.findings += findings
                    run.extra += notes
            else:
                fold()
                await rows_in_flight.acquire()
                seq = ledger.open(key, len(pending), findings, notes, present)
                for task in pending:
                    await put(replace(task, seq=seq))
            before, sent = sent, sent + urls
            if opts.batch_size and opts.delay and sent // opts.batch_size > before // opts.batch_size:
                fold()
                await asyncio.sleep(opts.delay * (sent // opts.batch_size - before // opts.batch_size))
            return present + len(findings)

        pages = archive.raw_pages(after=progress.position, where=archive.has_backup_sql(), read_ahead=True)
        async with contextlib.aclosing(pages):
            async for page in pages:
                done = 0  # URLs of this page settled here, for the progress bar
                plain: list[int | None] = checker.count_plain(archive.plain_page(page)) if bulk else [None] * len(page)
                i, j = 0, -1
                while i < len(page):
                    if j < i:
                        j = _next_none(plain, i)
                    # rows i..j-1 are plainly present (most rows): with nothing earlier in flight, only counted
                    if j > i and run is not None and not ledger and not throttled:
                        n = sum(plain[i:j])  # type: ignore[arg-type]  # no None before j
                        run.key = page[j - 1][0]
                        run.present += n
                        done += n
                        sent += n
                        i = j
                        if i == len(page):
                            break
                    settled = await one(page[i], plain[i])
                    if settled is None:
                        limited = True
                        break
                    done += settled
                    i += 1
                fold()
                bar.update(done)
                if limited:
                    break
                await asyncio.sleep(0)  # the next page may be read already: let checkpoints and workers run

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
        if scan is not None:
            scan.cancel()
        checker.cancel_prefetch()
        writer.cancel()
        with contextlib.suppress(BaseException):
            await writer
        bar.close()
        progress.save(path)  # also on Ctrl-C / SIGTERM: what settled is kept
    return limited, checker.listing_stats()
