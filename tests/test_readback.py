"""The read-back walk and the one Hub client end to end.

- restore and deep under the emulator's rate-limit window pace from the `RateLimit` headers:
  no 429 storm (at most one 429 per window's worth of requests), the same results as without;
- the token reaches the endpoint's origin only — not another port on the same host, not a
  redirect to another host — for verify, restore, deep and backup (whose media downloads
  never carry it either). A recording server stands on another port: the emulator's LFS
  redirects point to it, it redirects again to another host name, and it serves the demo's
  media; it logs the Authorization header of every request it gets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from hfcheck.net.hub import Hub
from hfcheck.readback.deep import deep_check
from hfcheck.readback.restore import Selection, run_restore
from hfcheck.readback.sample import Sample
from hfcheck.sim.demo import REPO, build_demo
from hfcheck.sim.emulator.testing import EmulatorThread
from hfcheck.sim.mediaserver import start_media_server
from hfcheck.verify.pipeline import VerifyOptions, run_verify
from hfcheck.write.backup import BackupOptions, run_backup
from tests.helpers import DemoWorld, free_port, with_hub

QUOTA = 12  # resolve requests per window
WINDOW_S = 1


@dataclass
class Seen:
    host: str
    path: str
    authorization: str | None


@dataclass
class Recorder:
    """Another origin (127.0.0.1:PORT, and localhost:PORT): logs every request's Authorization;
    `/cdn/...` on 127.0.0.1 redirects to localhost, on localhost it serves the emulator's CDN;
    `/media/...` serves the media server's files."""

    port: int = field(default_factory=free_port)
    hub: str = ""
    media: str = ""
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(Seen(request.host, request.path, request.headers.get("Authorization")))
        if request.path.startswith("/cdn/") and request.host.startswith("127.0.0.1"):
            raise web.HTTPTemporaryRedirect(f"http://localhost:{self.port}{request.path_qs}")
        upstream = self.hub if request.path.startswith("/cdn/") else self.media
        headers = {k: v for k, v in request.headers.items() if k in ("Range",)}
        async with aiohttp.ClientSession() as s, s.get(upstream + request.path_qs, headers=headers) as r:
            body = await r.read()
            keep = ("ETag", "Content-Range", "Content-Type", "Accept-Ranges")
            return web.Response(status=r.status, body=body, headers={k: r.headers[k] for k in keep if k in r.headers})

    def _run(self) -> None:
        async def main() -> None:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self.port).start()
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            self._ready.set()
            await self._stop.wait()
            await runner.cleanup()

        asyncio.run(main())

    def start(self) -> Recorder:
        threading.Thread(target=self._run, daemon=True).start()
        assert self._ready.wait(10)
        return self

    def stop(self) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)

    def hosts(self) -> set[str]:
        return {s.host for s in self.seen}

    def tokens(self) -> list[Seen]:
        return [s for s in self.seen if s.authorization]


@contextlib.contextmanager
def recorded_world(root: Path, tweets: int = 30) -> Iterator[tuple[DemoWorld, Recorder]]:
    """A demo archive whose LFS redirects and media URLs lead to the recorder; the repo is
    private, so a restore that works proves the token did reach the endpoint."""
    recorder = Recorder().start()
    port, media_port = free_port(), free_port()
    build_demo(root, tweets=tweets, seed=7, media_port=recorder.port, endpoint=f"http://127.0.0.1:{port}")
    hub = EmulatorThread(root / "hub", port=port, cdn_host=f"127.0.0.1:{recorder.port}").start()
    media = start_media_server(root / "source", port=media_port)
    recorder.hub, recorder.media = hub.url, f"http://127.0.0.1:{media_port}"
    hub.control.set_repo(REPO, private=True)
    planted = json.loads((root / "planted.json").read_text())
    try:
        yield DemoWorld(root, hub, planted, media), recorder
    finally:
        media.stop()
        hub.stop()
        recorder.stop()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoWorld, Recorder]]:
    with recorded_world(tmp_path_factory.mktemp("readback")) as w:
        yield w


