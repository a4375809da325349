"""The one retry policy of hfcheck: every Hub call (through `net/hub.Hub`) and the media downloader.

Two kinds of failure, two budgets:
- *rate limited* (429): the server says how long to wait (`RateLimit: ...;t=N`, `Retry-After`
  as seconds or an HTTP date); we wait exactly that and it does not use up an attempt (a 429
  is not a failure), up to a total wait cap;
- *transient* (5xx, 408, connection reset, timeout): exponential backoff with full jitter,
  a bounded number of attempts; after that the caller reports the item "unverified"/"failed".

Hand-written rather than tenacity: the two budgets and the server-given delays are the whole
policy, and they read more plainly here than as tenacity's stop/wait combinators. The loop
(`RetryPolicy.run`) knows nothing of HTTP: an attempt raises `RateLimited` or `TransientError`
and the caller decides how to wait on a 429 (a rate-limit bucket pauses every request of the
bucket, not just this one). A write whose answer was lost may still have landed: the caller's
`recover` step looks before any retry, and what it finds ends the loop as the result.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from hfcheck.errors import GaveUp, RateLimited, TransientError

T = TypeVar("T")

TRANSIENT_STATUSES = frozenset({408, 500, 502, 503, 504})
_FIELDS = {name: re.compile(rf"(?:^|;)\s*{name}=(\d+)") for name in "rtqw"}


def header_field(value: str | None, name: str) -> int | None:
    """The integer `name=` field of a `RateLimit`/`RateLimit-Policy` header
    (`"api";r=REMAINING;t=RESET`, `"fixed window";"api";q=QUOTA;w=WINDOW`), or None."""
    m = _FIELDS[name].search(value or "")
    return int(m.group(1)) if m else None


def retry_after_seconds(headers: Mapping[str, str], default: float = 1.0, *, now: float | None = None) -> float:
    """Seconds to wait after a 429: `RateLimit` t= (+1, as the official client does), else
    `Retry-After` as delta-seconds or an HTTP date (a date in the past is 0), else `default`."""
    reset = header_field(headers.get("RateLimit") or headers.get("ratelimit"), "t")
    if reset is not None:
        return float(reset) + 1.0
    value = (headers.get("Retry-After") or headers.get("retry-after") or "").strip()
    if value.isdigit():
        return float(value)
    if value:
        try:
            when = email.utils.parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError, IndexError):
            return default
        return max(0.0, when - (time.time() if now is None else now))
    return default


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry."""

    attempts: int = 6  # tries in all when every one fails transiently (1 = no retry)
    base: float = 0.5
    cap: float = 30.0
    max_rate_limit_wait: float = 3600.0  # total 429 wait per item before giving up
    max_retry_after: float | None = None  # a server's single wait above this is capped (None: not)
    default_retry_after: float = 1.0  # a 429 that says nothing of how long

    def backoff(self, retry: int) -> float:
        """Delay before retry number `retry` (1 for the first): full jitter (AWS architecture
        blog), uniform in [0, min(cap, base * 2^(retry-1))] — the first retry waits up to `base`."""
        return random.uniform(0, min(self.cap, self.base * 2 ** max(0, retry - 1)))

    def wait_for(self, retry_after: float) -> float:
        """The wait a 429 asked for, within `max_retry_after`."""
        return retry_after if self.max_retry_after is None else min(retry_after, self.max_retry_after)

    async def run(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        on_rate_limited: Callable[[float], Awaitable[None]] | None = None,
        on_retry: Callable[[], None] | None = None,
        recover: Callable[[TransientError], Awaitable[T | None]] | None = None,
    ) -> T:
        """`await attempt()` until it returns; a `RateLimited` waits (`on_rate_limited(seconds)`,
        default a plain sleep) without using an attempt, a `TransientError` first asks
        `recover` (a result found there is returned: the lost answer's write landed), then
        backs off. Raises `GaveUp` when `attempts` transient failures or `max_rate_limit_wait`
        seconds are spent."""
        failures = 0
        waited = 0.0
        while True:
            try:
                return await attempt()
            except RateLimited as exc:
                wait = self.wait_for(exc.retry_after)
                waited += wait
                if waited > self.max_rate_limit_wait:
                    raise GaveUp(f"rate limited for over {self.max_rate_limit_wait:.0f}s") from None
                await (on_rate_limited(wait) if on_rate_limited is not None else asyncio.sleep(wait))
            except TransientError as exc:
                if recover is not None and (found := await recover(exc)) is not None:
                    return found
                failures += 1
                if failures >= self.attempts:
                    raise GaveUp(f"{exc} after {failures} attempts") from None
                if on_retry is not None:
                    on_retry()
                await asyncio.sleep(self.backoff(failures))
