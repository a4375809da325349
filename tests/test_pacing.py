"""Pacing, retries and the watermark ledger: the policy pieces of verify, tested alone."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from hfcheck.config import Limits
from hfcheck.net.ratelimit import Bucket, hub_buckets
from hfcheck.net.retry import RetryPolicy, retry_after_seconds
from hfcheck.verify.findings import Category, Finding
from hfcheck.verify.ledger import Ledger


def test_bucket_stops_until_reset_when_nothing_remains() -> None:
    b = Bucket("resolvers", None, 300, 5000)
    b.observe({"RateLimit": '"resolvers";r=0;t=42'})
    assert b._paused_until - time.monotonic() > 40


def test_bucket_spreads_the_rest_of_the_window_when_low() -> None:
    b = Bucket("api", None, 300, 1000, low_water=64)
    b.observe({"RateLimit": '"api";r=10;t=100'})
    assert b._interval == 10.0
    b.observe({"RateLimit": '"api";r=900;t=100'})
    assert b._interval == 0.0


def test_bucket_adopts_a_larger_quota_unless_configured() -> None:
    free = Bucket("api", None, 300, 1000)
    free.observe({"RateLimit-Policy": '"fixed window";"api";q=2500;w=300'})
    assert free.quota == 2500
    capped = Bucket("api", 1000, 300, 1000)
    capped.observe({"RateLimit-Policy": '"fixed window";"api";q=2500;w=300'})
    assert capped.quota == 1000
    assert hub_buckets(Limits(api_per_window=7))["api"].quota == 7


def test_retry_after() -> None:
    assert retry_after_seconds({"RateLimit": '"api";r=0;t=17'}) == 18.0  # t+1, as the official client
    assert retry_after_seconds({"Retry-After": "5"}) == 5.0
    assert retry_after_seconds({}) == 1.0
    p = RetryPolicy(base=1, cap=4)
    assert all(0 <= p.backoff(n) <= 4 for n in range(10))


@given(st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=30), st.randoms())
def test_ledger_settles_rows_in_key_order_exactly_once(urls_per_row: list[int], rnd) -> None:
    settled: list[int] = []
    ledger = Ledger(lambda e: settled.append(e.key))
    work = []
    for key, n in enumerate(urls_per_row):
        seq = ledger.open(key, n)
        work += [seq] * n
    rnd.shuffle(work)
    for i, seq in enumerate(work):
        ledger.add(seq, Finding(Category.PRESENT, str(seq), f"u{i}"))
        assert settled == sorted(settled)
        # the watermark never passes a row with URLs still pending
        pending = {s for s in work[i + 1 :]}
        assert not pending or max(settled, default=-1) < min(pending)
    assert settled == list(range(len(urls_per_row)))
    assert len(ledger) == 0
