"""The watch service's alert and metrics parts, against real aiohttp servers and the Prometheus parser."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from hfcheck.watch.metrics import Metrics, serve_metrics
from hfcheck.watch.notify import Notifier, Ping, redact
from tests.helpers import free_port

TOKEN = "hf_secretTOKENvalue123"


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[str, bytes]]]]:
    """A webhook/healthchecks receiver that records (path, body) and answers 200."""
    got: list[tuple[str, bytes]] = []

    async def record(request: web.Request) -> web.Response:
        got.append((request.path, await request.read()))
        return web.Response(text="OK")

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}", got
    await runner.cleanup()


async def test_webhook_and_pings_reach_the_receiver_without_secrets(
    receiver: tuple[str, list[tuple[str, bytes]]],
) -> None:
    base, got = receiver
    async with aiohttp.ClientSession() as session:
        n = Notifier(session, webhook_url=f"{base}/hook", ping_url=f"{base}/ping/abc", secrets=[TOKEN])
        assert await n.message(f"audit found 1 missing file; token was {TOKEN}")
        assert await n.ping(Ping.START)
        assert await n.ping(Ping.FAIL, body=f"log line with {TOKEN}")
        assert await n.ping(Ping.SUCCESS)
    paths = [p for p, _ in got]
    assert paths == ["/hook", "/ping/abc/start", "/ping/abc/fail", "/ping/abc"]
    hook = json.loads(got[0][1])
    assert hook["text"] == hook["content"] == "audit found 1 missing file; token was ***"
    assert all(TOKEN.encode() not in body for _, body in got)
    assert (n.sent, n.failed) == (4, 0)


async def test_an_unreachable_receiver_is_counted_not_raised() -> None:
    async with aiohttp.ClientSession() as session:
        n = Notifier(session, webhook_url=f"http://127.0.0.1:{free_port()}/hook", ping_url=None)
        assert not await n.message("x")
        assert not await n.ping(Ping.START)  # channel off: nothing sent, nothing failed
    assert (n.sent, n.failed) == (0, 1)


@given(st.text(), st.text(min_size=1).filter(lambda s: "*" not in s))
def test_redact_leaves_no_secret(text: str, secret: str) -> None:
    assert secret not in redact(text + secret + text, [secret])


async def test_metrics_page_parses_with_prometheus_parser() -> None:
    m = Metrics()
    m.urls_checked.inc(120)
    m.files_uploaded.inc(7)
    m.bytes_uploaded.inc(7 * 1024)
    m.commits.inc(2)
    m.problems.labels("missing").set(3)
    m.last_backup.set(1_700_000_000)
    port = free_port()
    runner = await serve_metrics(m, "127.0.0.1", port)
    try:
        async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/metrics") as resp:
            assert resp.status == 200
            text = await resp.text()
    finally:
        await runner.cleanup()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }
    assert samples[("hfcheck_urls_checked_total", ())] == 120
    assert samples[("hfcheck_files_uploaded_total", ())] == 7
    assert samples[("hfcheck_bytes_uploaded_total", ())] == 7 * 1024
    assert samples[("hfcheck_commits_total", ())] == 2
    assert samples[("hfcheck_problems", (("category", "missing"),))] == 3
    assert samples[("hfcheck_last_complete_backup_timestamp_seconds", ())] == 1_700_000_000
