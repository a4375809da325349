"""`hfcheck watch`: how long a new tweet waits for its backup, and whether memory stays flat.

1. Latency. A scraper process (`hfcheck.sim.scraper`) inserts `--tweets` tweets (1-3 small
   media each, served by the media server) at `--rate` a second while `watch --interval 5`
   runs against the emulator in its own process (20 ms per request). A thread of this process
   reads the database every 0.25 s: a tweet's latency is from its insert (the scraper logs the
   time) to the first read that shows every medium's backup URL (the commit landed and the row
   was written). Baseline in the same run: what a user scripts without `watch`, `hfcheck backup`
   started again every `--interval` seconds (each run starts a process, lists the repo and
   drains its own committer), on a fresh archive with the same tweets.
2. Memory over a long run at speed: `watch --interval 0.1` while `--long-tweets` tweets are
   inserted at `--long-rate`/s (hundreds of polls, every one finding a few rows); the service's
   RSS (VmRSS of its process) is printed at the start, middle and end, and its VmHWM at the end.

    python -m bench watch                                       # 1,000 tweets at 10/s; 1,500 at 15/s
    HFCHECK_BENCH_ARGS="--quick" python -m bench watch           # 100 tweets; 300 for memory
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import ROOT, HubCount, bench_argv, mib, table

LATENCY_MS = 20.0
FIRST = 1_000_000_000_000_000_000
RAISED = {"limits.commits_per_hour": 100_000}


def child_env(hub_url: str) -> dict[str, str]:
    from hfcheck.sim.demo import TOKEN

    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_ENDPOINT")}
    env.update(
        HF_ENDPOINT=hub_url,
        HF_TOKEN=TOKEN,
        HF_HUB_DISABLE_TELEMETRY="1",
        LANG="C.UTF-8",
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    return env


class World:
    """An empty archive + key + config under `root`, for the hub at `hub_url` and the media server."""

    def __init__(self, root: Path, hub_url: str, media_host: str) -> None:
        from hfcheck.crypto import generate_key_file
        from hfcheck.sim.demo import REPO
        from hfcheck.sim.scraper import create_archive

        self.root = root
        root.mkdir(parents=True)
        generate_key_file(root / "archive.key")
        create_archive(root / "archive.db")
        self.config = root / "hfcheck.toml"
        self.config.write_text(
            f'[archive]\ndb = "{root / "archive.db"}"\nmedia_root = "{root / "media"}"\n[hub]\nrepos = ["{REPO}"]\n'
            f'[crypto]\nkey_file = "{root / "archive.key"}"\n[run]\ndata_dir = "{root / "data"}"\n'
            f'[download]\nallowed_hosts = ["{media_host}"]\n'
            f"[limits]\ncommits_per_hour = {RAISED['limits.commits_per_hour']}\n"
            f"downloads_per_second_per_host = 1000\n",
            encoding="utf-8",
        )

    def done_ids(self) -> set[str]:
        con = sqlite3.connect(self.root / "archive.db", timeout=30)
        try:
            return {
                r[0]
                for r in con.execute(
                    "SELECT id FROM tweets WHERE json_array_length(coalesce(huggingface_urls, '[]'))"
                    " = json_array_length(media_urls)"
                )
            }
        finally:
            con.close()


def scraper(
    world: World, source: Path, media_url: str, tweets: int, rate: float, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "hfcheck.sim.scraper",
        str(world.root / "archive.db"),
        str(source),
        media_url + "/media",
        "--tweets",
        str(tweets),
        "--rate",
        str(rate),
        "--first-id",
        str(FIRST),
        "--log",
        str(log),
        "--small",
    ]
    return subprocess.Popen(cmd, env=env)


def watch_until(
    world: World,
    expected: int,
    args: list[str],
    env: dict[str, str],
    timeout: float,
    on_tick: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> dict[str, float]:
    """Run `watch ARGS` until `expected` tweets are backed up; {tweet id: time first seen done}."""
    seen: dict[str, float] = {}
    with open(world.root / "watch.log", "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hfcheck", "watch", "--config", str(world.config), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        try:
            while len(seen) < expected and time.monotonic() < deadline and proc.poll() is None:
                now = time.time()
                for tid in world.done_ids() - seen.keys():
                    seen[tid] = now
                if on_tick:
                    on_tick(proc)
                time.sleep(0.25)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(120)
    return seen


def backup_loop_until(
    world: World, expected: int, interval: float, env: dict[str, str], timeout: float
) -> dict[str, float]:
    """The baseline: `hfcheck backup` every `interval` seconds; a thread records completions."""
    seen: dict[str, float] = {}
    stop = threading.Event()

    def observe() -> None:
        while not stop.is_set():
            now = time.time()
            for tid in world.done_ids() - seen.keys():
                seen[tid] = now
            time.sleep(0.25)

    t = threading.Thread(target=observe, daemon=True)
    t.start()
    deadline = time.monotonic() + timeout
    try:
        while len(seen) < expected and time.monotonic() < deadline:
            started = time.monotonic()
            subprocess.run(
                [sys.executable, "-m", "hfcheck", "backup", "--config", str(world.config)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    finally:
        time.sleep(0.5)
        stop.set()
        t.join()
    return seen


def latencies(log: Path, seen: dict[str, float]) -> list[float]:
    inserted = {tid: float(at) for tid, at in (line.split() for line in log.read_text().splitlines())}
    return sorted(seen[tid] - at for tid, at in inserted.items() if tid in seen)


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench watch")
    p.add_argument("--tweets", type=int, default=1000)
    p.add_argument("--rate", type=float, default=10.0)
    p.add_argument("--interval", type=float, default=5.0)
    p.add_argument("--long-tweets", type=int, default=1500)
    p.add_argument("--long-rate", type=float, default=15.0)
    p.add_argument("--latency-ms", type=float, default=LATENCY_MS)
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument("--quick", action="store_true", help="100 tweets; 300 for the memory run")
    a = p.parse_args(bench_argv(sys.argv[1:]))
    if a.quick:
        a.tweets, a.long_tweets = 100, 300

    from hfcheck.sim.demo import REPO, TOKEN, USER
    from hfcheck.sim.emulator.store import Store
    from hfcheck.sim.emulator.testing import EmulatorProcess
    from hfcheck.sim.mediaserver import start_media_server

    tmp = Path(tempfile.mkdtemp(prefix="bench-watch-"))
    store = Store(tmp / "hub")
    store.add_user(USER, TOKEN)
    store.create_repo(REPO, owner=USER, exist_ok=True)
    store.close()
    source = tmp / "source"
    source.mkdir()
    with EmulatorProcess(tmp / "hub", "--latency-ms", f"{a.latency_ms:g}") as emu, start_media_server(source) as media:
        env = child_env(emu.url)
        print(
            f"emulator: separate process, {a.latency_ms:g} ms per request; media server: a thread of this process;"
            f" scraper and watch: child processes. {a.tweets} tweets at {a.rate:g}/s, watch --interval {a.interval:g}"
        )
        rows = []
        w = World(tmp / "watch", emu.url, media.host_port)
        emu.control.reset_stats()
        scr = scraper(w, source, media.url, a.tweets, a.rate, env, tmp / "watch-inserts.log")
        seen = watch_until(
            w, a.tweets, ["--interval", f"{a.interval:g}", "--audit-every", "0"], env, timeout=a.tweets / a.rate + 300
        )
        scr.wait()
        lat = latencies(tmp / "watch-inserts.log", seen)
        hub = HubCount.take(emu.control)
        rows.append(
            (
                "watch",
                f"{len(lat)}/{a.tweets}",
                f"{pct(lat, 50):.1f}",
                f"{pct(lat, 95):.1f}",
                f"{max(lat):.1f}",
                f"{hub.commits:,}",
                f"{hub.requests:,}",
            )
        )
        if not a.no_baseline:
            b = World(tmp / "cron", emu.url, media.host_port)
            emu.control.reset_stats()
            scr = scraper(b, source, media.url, a.tweets, a.rate, env, tmp / "cron-inserts.log")
            seen_b = backup_loop_until(b, a.tweets, a.interval, env, timeout=a.tweets / a.rate + 300)
            scr.wait()
            blat = latencies(tmp / "cron-inserts.log", seen_b)
            rows.append(
                (
                    f"backup every {a.interval:g} s (baseline)",
                    f"{len(blat)}/{a.tweets}",
                    f"{pct(blat, 50):.1f}",
                    f"{pct(blat, 95):.1f}",
                    f"{max(blat):.1f}",
                    f"{(hub := HubCount.take(emu.control)).commits:,}",
                    f"{hub.requests:,}",
                )
            )
        print(table(("insert -> committed backup", "tweets", "p50 s", "p95 s", "max s", "commits", "requests"), rows))
        if len(rows) == 2:
            print(
                f"watch / baseline: p50 {float(rows[0][2]) / float(rows[1][2]):.2f}x,"
                f" p95 {float(rows[0][3]) / float(rows[1][3]):.2f}x"
            )

        m = World(tmp / "long", emu.url, media.host_port)
        scr = scraper(m, source, media.url, a.long_tweets, a.long_rate, env, tmp / "long-inserts.log")
        samples: list[tuple[float, int]] = []
        hwm: list[int] = [0]
        started = time.monotonic()

        def tick(proc: subprocess.Popen[bytes]) -> None:
            if not samples or time.monotonic() - samples[-1][0] >= 1:
                samples.append((time.monotonic(), rss_kib(proc.pid)))
                hwm[0] = max(hwm[0], rss_kib(proc.pid, "VmHWM"))

        seen_m = watch_until(
            m,
            a.long_tweets,
            ["--interval", "0.1", "--audit-every", "0"],
            env,
            timeout=a.long_tweets / a.long_rate + 300,
            on_tick=tick,
        )
        scr.wait()
        polls = sum(1 for line in (m.root / "watch.log").read_text().splitlines() if line.startswith("poll "))
        n = len(samples)
        picks = [("start (10%)", samples[n // 10]), ("middle", samples[n // 2]), ("end", samples[-1])]
        print(
            f"memory: watch --interval 0.1, {a.long_tweets} tweets at {a.long_rate:g}/s"
            f" over {time.monotonic() - started:.0f} s,"
            f" {len(seen_m)} backed up, {polls}+ polls that found tweets"
        )
        print(
            table(
                ("watch RSS", "MiB"), [(label, mib(kib)) for label, (_, kib) in picks] + [("peak (VmHWM)", mib(hwm[0]))]
            )
        )
        print(f"end / start RSS: {picks[2][1][1] / max(1, picks[0][1][1]):.2f}x")


if __name__ == "__main__":
    main()