def files_under(root: Path) -> dict[Path, bytes]:
    return {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def resolve_requests(stats: dict) -> int:
    return sum(sum(v.values()) for k, v in stats["by_kind"].items() if k.startswith("resolve"))


@pytest.mark.slow
async def test_restore_and_deep_pace_from_the_headers(recorded: tuple[DemoWorld, Recorder], tmp_path: Path) -> None:
    world, _ = recorded
    cfg = world.config(data_dir=tmp_path / "d")
    free_restore = await run_restore(cfg, Selection(everything=True), tmp_path / "free", concurrency=8)
    free_deep = await with_hub(deep_check, cfg, Sample.parse("all"), concurrency=8)

    world.hub.control.set_rate_limits(window_s=WINDOW_S, resolvers=QUOTA)
    world.hub.control.reset_stats()
    try:
        limited_restore = await run_restore(cfg, Selection(everything=True), tmp_path / "limited", concurrency=8)
        limited_deep = await with_hub(deep_check, cfg, Sample.parse("all"), concurrency=8)
        stats = world.hub.control.stats()
    finally:
        world.hub.control.set_rate_limits(resolvers=None)

    assert limited_restore.counts == free_restore.counts and limited_restore.counts["restored"] > 0
    assert files_under(tmp_path / "limited") == files_under(tmp_path / "free")
    assert limited_deep.counts == free_deep.counts and limited_deep.counts["deep_ok"] > 0
    sent = resolve_requests(stats)
    windows_needed = -(-sent // QUOTA)
    assert windows_needed >= 4, sent  # the window was really in the way, several times over
    rate_limited = stats["statuses"].get("429", 0)
    assert rate_limited <= windows_needed, stats["statuses"]  # no storm: at most one a window


async def test_restore_and_deep_send_the_token_to_the_endpoint_only(
    recorded: tuple[DemoWorld, Recorder], tmp_path: Path
) -> None:
    world, recorder = recorded
    recorder.seen.clear()
    cfg = world.config(data_dir=tmp_path / "d")
    restored = await run_restore(cfg, Selection(everything=True), tmp_path / "out")
    assert restored.counts["restored"] == world.planted["counts"]["present"]  # a private repo: the token got there
    deep = await with_hub(deep_check, cfg, Sample.parse("all"))
    assert deep.counts["deep_ok"] > 0 and deep.counts["unverified"] == deep.counts["decrypt_failed"] == 0
    assert recorder.hosts() == {f"127.0.0.1:{recorder.port}", f"localhost:{recorder.port}"}  # both hops were taken
    assert recorder.tokens() == []


async def test_verify_sends_the_token_to_the_endpoint_only(
    recorded: tuple[DemoWorld, Recorder], tmp_path: Path
) -> None:
    """Recorded URLs on another port and another host name, then the client verify uses
    asked directly for URLs of those origins: never a token."""
    world, recorder = recorded
    recorder.seen.clear()
    db = tmp_path / "archive.db"
    shutil.copy(world.root / "archive.db", db)
    port = world.hub.url.rsplit(":", 1)[1]
    foreign = [
        f"http://127.0.0.1:{recorder.port}/datasets/{REPO}/resolve/main/encrypted_images/alice/x",
        f"http://localhost:{port}/datasets/{REPO}/resolve/main/encrypted_images/alice/y",
    ]
    con = sqlite3.connect(db)
    with con:
        con.execute(
            "INSERT INTO tweets (id, username, media_urls, huggingface_urls) VALUES ('99', 'alice', ?, ?)",
            (json.dumps(["a", "b"]), json.dumps(foreign)),
        )
    con.close()
    cfg = world.config(data_dir=tmp_path / "d", db=db)
    for method in ("head", "list"):
        result = await with_hub(run_verify, cfg, VerifyOptions(method=method))
        assert result.progress.counts["present"] > 0  # a private repo: the token reached the endpoint
        assert {f.url for f in result.progress.problems if f.category.value == "malformed"} >= set(foreign)
    async with Hub(cfg) as client:
        for url in (f"http://127.0.0.1:{recorder.port}/api/x", f"http://localhost:{recorder.port}/api/x"):
            await client.request("GET", url, "api")
    assert len(recorder.seen) == 2 and recorder.tokens() == []


async def test_backup_sends_the_token_to_the_endpoint_only(tmp_path: Path) -> None:
    with recorded_world(tmp_path / "w") as (world, recorder):
        summary = await run_backup(world.config(), BackupOptions(echo=lambda _: None))
        assert (
            summary.files_succeeded > 0 and summary.files_failed == 0
        )  # written to a private repo: the token got there
        media = [s for s in recorder.seen if s.path.startswith("/media/")]
        assert media, "the backup downloaded nothing through the recorder"
        assert recorder.tokens() == []
