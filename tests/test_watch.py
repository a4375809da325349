"""`hfcheck watch` as a service runs: a child process, a scraper process filling the archive, the
emulator (with its fault storm and counters), the media server, a real webhook receiver and the
Prometheus parser. Nothing is mocked."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from hfcheck.readback.keycheck import RECORD_PATH
from hfcheck.sim.demo import REPO, TOKEN
from hfcheck.sim.emulator.faults import DEFAULT_EXEMPT
from hfcheck.sim.scraper import generate
from tests.helpers import free_port, watch_world

ID1 = 1_000_000_000_000_000_000
# A commit waits 0.5 s for more files, not 2 s: the tests wait for commits, several times each.
QUICK_COMMITS = ("--set", "watch.commit_linger=0.5")


def media_paths(stats: dict[str, Any]) -> dict[str, int]:
    """The emulator's committed paths but the key-check record, which a first start commits once."""
    paths = dict(stats["committed_paths"])
    assert paths.pop(RECORD_PATH, 0) == 1
    return paths


def wait_for(cond: Callable[[], Any], timeout: float, what: str, proc: subprocess.Popen[str] | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := cond():
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"watch exited ({proc.returncode}) while waiting for {what}")
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(60)


@pytest.mark.slow
def test_watch_backs_up_a_growing_archive_through_a_fault_storm_and_a_sigterm(tmp_path: Path) -> None:
    """A scraper process inserts tweets while `watch` runs; a storm of 5xx, resets and a 429
    window (and a media host failing one file) delays but loses nothing; SIGTERM in the middle of
    a slow commit exits 0, and after a restart every tweet is backed up, no path was committed
    twice, and every recorded URL is on the Hub and decrypts to the scraped medium."""
    first, second = 40, 10
    with watch_world(tmp_path / "w") as w:
        ctl = w.hub.control
        args = ("--interval", "1", "--audit-every", "0", "--set", "watch.stop_grace=0.5", *QUICK_COMMITS)
        watch = w.watch(*args)
        # a medium of a later tweet, not on disk: its host fails 6 times (the downloader's retries, then the tweet's);
        # a tweet of the scraper's 3rd to 5th second, so that its ~10 s of retries fall in the storm below
        tweets = list(generate(tweets=first, first_id=ID1, small=True))
        later = [(name, keep) for _, _, media in tweets[12:20] for name, _, keep in media]
        flaky = next(name for name, keep in later if not keep)
        w.media.set_fault(flaky, 503, times=6)
        scraper = w.scraper(first, 4, ID1)  # 10 s of inserts: the storm below falls in them
        wait_for(lambda: w.progress()[0] >= 4, 40, "the first backups", watch)

        faults = lambda: ctl.stats()["faults"]  # noqa: E731
        ctl.set_rate_limits(window_s=2, commits=0)  # the commit quota used up: the next commit waits out a 429
        wait_for(lambda: faults().get("rate_limited", 0) >= 1, 40, "a 429", watch)
        ctl.set_rate_limits(commits=None)
        ctl.set_faults(error_rate=0.15, reset_rate=0.05, exempt=[], seed=3)  # commits and Xet transfers too
        wait_for(lambda: faults().get("5xx", 0) >= 3 and faults().get("reset", 0) >= 1, 40, "5xx and resets", watch)
        ctl.set_faults(error_rate=0, reset_rate=0, exempt=list(DEFAULT_EXEMPT))
        assert scraper.wait(60) == 0
        wait_for(lambda: w.progress() == (first, first), 90, "every tweet of the storm backed up", watch)

        ctl.set_faults(latency_ms=2500, latency_kinds=["commit"])  # slow commits: SIGTERM lands in one
        scraper = w.scraper(second, 20, ID1 + 7 * first, seed=2)
        wait_for(lambda: ctl.stats()["in_flight"].get("commit"), 40, "a commit in flight", watch)
        assert stop(watch) == 0
        ctl.set_faults(latency_ms=0, latency_kinds=[])
        assert scraper.wait(60) == 0
        watch = w.watch(*args)
        wait_for(lambda: w.progress() == (first + second, first + second), 60, "every tweet after the restart", watch)
        assert stop(watch) == 0

        stats = ctl.stats()
        log = (w.root / "watch.log").read_text()
        assert "Traceback" not in log and TOKEN not in log
        assert w.media.count(flaky) >= 7  # failed 6 times, then fetched
        assert "left to the next start" in log  # the SIGTERM found a commit in flight and left it to the landed-check
        twice = {p: n for p, n in stats["committed_paths"].items() if n > 1}
        assert twice == {}
        media = media_paths(stats)  # the first start on an empty archive also left the key-check record
        assert w.check_consistent() == sum(media.values()) == len(media)


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """A webhook/healthchecks receiver (aiohttp, its own thread) recording (path, body)."""
    import asyncio

    got: list[tuple[str, bytes]] = []
    port = free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    async def record(request: web.Request) -> web.Response:
        got.append((request.path, await request.read()))
        return web.Response(text="OK")

    async def start() -> web.AppRunner:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", record)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return runner

    def run() -> None:
        runner = loop.run_until_complete(start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    yield f"http://127.0.0.1:{port}", got
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def _hooks(got: list[tuple[str, bytes]]) -> list[str]:
    return [json.loads(body)["text"] for path, body in got if path == "/hook"]


@pytest.mark.slow
def test_an_audit_inside_watch_that_finds_a_missing_file_posts_the_webhook(
    tmp_path: Path, receiver: tuple[str, list[tuple[str, bytes]]]
) -> None:
    base, got = receiver
    with watch_world(tmp_path / "w", notify={"webhook_url": f"{base}/hook", "ping_url": f"{base}/ping/uuid"}) as w:
        assert w.scraper(6, 0, ID1).wait(60) == 0
        watch = w.watch("--interval", "0.5", "--audit-every", "2s", *QUICK_COMMITS)
        wait_for(lambda: w.progress() == (6, 6), 40, "the backups", watch)
        wait_for(
            lambda: (
                (w.root / "data" / "watch_state.json").is_file()
                and json.loads((w.root / "data" / "watch_state.json").read_text())["last_audit_at"]
            ),
            30,
            "a first audit",
            watch,
        )
        assert not any("problem" in text for text in _hooks(got))  # everything was there
        gone = w.recorded_paths()[0]
        w.hub.store.commit(REPO, deletions=[gone], message="someone deleted a file")
        hook = wait_for(
            lambda: next((text for text in _hooks(got) if "problem" in text), None), 40, "the audit's webhook", watch
        )
        assert stop(watch) == 0
    assert "missing 1" in hook and "repair" in hook
    texts = _hooks(got)
    assert texts[0].startswith("hfcheck watch started") and texts[-1].startswith("hfcheck watch stopped")
    pings = [path for path, _ in got if path.startswith("/ping/")]
    assert pings[0] == "/ping/uuid/start" and "/ping/uuid/fail" in pings and "/ping/uuid" in pings
    assert all(TOKEN.encode() not in body for _, body in got)
    dated = sorted((w.root / "data" / "audits").glob("audit_report-*.json"))
    assert len(dated) >= 2 and json.loads(dated[-1].read_text())["verify"]["counts"]["missing"] == 1


@pytest.mark.slow
def test_the_metrics_endpoint_matches_the_run(tmp_path: Path) -> None:
    port = free_port()
    with watch_world(tmp_path / "w") as w:
        watch = w.watch("--interval", "0.5", "--audit-every", "0", "--metrics-port", str(port), *QUICK_COMMITS)
        assert w.scraper(8, 20, ID1).wait(60) == 0
        wait_for(lambda: w.progress() == (8, 8), 40, "the backups", watch)

        def scrape() -> dict[str, float]:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
                text = resp.read().decode()
            return {
                s.name: s.value for fam in text_string_to_metric_families(text) for s in fam.samples if not s.labels
            }

        stats = w.hub.control.stats()
        # the key-check record went in a commit of its own, before the first file (not the writer's)
        files, commits = len(media_paths(stats)), stats["by_kind"]["commit"].get("200", 0) - 1
        samples = wait_for(
            lambda: (m := scrape())["hfcheck_tweets_backed_up_total"] == 8 and m, 10, "the metrics of the run", watch
        )
        assert stop(watch) == 0
    assert samples["hfcheck_files_uploaded_total"] == files == w.check_consistent()
    assert samples["hfcheck_commits_total"] == commits >= 1
    assert samples["hfcheck_bytes_uploaded_total"] > 0 and samples["hfcheck_tweets_failed_total"] == 0
    assert samples["hfcheck_polls_total"] >= 1 and samples["hfcheck_last_complete_backup_timestamp_seconds"] > 0
    assert samples["hfcheck_unbacked_tweets"] == 0


@pytest.mark.slow
def test_watch_once_backs_up_and_exits_like_backup(tmp_path: Path) -> None:
    with watch_world(tmp_path / "w") as w:
        assert w.scraper(3, 0, ID1).wait(60) == 0
        r = subprocess.run(
            w.watch_cmd("--once", "--audit-every", "0"), env=w.env(), capture_output=True, text=True, timeout=120
        )
        assert r.returncode == 0, r.stdout + r.stderr
        assert w.progress() == (3, 3) and "3 tweets backed up, 0 failed" in r.stdout
        assert w.scraper(1, 0, ID1 + 1000).wait(60) == 0
        for f in [
            *w.root.joinpath("source").glob(f"{ID1 + 1000}_*"),
            *w.root.joinpath("media").rglob(f"{ID1 + 1000}_*"),
        ]:
            f.unlink()  # gone locally and at the source: the tweet cannot be backed up
        r = subprocess.run(
            w.watch_cmd("--once", "--audit-every", "0"), env=w.env(), capture_output=True, text=True, timeout=120
        )
        assert r.returncode == 1 and "0 tweets backed up, 1 failed" in r.stdout, r.stdout + r.stderr
