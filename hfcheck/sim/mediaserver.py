"""A small media server standing in for pbs.twimg.com / video.twimg.com in tests, benchmarks
and the demo: it serves files from a directory and misbehaves on request.

    GET /media/{name}          the file `root/name` (`/media/ID?format=jpg` also finds ID.jpg)
    POST /_control/faults      {"path": ..., "kind": ..., "times": ..., ...}: set a fault
    DELETE /_control/faults    clear every fault
    GET /_control/stats        {"total": N, "paths": {path: N}}: requests seen (control excluded)

Faults (per request path; `times` = how many requests misbehave, None = all):
    404, 410, 500, any status     that status (`kind=500` or `kind="status", status=503`)
    429                           with `Retry-After: retry_after` when given
    "truncate"                    Content-Length of the whole file, half the body, then close
    "html"                        200 with an HTML error page
    "redirect"                    302 to `location` (e.g. a disallowed host)
    "latency"                     sleep `delay` seconds, then answer normally

Requests are counted before any fault, so a test can prove a host was never contacted.
`start_media_server(root)` runs one in a background thread (its own event loop), as a fixture.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from hfcheck.errors import UnsafePath
from hfcheck.model.paths import check_component

KINDS = frozenset({"status", "truncate", "html", "redirect", "latency"})
CONTROL = "/_control"
HTML_PAGE = b"<!DOCTYPE html><html><body><h1>Something went wrong</h1></body></html>"


@dataclass
class Fault:
    """One misbehaviour on one path. `times` counts down; None never runs out."""

    kind: str
    times: int | None = None
    status: int = 500
    retry_after: float | None = None
    location: str | None = None
    delay: float = 0.0


def make_fault(kind: int | str, **opts: Any) -> Fault:
    """`make_fault(404)`, `make_fault(429, retry_after=1, times=2)`, `make_fault("html")`."""
    if isinstance(kind, int) or (isinstance(kind, str) and kind.isdigit()):
        return Fault("status", status=int(kind), **opts)
    if kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r}")
    if kind == "redirect" and not opts.get("location"):
        raise ValueError("a redirect fault needs a location")
    return Fault(kind, **opts)


def _norm_path(path: str) -> str:
    return path if path.startswith("/") else f"/media/{path}"


class MediaServer:
    """The aiohttp app, runnable in the current loop (`await start()`) or via the thread helper."""

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.root = Path(root)
        self.host = host
        self.port = port
        self._faults: dict[str, Fault] = {}
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()  # faults are set from the test thread
        self._runner: web.AppRunner | None = None

    # state ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host_port}"

    @property
    def host_port(self) -> str:
        return f"{self.host}:{self.port}"

    def set_fault(self, path: str, kind: int | str, **opts: Any) -> None:
        """Make requests to `path` (a name under /media/, or an absolute path) misbehave."""
        fault = make_fault(kind, **opts)
        with self._lock:
            self._faults[_norm_path(path)] = fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def count(self, path: str | None = None) -> int:
        """Requests seen in total, or for one path (name under /media/ or absolute path)."""
        with self._lock:
            if path is None:
                return sum(self._counts.values())
            return self._counts.get(_norm_path(path), 0)

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            self._counts[path] = self._counts.get(path, 0) + 1
            fault = self._faults.get(path)
            if fault is None:
                return None
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    del self._faults[path]
            return fault

    # app --------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(f"{CONTROL}/faults", self._control_set)
        app.router.add_delete(f"{CONTROL}/faults", self._control_clear)
        app.router.add_get(f"{CONTROL}/stats", self._control_stats)
        app.router.add_route("*", "/{tail:.*}", self._serve)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = bound_port(site)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _control_set(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            self.set_fault(body.pop("path"), body.pop("kind"), **body)
        except (KeyError, TypeError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"ok": True})

    async def _control_clear(self, request: web.Request) -> web.Response:
        self.clear_faults()
        return web.json_response({"ok": True})

    async def _control_stats(self, request: web.Request) -> web.Response:
        with self._lock:
            counts = dict(self._counts)
            faults = {p: asdict(f) for p, f in self._faults.items()}
        return web.json_response({"total": sum(counts.values()), "paths": counts, "faults": faults})

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        fault = self._take_fault(request.path)
        if fault is not None and fault.kind == "latency":
            await asyncio.sleep(fault.delay)
            fault = None
        if fault is not None and fault.kind == "status":
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            return web.Response(status=fault.status, text=f"HTTP {fault.status}\n", headers=headers)
        if fault is not None and fault.kind == "html":
            return web.Response(body=HTML_PAGE, content_type="text/html")
        if fault is not None and fault.kind == "redirect":
            raise web.HTTPFound(location=str(fault.location))
        path = self._file_for(request)
        if path is None:
            return web.Response(status=404, text="not found\n")
        if fault is not None and fault.kind == "truncate":
            return await self._truncated(request, path)
        return web.FileResponse(path)

    def _file_for(self, request: web.Request) -> Path | None:
        """`/media/NAME`, or `/media/ID?format=EXT` for ID.EXT (pbs.twimg.com's photo form)."""
        if request.method not in ("GET", "HEAD") or not request.path.startswith("/media/"):
            return None
        name = request.path.removeprefix("/media/")
        fmt = request.query.get("format")
        for candidate in (name, f"{name}.{fmt}" if fmt else None):
            if not candidate:
                continue
            try:
                check_component(candidate, "file name")
            except UnsafePath:
                return None
            path = self.root / candidate
            if path.is_file():
                return path
        return None

    @staticmethod
    async def _truncated(request: web.Request, path: Path) -> web.StreamResponse:
        """Promise the whole file, send half of it, then drop the connection."""
        data = path.read_bytes()
        resp = web.StreamResponse()
        resp.content_length = len(data)
        resp.content_type = "application/octet-stream"
        await resp.prepare(request)
        await resp.write(data[: len(data) // 2])
        if request.transport is not None:
            request.transport.close()
        return resp


class MediaServerHandle:
    """A MediaServer running in a daemon thread; `with start_media_server(root) as srv:`."""

    def __init__(self, server: MediaServer) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="media-server", daemon=True)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def host_port(self) -> str:
        return self.server.host_port

    def set_fault(self, path: str, kind: int | str, **opts: Any) -> None:
        self.server.set_fault(path, kind, **opts)

    def clear_faults(self) -> None:
        self.server.clear_faults()

    def count(self, path: str | None = None) -> int:
        return self.server.count(path)

    def media_url(self, name: str) -> str:
        return f"{self.url}/media/{name}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.server.start())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self.server.stop())
        self._loop.close()

    def start(self) -> MediaServerHandle:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> MediaServerHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def start_media_server(root: Path, host: str = "127.0.0.1", port: int = 0) -> MediaServerHandle:
    """Start a media server for `root` in a background thread; stop it with `.stop()`."""
    return MediaServerHandle(MediaServer(root, host, port)).start()


def bound_port(site: web.TCPSite) -> int:
    """The port the OS gave a site started on port 0 (aiohttp keeps its server private)."""
    server = getattr(site, "_server", None)
    sockets = getattr(server, "sockets", None)
    assert sockets, "the site is not listening"
    return int(sockets[0].getsockname()[1])
