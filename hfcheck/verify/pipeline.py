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
from typing import Any, NamedTuple

from tqdm import tqdm

from hfcheck.config import Config
from hfcheck.db.archive import Archive, Key, TweetRow
from hfcheck.db.gaps import GapSummary, find_gaps, unreadable_media_rows
from hfcheck.errors import EXIT_INCOMPLETE, EXIT_OK, EXIT_PROBLEMS, MalformedURL
from hfcheck.model.paths import BackupURL
from hfcheck.net.hub import Hub
from hfcheck.pool import Put, run_pool
from hfcheck.verify.checkers import Checker, UrlTask
from hfcheck.verify.checkpoint import PROGRESS_NAME, Progress, archive_identity
from hfcheck.verify.fastlane import FastLane, run_end
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
    at = CheckedAt(endpoint, revision, hf_column)
    tasks: list[UrlTask] = []
    for i, raw in enumerate(row.hf_urls):
        item = url_task(row, i, raw, at, notes)
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


@dataclass(frozen=True)
class CheckedAt:
    """Where a run checks the recorded URLs: the configured endpoint and revision, and the
    column that records them (named in the row problems noted)."""

    endpoint: str
    revision: str
    hf_column: str


def url_task(row: TweetRow, i: int, raw: str, at: CheckedAt, notes: list[dict[str, Any]]) -> UrlTask | Finding:
    """The URL at position `i` of the row to check, or its malformed finding.

    Files are checked, read and written at the configured `at.revision` (`--revision`, `hub.revision`):
    a URL recorded at another one is checked there too, and noted in `notes` as the row problem
    `other_revision`, so that a run never answers for a revision it was not asked about."""
    try:
        url = BackupURL.parse(raw)
        if url.endpoint != at.endpoint:
            raise MalformedURL(f"not on the configured endpoint {at.endpoint}")
    except MalformedURL as exc:
        return Finding(Category.MALFORMED, row.tweet_id, raw, index=i, username=row.username, detail=str(exc))
    if url.revision != at.revision:
        notes.append(
            {
                "tweet_id": row.tweet_id,
                "column": at.hf_column,
                "code": "other_revision",
                "detail": f"{raw} is recorded at revision {url.revision!r}; checked at {at.revision!r}",
            }
        )
        url = replace(url, revision=at.revision)
    media_url = row.media_urls[i] if i < len(row.media_urls) else None  # a one-way name's extension (read-back)
    return UrlTask(-1, row.tweet_id, row.username, i, url, media_url)


