"""Helpers shared by the benchmarks that drive the real CLI (`bench_repair`, `bench_backup`).

`run_hfcheck` runs `python -m hfcheck ARGS` in a child process and measures it: wall time, exit
code, and peak RSS as the kernel's high-water mark of that process alone (`VmHWM`, read at
exit), so the benchmark's own memory (media server, baselines) never counts. `HubCount` reads
the emulator's request counters; `payload` builds synthetic media (`hfcheck.sim.demo.write_db` the table). Not a
benchmark itself (`python -m bench` only runs `bench_*` modules).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MAGIC = {"jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "mp4": b"\x00\x00\x00\x18ftypmp42"}

# `python -m hfcheck ...` exactly as `-m` runs it (runpy), writing its VmHWM (KiB) at exit.
_LAUNCH = """
import atexit, runpy, sys
out = sys.argv[1]
def _hwm():
    kib = 0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                kib = int(line.split()[1])
    with open(out, "w") as g:
        g.write(str(kib))
atexit.register(_hwm)
sys.argv = ["hfcheck", *sys.argv[2:]]
runpy.run_module("hfcheck", run_name="__main__", alter_sys=True)
"""


@dataclass
class CliRun:
    """What one `python -m hfcheck` child did."""

    rc: int
    wall_s: float  # from spawn to exit, interpreter start included
    peak_kib: int  # VmHWM at exit (0 if the child died before writing it)
    maxrss_kib: int  # wait4's ru_maxrss of the same child (a cross-check)
    output: str  # stdout and stderr, interleaved

    def tail(self, lines: int = 6) -> str:
        return "\n".join(self.output.strip().splitlines()[-lines:])


def child_env(**extra: str) -> dict[str, str]:
    """This environment without a Hub token/endpoint of the user's, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_ENDPOINT")}
    env.update(
        HF_HUB_DISABLE_XET="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        LANG="C.UTF-8",
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    env.update(extra)
    return env


def run_hfcheck(args: list[str], cwd: Path, env: dict[str, str], timeout: float) -> CliRun:
    """`python -m hfcheck ARGS` in `cwd`; killed after `timeout` seconds (rc then -9)."""
    hwm_file = cwd / f".hwm-{os.getpid()}-{time.monotonic_ns()}"
    out_file = hwm_file.with_suffix(".out")
    started = time.perf_counter()
    with open(out_file, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCH, str(hwm_file), *args],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    peak = int(hwm_file.read_text()) if hwm_file.exists() else 0
    output = out_file.read_text(errors="replace")
    hwm_file.unlink(missing_ok=True)
    out_file.unlink(missing_ok=True)
    return CliRun(proc.returncode, wall, peak, int(usage.ru_maxrss), output)


def vmhwm_kib() -> int:
    """This process's peak RSS in KiB (the kernel's high-water mark; ru_maxrss elsewhere)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f}"


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """Left-aligned first column, right-aligned numbers, as bench_verify prints them."""
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    lines = []
    for r in (header, tuple("-" * w for w in widths), *rows):
        cells = zip(r, widths, strict=True)
        lines.append("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(cells)))
    return "\n".join(lines)


def bench_argv(rest: list[str]) -> list[str]:
    """Benchmark options: `HFCHECK_BENCH_ARGS` if set, else the command line from its first
    option on (so `python -m bench repair --files 100` skips the topic name)."""
    import shlex

    env = os.environ.get("HFCHECK_BENCH_ARGS")
    if env:
        return shlex.split(env)
    firsts = [i for i, a in enumerate(rest) if a.startswith("-")]
    return rest[firsts[0] :] if firsts else []


@dataclass
class HubCount:
    """What the emulator saw between its `reset_stats()` and now."""

    requests: int
    commits: int  # successful commit POSTs
    kinds: dict[str, int]

    @classmethod
    def take(cls, ctl: Any) -> HubCount:
        s = ctl.stats()
        commits = int(s.get("by_kind", {}).get("commit", {}).get("200", 0))
        return cls(int(s["requests"]), commits, dict(sorted(s["kinds"].items())))

    def by_kind(self) -> str:
        return ", ".join(f"{k} {v:,}" for k, v in self.kinds.items())


def payload(rng: random.Random, pool: bytes, ext: str, size: int) -> bytes:
    """`size` bytes starting with the format's magic: a random slice of a seeded random pool
    (fast, and distinct per file because the offset and a per-file prefix differ)."""
    head = MAGIC[ext] + rng.randbytes(16)
    start = rng.randrange(0, len(pool) - size) if size < len(pool) else 0
    return (head + pool[start : start + size])[:size]

