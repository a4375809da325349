"""The archive poller of `watch`: which tweets to back up now, read-only, none twice at a time.

Each poll reads rows after the highest primary key seen (keyset: a poll costs what was added,
not the size of the archive); at start and every `rescan_every` polls it runs the whole gap
query (`db.gaps.gap_tweets_sql`) instead, so rows the scraper changed or inserted below the
high-water key are found too. A tweet handed to the writer is *in flight* until the writer says
how it ended; it is not produced again meanwhile. A tweet that failed waits before it is tried
again, doubling per failure (`retry_base` .. `retry_cap`): a media host or Hub outage costs a
few retries an hour per tweet, never a busy loop.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

from hfcheck.db.archive import Archive, Key, TweetRow
from hfcheck.db.gaps import gap_tweets_sql

RETRY_CAP_S = 3600.0
RETRY_CHUNK = 500  # keys per `IN (...)` query (SQLite's default limit is 32,766 variables)


@dataclass
class Retry:
    """A tweet that failed: when it may be tried again, and why it failed last."""

    key: Key
    failures: int
    due: float
    reason: str


class ArchivePoller:
    """`async for row, retried in poller.poll(): ...`; then `poller.finished(tweet_id, reason)`."""

    def __init__(
        self,
        archive: Archive,
        *,
        rescan_every: int,
        retry_base: float,
        retry_cap: float = RETRY_CAP_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.archive = archive
        self.rescan_every = max(1, rescan_every)
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.clock = clock
        self.high: Key | None = None  # the highest primary key read so far
        self.polls = 0
        self.in_flight: dict[str, Key] = {}
        self.retries: dict[str, Retry] = {}

    @property
    def waiting(self) -> int:
        """Tweets known to need a backup: in flight or waiting for a retry."""
        return len(self.in_flight) + len(self.retries)

    async def poll(self) -> AsyncGenerator[tuple[TweetRow, bool], None]:
        """The rows to back up now, each marked in flight: (row, True when it is a retry)."""
        self.polls += 1
        rescan = self.high is None or (self.polls - 1) % self.rescan_every == 0
        id_col = f'"{self.archive.cfg.columns.id}"'
        top = await self.archive.max_key()
        if top is None:
            return
        gap = f"({gap_tweets_sql(self.archive)}) AND {id_col} <= ?"
        after = None if rescan else self.high
        self.high = top
        async for row in self.archive.rows(after=after, where=gap, params=(top,)):
            if self._take(row):
                yield row, row.tweet_id in self.retries
        due = [r.key for tid, r in self.retries.items() if r.due <= self.clock() and tid not in self.in_flight]
        for start in range(0, len(due), RETRY_CHUNK):
            chunk = due[start : start + RETRY_CHUNK]
            where = f"({gap_tweets_sql(self.archive)}) AND {id_col} IN ({', '.join('?' * len(chunk))})"
            found = set()
            async for row in self.archive.rows(where=where, params=tuple(chunk)):
                found.add(row.tweet_id)
                if self._take(row):
                    yield row, True
            for key in chunk:  # backed up by someone else, or changed so that nothing is missing
                tid = str(key)
                if tid not in found and tid not in self.in_flight:
                    self.retries.pop(tid, None)

    def _take(self, row: TweetRow) -> bool:
        """Mark `row` in flight unless it is already, or waits for its retry."""
        tid = row.tweet_id
        retry = self.retries.get(tid)
        if tid in self.in_flight or (retry is not None and retry.due > self.clock()):
            return False
        self.in_flight[tid] = row.key
        return True

    def finished(self, tweet_id: str, reason: str | None) -> None:
        """The writer is done with a tweet: backed up (`reason` None) or failed (retry later)."""
        key = self.in_flight.pop(tweet_id, tweet_id)
        if reason is None:
            self.retries.pop(tweet_id, None)
            return
        previous = self.retries.get(tweet_id)
        failures = previous.failures + 1 if previous else 1
        delay = min(self.retry_cap, self.retry_base * 2 ** (failures - 1))
        self.retries[tweet_id] = Retry(key, failures, self.clock() + delay, reason)

    def release(self, tweet_id: str) -> None:
        """A tweet taken but never handed to the writer (stopping): as if it was not read."""
        self.in_flight.pop(tweet_id, None)

    def forget_in_flight(self) -> None:
        """The writer stopped without saying how its tweets ended: they are found again."""
        self.in_flight.clear()


__all__ = ["ArchivePoller", "Retry"]
