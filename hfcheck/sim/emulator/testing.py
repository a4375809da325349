"""Start and stop the emulator for tests, benchmarks and the demo.

`EmulatorThread` runs the app in a background thread with its own event loop (fast; for
in-process tests that drive the synchronous official client). `EmulatorProcess` runs
`python -m hfcheck hub serve --port 0` as a child process (for tests that kill servers).
Both expose `.url`, `.store` and `.control` (a small stdlib HTTP client for `/_emulator/`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

from aiohttp import web

from hfcheck.sim.emulator.faults import FaultConfig
from hfcheck.sim.emulator.server import ServerOptions, start_server
from hfcheck.sim.emulator.store import Store


class ControlError(RuntimeError):
    """The control endpoint refused a request (message from its JSON `error`)."""


class Control:
    """JSON client of `/_emulator/`; every method returns the endpoint's JSON answer."""

    def __init__(self, url: str, timeout: float = 30) -> None:
        self.base = url.rstrip("/") + "/_emulator/"
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise ControlError(json.loads(exc.read() or b"{}").get("error", str(exc))) from None

    def health(self) -> dict:
        return self._call("GET", "health")

    def set_faults(self, **changes: Any) -> dict:
        """latency_ms, jitter_ms, error_rate, reset_rate, exempt (list of kinds), seed,
        lose_commit_answers (the next N commits land, then their answer is lost)."""
        return self._call("POST", "faults", changes)

    def faults(self) -> dict:
        return self._call("GET", "faults")

    def clear_faults(self) -> dict:
        return self.set_faults(latency_ms=0, jitter_ms=0, error_rate=0, reset_rate=0)

    def set_rate_limits(self, *, window_s: float | None = None, **quotas: int | None) -> dict:
        """Quotas per bucket (api=, resolvers=, commits=; None = unlimited); resets windows."""
        body: dict[str, Any] = {"quotas": quotas}
        if window_s is not None:
            body["window_s"] = window_s
        return self._call("POST", "ratelimits", body)

    def rate_limits(self) -> dict:
        return self._call("GET", "ratelimits")

    def reset_rate_limits(self) -> dict:
        return self._call("POST", "ratelimits/reset", {})

    def add_user(self, name: str, token: str) -> dict:
        return self._call("POST", "users", {"name": name, "token": token})

    def set_repo(self, repo_id: str, **settings: Any) -> dict:
        """private=, gated= (False/"auto"/"manual"), owner= (on creation); creates if missing."""
        return self._call("POST", f"repos/{repo_id}", settings)

    def repo(self, repo_id: str) -> dict:
        return self._call("GET", f"repos/{repo_id}")

    def stats(self) -> dict:
        return self._call("GET", "stats")

    def reset_stats(self) -> dict:
        return self._call("POST", "stats/reset", {})


def make_options(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    users: dict[str, str] | None = None,
    admin_token: str | None = None,
    cdn_host: str | None = None,
    window_s: float = 300,
    quotas: dict[str, int | None] | None = None,
    xet: bool = True,
    **fault_settings: Any,
) -> ServerOptions:
    """ServerOptions from keyword arguments; fault settings as in FaultConfig; `xet=False`
    serves the LFS-only Hub (no Xet tokens, CAS or bridge)."""
    return ServerOptions(
        host=host,
        port=port,
        users=dict(users or {}),
        admin_token=admin_token,
        cdn_host=cdn_host,
        faults=FaultConfig(**fault_settings),
        window_s=window_s,
        quotas=dict(quotas or {}),
        xet=xet,
    )


class EmulatorThread:
    """The emulator in a daemon thread with its own event loop."""

    def __init__(self, data_dir: str | os.PathLike[str], **options: Any) -> None:
        self.data_dir = Path(data_dir)
        self.options = make_options(**options)
        self.store = Store(self.data_dir)
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def control(self) -> Control:
        return Control(self.url)

    def start(self) -> "EmulatorThread":
        self._thread = threading.Thread(target=self._run, name="hub-emulator", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        if not self.url:
            raise RuntimeError("emulator did not start within 30 s")
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self._runner, self.url = loop.run_until_complete(start_server(self.store, self.options))
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup())
        self.store.close()
        loop.close()

    def stop(self) -> None:
        """Close the listener and join the thread (idempotent)."""
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)
        self._thread = None

    def __enter__(self) -> "EmulatorThread":
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


@contextlib.contextmanager
def start_emulator(data_dir: str | os.PathLike[str], **options: Any) -> Iterator[EmulatorThread]:
    """`with start_emulator(tmp_path, users={"alice": "tok"}) as emu: HfApi(endpoint=emu.url)`."""
    emu = EmulatorThread(data_dir, **options).start()
    try:
        yield emu
    finally:
        emu.stop()


class EmulatorProcess:
    """`python -m hfcheck hub serve --port 0 --data DIR [args]` as a child process."""

    def __init__(self, data_dir: str | os.PathLike[str], *args: str, python: str = sys.executable) -> None:
        self.data_dir = Path(data_dir)
        self.args = list(args)
        self.python = python
        self.url = ""
        self.proc: subprocess.Popen[str] | None = None

    @property
    def control(self) -> Control:
        return Control(self.url)

    @property
    def store(self) -> Store:
        """A store on the same directory (SQLite WAL: safe next to the server process)."""
        return Store(self.data_dir)

    def start(self, timeout: float = 30) -> "EmulatorProcess":
        cmd = [
            self.python,
            "-m",
            "hfcheck",
            "hub",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--data",
            str(self.data_dir),
            *self.args,
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = _readline(self.proc, timeout)
        if not line.startswith("http"):
            err = self.proc.stderr.read() if self.proc.poll() is not None and self.proc.stderr else ""
            self.stop()
            raise RuntimeError(f"emulator did not start: {line.strip() or err.strip()}")
        self.url = line.strip()
        return self

    def stop(self, timeout: float = 10) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL: no cleanup (for crash tests)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> "EmulatorProcess":
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def _readline(proc: subprocess.Popen[str], timeout: float) -> str:
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(proc.stdout.readline() if proc.stdout else ""), daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0] if result else ""
