"""Pacing for one Hub rate-limit bucket: a ceiling from the configuration, refined by the Hub.

The Hub counts requests in fixed 5-minute windows per bucket (api, resolvers) and tells us
where we stand on every answer: `RateLimit: "api";r=REMAINING;t=RESET` and
`RateLimit-Policy: "fixed window";"api";q=QUOTA;w=WINDOW`. A `Bucket` bursts while the window
allows (aiolimiter's bucket starts full), spreads the rest of the window evenly once fewer
requests remain than are in flight, and stops until the reset when none remain or after a 429.
With no configured limit it adopts the server's quota, so a larger plan runs faster unconfigured.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from aiolimiter import AsyncLimiter

from hfcheck.config import FREE_PLAN, Limits
from hfcheck.net.retry import header_field


class Bucket:
    """Await `acquire()` before each request of this bucket; feed answers to `observe()`."""

    def __init__(self, name: str, quota: int | None, window: float, default_quota: int, low_water: int = 64) -> None:
        self.name = name
        self.explicit = quota is not None
        self.quota = quota if quota is not None else default_quota
        self.window = window
        self.low_water = low_water  # below this many remaining, pace evenly to the reset
        self._limiter = AsyncLimiter(self.quota, window)
        self._paused_until = 0.0
        self._interval = 0.0
        self._next_slot = 0.0
        self.waited = 0.0  # seconds spent waiting on the server's word, for the summary

    async def acquire(self) -> None:
        """Wait until this bucket may send one more request."""
        while True:
            now = time.monotonic()
            wait = max(self._paused_until, self._next_slot) - now
            if wait <= 0:
                break
            self.waited += wait
            await asyncio.sleep(wait)
        if self._interval:
            self._next_slot = time.monotonic() + self._interval
        await self._limiter.acquire()

    def pause(self, seconds: float) -> None:
        """Hold every request of this bucket for `seconds` (after a 429)."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Adjust to the server's view of this bucket's window."""
        state, policy = headers.get("RateLimit"), headers.get("RateLimit-Policy")
        if policy and not self.explicit:
            q, w = header_field(policy, "q"), header_field(policy, "w")
            if q and w and q / w > self.quota / self.window:
                self.quota, self.window = q, float(w)
                self._limiter = AsyncLimiter(q, w)
        remaining, reset = header_field(state, "r"), header_field(state, "t")
        if remaining is None or reset is None:
            return
        if remaining == 0:
            self.pause(reset + 1)
            self._interval = 0.0
        elif remaining < self.low_water:
            self._interval = reset / remaining
        else:
            self._interval = 0.0


def hub_buckets(limits: Limits) -> dict[str, Bucket]:
    """The buckets of one run (its `Hub` holds them): resolvers (HEAD/GET resolve), api (tree,
    paths-info, preupload, ...) and commits (the Hub's commit quota, an hour long)."""
    w = limits.window_seconds
    return {
        "resolvers": Bucket("resolvers", limits.resolvers_per_window, w, FREE_PLAN["resolvers"]),
        "api": Bucket("api", limits.api_per_window, w, FREE_PLAN["api"]),
        "commits": Bucket("commits", limits.commits_per_hour, 3600.0, limits.commits_per_hour),
    }