async def run_verify(cfg: Config, opts: VerifyOptions, hub: Hub) -> VerifyResult:
    """Check every recorded URL (resuming if asked) and, with `check_missing`, count the gaps.
    `hub` is the run's one Hub; the stats count this verify's share of its requests."""
    path = progress_path(cfg, opts)
    identity = archive_identity(cfg)
    progress = (
        Progress.load(path, identity) if opts.resume and path.exists() else Progress(identity, method=opts.method)
    )
    result = VerifyResult(progress, None)
    async with Archive(cfg) as archive:
        if not progress.complete:
            started = time.monotonic()
            before = (hub.requests, hub.retries, hub.rate_limited)
            with _fewer_collections():
                result.limited, listing = await _check_all(archive, hub, progress, path, opts)
            result.stats = {
                "seconds": round(time.monotonic() - started, 3),
                "requests": hub.requests - before[0],
                "retries": hub.retries - before[1],
                "rate_limited": hub.rate_limited - before[2],
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


class RowSplit(NamedTuple):
    """A row as the producer sees it: what is settled already, and what is left to settle."""

    key: Key
    findings: list[Finding]
    notes: list[dict[str, Any]]
    present: int  # URLs found present in a listing (counted, no finding kept)
    tasks: list[UrlTask]  # URLs still to settle: locally against a listing, or by the workers


class RowSettler:
    """Rows settle in key order, so a checkpoint never claims a row after one still in flight.

    A row with nothing to send to the workers and nothing earlier in flight settles on the
    spot; a run of such rows is folded into one entry (the checkpoint keeps the last key and
    the sums). Any other row goes through the ledger, at most `MAX_ROWS_IN_FLIGHT` at once."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.ledger = Ledger(self._settled)
        self.run: RowEntry | None = None  # rows settled on the spot since the last one in the ledger
        self._in_flight = asyncio.Semaphore(MAX_ROWS_IN_FLIGHT)

    def _settled(self, entry: RowEntry) -> None:
        self.progress.settle(entry)
        self._in_flight.release()

    def idle(self) -> bool:
        """Nothing is in flight: a row may settle on the spot."""
        return not self.ledger

    def here(self, row: RowSplit) -> None:
        """Settle a row that is done, with nothing in flight (`idle`)."""
        run = self.run
        if run is None:
            self.run = RowEntry(row.key, 0, row.findings, row.notes, row.present)
        else:
            run.key = row.key
            run.present += row.present
            run.findings += row.findings
            run.extra += row.notes

    def count(self, key: Key, present: int) -> bool:
        """Rows up to `key` whose `present` URLs are all present, added to the run on the spot;
        False (they go row by row) when a row is in flight or no run is open."""
        run = self.run
        if run is None or self.ledger:
            return False
        run.key = key
        run.present += present
        return True

    def fold(self) -> None:
        """Hand the run of rows settled on the spot to the checkpoint."""
        if self.run is not None:
            self.progress.settle(self.run)
            self.run = None

    async def open(self, row: RowSplit, pending: int) -> int:
        """A row with `pending` URLs for the workers (or behind one that has): its ledger number."""
        self.fold()
        await self._in_flight.acquire()
        return self.ledger.open(row.key, pending, row.findings, row.notes, row.present)


class _Producer:
    """Reads the rows a page at a time and settles each: counted (the fast lane), settled
    against a listing here, or its URLs sent to the workers."""

    def __init__(
        self, archive: Archive, checker: Checker, settler: RowSettler, opts: VerifyOptions, bar: tqdm, bulk: bool
    ) -> None:
        self.archive, self.checker, self.settler, self.opts, self.bar = archive, checker, settler, opts, bar
        self.bulk = bulk  # settle URLs of listed repos here (else every URL goes to the workers)
        # every URL is checked at the configured revision
        self.at = CheckedAt(checker.http.endpoint, archive.cfg.revision, archive.cfg.columns.huggingface_urls)
        self.sent = 0  # URLs taken so far (for `limit` and `batch_size`)
        self.limited = False  # `limit` stopped the run
        self.throttled = opts.limit is not None or bool(opts.batch_size and opts.delay)

    async def produce(self, put: Put[UrlTask]) -> None:
        archive, checker, settler = self.archive, self.checker, self.settler
        pages = archive.raw_pages(after=self.settler.progress.position, where=archive.has_backup_sql(), read_ahead=True)
        async with contextlib.aclosing(pages):
            async for page in pages:
                counts: list[int | None] = [None] * len(page)
                if self.bulk:
                    counts = checker.fast.count_present(archive.simple_page(page))
                done = await self._page(page, counts, put)
                settler.fold()
                self.bar.update(done)
                if self.limited:
                    break
                await asyncio.sleep(0)  # the next page may be read already: let checkpoints and workers run

    async def _page(self, page: list[Sequence[Any]], counts: list[int | None], put: Put[UrlTask]) -> int:
        """Settle or send the rows of one page; the URLs settled here (for the progress bar).
        `counts[i]` is row i's URL count when the fast lane found them all present."""
        settler = self.settler
        done = 0
        i, j = 0, -1
        while i < len(page):
            if j < i:
                j = run_end(counts, i)
            # rows i..j-1 are all present (most rows): with nothing earlier in flight, only counted
            n = sum(counts[i:j]) if j > i and not self.throttled else 0  # type: ignore[arg-type]  # no None before j
            if n and settler.count(page[j - 1][0], n):
                done += n
                self.sent += n
                i = j
                if i == len(page):
                    break
            settled = await self._row(page[i], counts[i], put)
            if settled is None:
                self.limited = True
                break
            done += settled
            i += 1
        return done

    async def _row(self, raw: Sequence[Any], count: int | None, put: Put[UrlTask]) -> int | None:
        """Settle one row here or send its URLs to the workers; the URLs settled here, or None
        when the row would pass `limit`."""
        opts = self.opts
        row = self._split(raw, count)
        urls = row.present + len(row.tasks)
        if opts.limit is not None and self.sent + urls > opts.limit and self.sent > 0:
            return None
        pending = row.tasks
        if self.bulk and pending:  # in a listed repo: settled here; else one by one
            row, pending = await self._settle_listed(row)
        if not pending and self.settler.idle():  # nothing earlier in flight: settled now
            self.settler.here(row)
        else:
            seq = await self.settler.open(row, len(pending))
            for task in pending:
                await put(replace(task, seq=seq))
        before, self.sent = self.sent, self.sent + urls
        if opts.batch_size and opts.delay and self.sent // opts.batch_size > before // opts.batch_size:
            self.settler.fold()
            await asyncio.sleep(opts.delay * (self.sent // opts.batch_size - before // opts.batch_size))
        return row.present + len(row.findings)

    async def _settle_listed(self, row: RowSplit) -> tuple[RowSplit, list[UrlTask]]:
        """The row with its URLs of listed (or refused) repos settled, and the URLs left for the
        workers (one by one)."""
        present, findings, pending = row.present, row.findings, []
        for task in row.tasks:
            state = await self.checker.resolve(task.url.repo_id, task.url.revision)
            if state is None:
                pending.append(task)
            elif FastLane.present(state, task.url.path):
                present += 1
            else:
                findings.append(self.checker.local_finding(state, task))
        return row._replace(present=present, findings=findings, tasks=[]), pending

    def _split(self, raw: Sequence[Any], count: int | None) -> RowSplit:
        """A raw row split into what is settled and what is left. A row the fast lane counted
        (`count` URLs, all present) is not typed at all."""
        if count is not None:
            return RowSplit(raw[0], [], [], count, [])
        row = self.archive.to_row(raw)
        findings, notes = row_notes(row, self.at.hf_column) if row.problems else ([], [])
        present = 0
        tasks: list[UrlTask] = []
        for i, url in enumerate(row.hf_urls):
            hit = self.checker.fast.lookup(url) if self.bulk else None
            if hit is True:
                present += 1
            elif isinstance(hit, tuple):
                state, rel = hit
                url_in = BackupURL(self.at.endpoint, state.repo_id, state.revision, rel)
                tasks.append(UrlTask(-1, row.tweet_id, row.username, i, url_in))
            else:
                item = url_task(row, i, url, self.at, notes)
                if isinstance(item, Finding):
                    findings.append(item)
                else:
                    tasks.append(item)
        return RowSplit(row.key, findings, notes, present, tasks)


async def _check_all(
    archive: Archive, http: Hub, progress: Progress, path: Path, opts: VerifyOptions
) -> tuple[bool, dict[str, int]]:
    """Drive the pool: producer, workers and checkpoint writer; returns (True when `limit`
    stopped it, listing stats).

    URLs of repos that are listed (or answered for the whole repo) are settled by the producer,
    a page of rows at a time, against the repo's index; only the others (HEADs) go through the
    queue to the workers. Rows still settle in key order, through the ledger when an earlier
    row is in flight, so a resumed run ends with the same report.
    """
    bulk = not opts.per_url and opts.method != "head"
    # `auto` needs the URL count to choose; `list` only for the progress bar, after its listings start
    counted = opts.method != "list" or opts.progress_bar
    total = await _url_count(archive, progress, opts) if opts.method != "list" else 0
    checker = Checker(http, opts.method, total, folders=not opts.per_url)
    scan = None
    if bulk and opts.limit is None:
        scan = asyncio.ensure_future(
            _prefetch_repos(archive, checker, http.endpoint, archive.cfg.revision, progress.position)
        )
    if counted and opts.method == "list":
        total = await _url_count(archive, progress, opts)
    bar = tqdm(
        total=total if counted else None,
        unit="url",
        disable=not opts.progress_bar,
        dynamic_ncols=True,
        smoothing=0.05,
    )
    settler = RowSettler(progress)
    producer = _Producer(archive, checker, settler, opts, bar, bulk)

    async def work(task: UrlTask) -> None:
        settler.ledger.add(task.seq, await checker.check(task))
        bar.update(1)

    async def checkpoint() -> None:
        while True:
            await asyncio.sleep(opts.checkpoint_interval)
            progress.save(path)

    writer = asyncio.create_task(checkpoint())
    try:
        await run_pool(producer.produce, work, opts.concurrency)
        progress.complete = not producer.limited
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
    return producer.limited, checker.listing_stats()


async def _url_count(archive: Archive, progress: Progress, opts: VerifyOptions) -> int:
    """The URLs this run will check (a pass over the table)."""
    n = await archive.count_urls(after=progress.position)
    return n if opts.limit is None else min(n, opts.limit)
