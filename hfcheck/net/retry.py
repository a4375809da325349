"""Retry policy, apart from the transport that does the I/O (as httpx separates them).

Two kinds of failure, two budgets:
- *rate limited* (429): the server says how long to wait (`RateLimit: ...;t=N`, `Retry-After`);
  we wait exactly that and it does not use up an attempt (a 429 is not a failure), up to a
  total wait cap;
- *transient* (5xx, 408, connection reset, timeout): exponential backoff with full jitter,
  a bounded number of attempts; after that the caller reports the item "unverified".

Hand-written rather than tenacity: the two budgets and the server-given delays are the whole
policy, and they read more plainly here than as tenacity's stop/wait combinators.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

TRANSIENT_STATUSES = frozenset({408, 500, 502, 503, 504})
_RATELIMIT_T = re.compile(r"(?:^|;)\s*t=(\d+)")


class TransientError(Exception):
    """A failure worth retrying (5xx, reset, timeout); `status` is None for network errors."""

    def __init__(self, detail: str, status: int | None = None) -> None:
        super().__init__(detail)
        self.status = status


class RateLimited(Exception):
    """A 429; `retry_after` is the server's word on how long to wait (seconds)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited, retry after {retry_after:.0f}s")
        self.retry_after = retry_after


def retry_after_seconds(headers: dict[str, str] | object, default: float = 1.0) -> float:
    """Seconds to wait after a 429: `RateLimit` t= (+1 as the official client does), else `Retry-After`."""
    get = getattr(headers, "get")
    ratelimit = get("RateLimit") or get("ratelimit")
    if ratelimit:
        m = _RATELIMIT_T.search(ratelimit)
        if m:
            return float(m.group(1)) + 1.0
    retry_after = get("Retry-After") or get("retry-after")
    if retry_after and retry_after.strip().isdigit():
        return float(retry_after.strip())
    return default


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; `sleep_for` gives the delay before attempt n+1."""

    attempts: int = 6  # transient failures tolerated before giving up
    base: float = 0.5
    cap: float = 30.0
    max_rate_limit_wait: float = 3600.0  # total 429 wait per item before giving up

    def backoff(self, attempt: int) -> float:
        """Full jitter (AWS architecture blog): uniform in [0, min(cap, base * 2^attempt)]."""
        return random.uniform(0, min(self.cap, self.base * (2**attempt)))
