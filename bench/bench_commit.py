"""Batched committer vs one commit per file, against the Hub emulator with 20 ms latency.

A repair uploads thousands of small encrypted files. The users' old scripts made one commit per
file; hfcheck's committer groups them (adaptive batches of 50..500). Both go through the
official client over real HTTP to the emulator. The baseline runs on a subset and is
extrapolated linearly (each of its commits is independent, so it scales linearly). The
emulator's commit quota is left unlimited and the committer's own limiter is raised, so the
benchmark measures the work, not the 128-commits-an-hour pacing (which is printed separately).
"""

from __future__ import annotations

import os

os.environ.setdefault(
    "HF_HUB_DISABLE_XET", "1"
)  # measures the LFS path (python -m bench xet compares); before the client is imported
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import asyncio
import contextlib
import hashlib
import tempfile
import time
from pathlib import Path
from typing import Any

from hfcheck.config import Config, Limits
from hfcheck.db.state import StateDB
from hfcheck.model.outcomes import UploadSource
from hfcheck.net.hub import Hub
from hfcheck.sim.emulator.testing import EmulatorThread, start_emulator
from hfcheck.write.commit import BatchPolicy, Committer, Staged

FILES = 2000
BASELINE_FILES = 200
PRODUCERS = 16
LATENCY_MS = 20
TOKEN = "tok-bench"
HUB_COMMITS_PER_HOUR = 128


def stage(root: Path, n: int, folder: str) -> list[tuple[str, Path, str, int]]:
    """n small 'ciphertexts' (random bytes, 1-4 KiB) with their sha256."""
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        data = os.urandom(1024 + (i * 37) % 3072)
        f = root / f"{i:05d}.enc"
        f.write_bytes(data)
        out.append((f"{folder}/{i:05d}.enc", f, hashlib.sha256(data).hexdigest(), len(data)))
    return out


def requests(emu: EmulatorThread) -> dict[str, Any]:
    s = emu.control.stats()
    return {"total": s["requests"], **{k: v for k, v in sorted(s["kinds"].items())}}


async def run_committer(emu: EmulatorThread, cfg: Config, files: list[tuple[str, Path, str, int]]) -> tuple[float, Any]:
    """Producers put all files; the committer batches them. Returns (seconds, stats)."""
    done: list[Staged] = []

    async def on_committed(items: list[Staged], oid: str) -> None:
        done.extend(items)

    async def on_failed(items: list[Staged], reason: str) -> None:
        raise RuntimeError(f"bench upload failed: {reason}")

    repo = cfg.repos[0]
    staged = [Staged(repo, p, f, sha, size, source=UploadSource.BACKUP) for p, f, sha, size in files]
    async with contextlib.AsyncExitStack() as stack:
        state = stack.enter_context(StateDB.in_data_dir(cfg.data_dir))
        started = time.perf_counter()
        hub = await stack.enter_async_context(Hub(cfg))
        committer = Committer(hub, state, on_committed=on_committed, on_failed=on_failed, policy=BatchPolicy())
        async with committer:

            async def produce(part: list[Staged]) -> None:
                for item in part:
                    await committer.put(item)

            await asyncio.gather(*(produce(staged[k::PRODUCERS]) for k in range(PRODUCERS)))
        seconds = time.perf_counter() - started
    assert len(done) == len(files), (len(done), len(files))
    return seconds, committer.stats


def run_baseline(cfg: Config, repo: str, files: list[tuple[str, Path, str, int]]) -> float:
    """One `upload_file` (= one commit) per file, in sequence, as the old scripts did."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=cfg.endpoint, token=cfg.token)
    started = time.perf_counter()
    for path, f, _, _ in files:
        api.upload_file(path_or_fileobj=str(f), path_in_repo=path, repo_id=repo, repo_type="dataset")
    return time.perf_counter() - started


def main() -> None:
    from huggingface_hub.utils import disable_progress_bars

    disable_progress_bars()
    with tempfile.TemporaryDirectory(prefix="hfcheck-bench-commit-") as tmp_s:
        tmp = Path(tmp_s)
        with start_emulator(
            tmp / "hub", users={"bench": TOKEN}, latency_ms=LATENCY_MS, quotas={"commits": None}
        ) as emu:
            for name in ("bench/batched", "bench/baseline"):
                emu.store.create_repo(name, owner="bench")
            limits = Limits(commits_per_hour=1_000_000)  # raised: measure the work, not the Hub's pacing
            cfg = Config(endpoint=emu.url, token=TOKEN, repos=("bench/batched",), data_dir=tmp / "data", limits=limits)

            emu.control.reset_stats()
            batched_s, stats = asyncio.run(run_committer(emu, cfg, stage(tmp / "a", FILES, "encrypted_images/bench")))
            batched_req = requests(emu)

            emu.control.reset_stats()
            base_files = stage(tmp / "b", BASELINE_FILES, "encrypted_images/bench")
            base_s = run_baseline(cfg, "bench/baseline", base_files)
            base_req = requests(emu)

    scale = FILES / BASELINE_FILES
    base_extra_s = base_s * scale
    base_extra_req = base_req["total"] * scale
    print(
        f"emulator: {LATENCY_MS} ms latency per request; commit quota unlimited, committer limiter raised "
        f"to {limits.commits_per_hour:,}/h (the Hub allows ~{HUB_COMMITS_PER_HOUR}/h)"
    )
    print(
        f"batched committer, {FILES} files, {PRODUCERS} producers: {batched_s:.2f} s, {stats.commits} commits "
        f"(final batch size {stats.batch_size}), {batched_req['total']} requests"
    )
    print(f"    requests by kind: {fmt(batched_req)}")
    print(
        f"one commit per file, measured on {BASELINE_FILES} files: {base_s:.2f} s, {BASELINE_FILES} commits, "
        f"{base_req['total']} requests"
    )
    print(f"    requests by kind: {fmt(base_req)}")
    print(
        f"    extrapolated x{scale:.0f} to {FILES} files: {base_extra_s:.1f} s, {FILES} commits,"
        f" {base_extra_req:.0f} requests"
    )
    print(
        f"ratio (one-per-file / batched): wall time {base_extra_s / batched_s:.1f}x, "
        f"commits {FILES / max(1, stats.commits):.0f}x, requests {base_extra_req / max(1, batched_req['total']):.1f}x"
    )
    print(
        f"at the Hub's ~{HUB_COMMITS_PER_HOUR} commits/h: one-per-file needs >= {FILES / HUB_COMMITS_PER_HOUR:.1f} h "
        f"of commit quota for {FILES} files; batched needs {stats.commits} commits (no wait)"
    )


def fmt(req: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in req.items() if k != "total")


if __name__ == "__main__":
    main()
