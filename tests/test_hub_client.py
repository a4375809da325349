"""The pure parts of the one Hub client: the token rule, the retry policy's arithmetic and the
answer mapping; then the retry loop itself against a real aiohttp server."""

from __future__ import annotations

import email.utils
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from hfcheck.config import Config, Limits
from hfcheck.errors import GaveUp, RateLimited, TransientError, Unverifiable
from hfcheck.net.hub import Hub, token_allowed
from hfcheck.net.outcome import HubOutcome, classify
from hfcheck.net.ratelimit import hub_buckets
from hfcheck.net.retry import RetryPolicy, retry_after_seconds

# --- the token rule ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://huggingface.co/datasets/a/b/resolve/main/x",
        "https://HuggingFace.co/api/datasets/a/b",
        "https://huggingface.co:443/x",  # the default port, written out
    ],
)
def test_token_goes_to_the_endpoint_origin(url: str) -> None:
    assert token_allowed(url, "https://huggingface.co")


@pytest.mark.parametrize(
    "url",
    [
        "http://huggingface.co/x",  # a downgrade to plain http
        "https://huggingface.co:8443/x",  # another port on the same host
        "https://cdn-lfs.huggingface.co/x",  # the CDN
        "https://huggingface.co.evil.example/x",
        "https://evil.example/huggingface.co/x",
        "/relative/path",
        "not a url",
    ],
)
def test_token_never_leaves_the_endpoint_origin(url: str) -> None:
    assert not token_allowed(url, "https://huggingface.co")


def test_token_rule_on_a_local_endpoint() -> None:
    endpoint = "http://127.0.0.1:8000"
    assert token_allowed("http://127.0.0.1:8000/datasets/x", endpoint)
    assert not token_allowed("http://127.0.0.1:8001/datasets/x", endpoint)  # another port
    assert not token_allowed("http://localhost:8000/cdn/abc", endpoint)  # another host name
    assert not token_allowed("http://127.0.0.1/datasets/x", endpoint)  # port 80


hosts = st.sampled_from(["huggingface.co", "hf.co", "127.0.0.1", "localhost", "cdn.example"])
ports = st.one_of(st.none(), st.sampled_from([80, 443, 8000, 8001]))
schemes = st.sampled_from(["http", "https"])


def _url(scheme: str, host: str, port: int | None) -> str:
    return f"{scheme}://{host}{'' if port is None else f':{port}'}/p"


def _effective(scheme: str, host: str, port: int | None) -> tuple[str, str, int]:
    return scheme, host, port if port is not None else {"http": 80, "https": 443}[scheme]


@given(schemes, hosts, ports, schemes, hosts, ports)
def test_token_rule_is_exactly_origin_equality(
    s1: str, h1: str, p1: int | None, s2: str, h2: str, p2: int | None
) -> None:
    assert token_allowed(_url(s1, h1, p1), _url(s2, h2, p2)) == (_effective(s1, h1, p1) == _effective(s2, h2, p2))


# --- the retry policy --------------------------------------------------------------------


@given(
    st.integers(min_value=1, max_value=60),
    st.floats(min_value=0.01, max_value=10),
    st.floats(min_value=0.01, max_value=100),
)
def test_backoff_is_full_jitter_up_to_base_times_two_to_the_retries_before(retry: int, base: float, cap: float) -> None:
    p = RetryPolicy(base=base, cap=cap)
    assert 0 <= p.backoff(retry) <= min(cap, base * 2 ** (retry - 1))


def test_the_first_retry_waits_at_most_base() -> None:
    p = RetryPolicy(base=1.0, cap=100.0)
    assert max(p.backoff(1) for _ in range(200)) <= 1.0  # not 2 * base (the old off-by-one)
    assert max(p.backoff(3) for _ in range(200)) > 1.0


@given(st.integers(min_value=0, max_value=10**6))
def test_retry_after_seconds_as_delta(n: int) -> None:
    assert retry_after_seconds({"Retry-After": str(n)}) == n


@given(st.integers(min_value=0, max_value=10**6))
def test_ratelimit_reset_wins_and_adds_one(t: int) -> None:
    assert retry_after_seconds({"RateLimit": f'"api";r=0;t={t}', "Retry-After": "9999"}) == t + 1


@given(st.integers(min_value=-(10**5), max_value=10**5))
def test_retry_after_as_an_http_date(offset: int) -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + offset, usegmt=True)
    assert retry_after_seconds({"Retry-After": date}, now=now) == max(0, offset)


@given(st.text(max_size=20).filter(lambda s: not s.strip().isdigit()))
def test_retry_after_garbage_gives_the_default(text: str) -> None:
    try:
        email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        assert retry_after_seconds({"Retry-After": text}, default=7.0) == 7.0


@given(st.floats(min_value=0, max_value=1e6), st.floats(min_value=0, max_value=1e4))
def test_wait_for_caps(asked: float, cap: float) -> None:
    assert RetryPolicy(max_retry_after=cap).wait_for(asked) == min(asked, cap)
    assert RetryPolicy().wait_for(asked) == asked


async def test_run_counts_transient_failures_not_rate_limits() -> None:
    calls: list[str] = []
    script = [RateLimited(0.0), TransientError("boom"), RateLimited(0.0), TransientError("boom"), "ok"]

    async def attempt() -> str:
        step = script[len(calls)]
        calls.append(type(step).__name__)
        if isinstance(step, Exception):
            raise step
        return step

    assert await RetryPolicy(attempts=3, base=0.001).run(attempt) == "ok"  # 2 failures < 3 attempts
    calls.clear()
    with pytest.raises(GaveUp, match="boom after 2 attempts"):
        await RetryPolicy(attempts=2, base=0.001).run(attempt)


async def test_recover_runs_before_each_retry_and_what_it_finds_is_the_result() -> None:
    """A write whose answer was lost: the recovery step looks first; a find ends the loop
    without a retry, nothing found backs off and tries again."""
    tries: list[int] = []
    looked: list[str] = []
    retries: list[int] = []

    async def attempt() -> str:
        tries.append(1)
        raise TransientError("answer lost")

    async def recover(exc: TransientError) -> str | None:
        looked.append(str(exc))
        return "landed" if len(looked) == 2 else None

    policy = RetryPolicy(attempts=5, base=0.001)
    assert await policy.run(attempt, recover=recover, on_retry=lambda: retries.append(1)) == "landed"
    assert (len(tries), looked, len(retries)) == (2, ["answer lost"] * 2, 1)


async def test_run_gives_up_after_the_total_rate_limit_wait() -> None:
    async def attempt() -> None:
        raise RateLimited(0.01)

    with pytest.raises(GaveUp, match="rate limited"):
        await RetryPolicy(max_rate_limit_wait=0.05).run(attempt)


# --- the answer mapping ------------------------------------------------------------------


@pytest.mark.parametrize(
    "status,code,token,expected",
    [
        (200, None, True, HubOutcome.OK),
        (302, None, True, HubOutcome.OK),
        (429, None, True, HubOutcome.RATE_LIMITED),
        (503, None, True, HubOutcome.TRANSIENT),
        (408, None, True, HubOutcome.TRANSIENT),
        (404, "EntryNotFound", True, HubOutcome.MISSING),
        (404, "RepoNotFound", True, HubOutcome.REPO_NOT_FOUND),
        (401, "RepoNotFound", False, HubOutcome.NO_ACCESS),
        (404, "RevisionNotFound", True, HubOutcome.REVISION_NOT_FOUND),
        (403, "GatedRepo", True, HubOutcome.NO_ACCESS),
        (401, None, True, HubOutcome.NO_ACCESS),
        (400, None, True, HubOutcome.FATAL),
        (404, None, True, HubOutcome.FATAL),
    ],
)
def test_one_mapping(status: int, code: str | None, token: bool, expected: HubOutcome) -> None:
    assert classify(status, code, {"RateLimit": '"api";r=0;t=4'}, has_token=token).outcome is expected


def test_huggingface_hub_errors_map_the_same_way() -> None:
    import httpx
    from huggingface_hub.errors import HfHubHTTPError, RemoteEntryNotFoundError, RepositoryNotFoundError

    from hfcheck.net.outcome import classify_exception

    def err(cls: type[HfHubHTTPError], status: int, headers: dict[str, str]) -> HfHubHTTPError:
        response = httpx.Response(status, headers=headers, request=httpx.Request("GET", "http://x/"))
        return cls("message", response=response)

    assert (
        classify_exception(err(RepositoryNotFoundError, 404, {"X-Error-Code": "RepoNotFound"}), has_token=True).outcome
        is HubOutcome.REPO_NOT_FOUND
    )
    assert (
        classify_exception(
            err(RemoteEntryNotFoundError, 404, {"X-Error-Code": "EntryNotFound"}), has_token=True
        ).outcome
        is HubOutcome.MISSING
    )
    limited = classify_exception(err(HfHubHTTPError, 429, {"Retry-After": "12"}), has_token=True)
    assert (limited.outcome, limited.retry_after) == (HubOutcome.RATE_LIMITED, 12.0)
    assert classify_exception(ConnectionResetError(), has_token=True).outcome is HubOutcome.TRANSIENT
    assert classify_exception(ValueError("bad file"), has_token=True).outcome is HubOutcome.FATAL


# --- the client's loop against a real server ---------------------------------------------


@pytest.fixture
async def flaky() -> AsyncIterator[tuple[str, list[str]]]:
    """A server answering 503, then 429 (Retry-After 0), then 200; it logs statuses sent."""
    sent: list[str] = []
    script = [503, 429, 200]

    async def handler(request: web.Request) -> web.Response:
        status = script[min(len(sent), len(script) - 1)]
        sent.append(str(status))
        return web.Response(status=status, headers={"Retry-After": "0"} if status == 429 else {})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # aiohttp keeps the bound socket here
    try:
        yield f"http://127.0.0.1:{port}", sent
    finally:
        await runner.cleanup()


async def test_client_retries_a_5xx_and_waits_out_a_429(flaky: tuple[str, list[str]]) -> None:
    url, sent = flaky
    cfg = Config(endpoint=url)
    async with Hub(cfg, policy=RetryPolicy(base=0.001), buckets=hub_buckets(Limits())) as client:
        answer, _ = await client.request("GET", f"{url}/api/x", "api")
    assert answer.status == 200 and sent == ["503", "429", "200"]
    assert (client.retries, client.rate_limited) == (1, 1)


async def test_client_gives_up_as_unverifiable(flaky: tuple[str, list[str]]) -> None:
    url, sent = flaky
    async with Hub(Config(endpoint=url), policy=RetryPolicy(attempts=1), buckets=hub_buckets(Limits())) as client:
        with pytest.raises(Unverifiable, match="HTTP 503 after 1 attempts"):
            await client.request("GET", f"{url}/api/x", "api")
    assert sent == ["503"]
