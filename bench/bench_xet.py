"""`hfcheck backup` of the same media over Xet and over LFS, on the emulator, in one run.

Why: every real upload goes over Xet (huggingface_hub uses it whenever hf_xet is installed);
LFS is what a Hub without Xet gets (hfcheck falls back by itself) and what
`HF_HUB_DISABLE_XET=1` forces. This shows what the choice costs: wall time, Hub requests (by
kind) and the child's peak memory, for the same media, side by side.

Two identical synthetic worlds (same seed: same media bytes; see bench_backup), each backed up
by `python -m hfcheck backup` in a child process against its own emulator process (20 ms per
request): once with Xet on (its own HF_XET_CACHE), once with HF_HUB_DISABLE_XET=1.

    python -m bench xet                    # 400 files
    python -m bench xet --files 100        # quick run
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench.bench_backup import LATENCY_MS, REPO, TOKEN, USER, BackupRun, build_world, run_backup
from bench.common import bench_argv, mib, table

TRANSFERS = {"xet": {"HF_HUB_DISABLE_XET": "0"}, "lfs": {"HF_HUB_DISABLE_XET": "1"}}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench xet", description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=400, help="Media files to back up (default 400).")
    p.add_argument("--video-share", type=float, default=0.01, help="Share of videos, 2-20 MB each (default 0.01).")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--latency-ms", type=float, default=LATENCY_MS)
    p.add_argument("--seed", type=int, default=5)
    return p.parse_args(bench_argv(sys.argv[1:]) if argv is None else argv)


def one(root: Path, transfer: str, a: argparse.Namespace) -> tuple[BackupRun, int, dict[str, int]]:
    from hfcheck.sim.emulator.testing import EmulatorProcess
    from hfcheck.sim.mediaserver import start_media_server

    (root / "source").mkdir(parents=True)
    emu = EmulatorProcess(root / "hub", "--latency-ms", f"{a.latency_ms:g}", "--user", f"{USER}:{TOKEN}")
    media = None
    try:
        emu.start()
        media = start_media_server(root / "source")
        world = build_world(root, media.url, a.files, a.video_share, a.seed)
        store = emu.store
        store.create_repo(REPO, owner=USER, exist_ok=True)
        store.close()
        env = {**TRANSFERS[transfer], "HF_XET_CACHE": str(root / "xet-cache")}
        run = run_backup(world, emu, media, a.concurrency, env_extra=env)
        kinds = {
            k: n
            for k, n in emu.control.stats()["kinds"].items()
            if k.startswith(("cas_", "lfs_", "xet_", "commit", "preupload"))
        }
        return run, world.bytes, kinds
    finally:
        if media is not None:
            media.stop()
        emu.stop()


def main(argv: list[str] | None = None) -> None:
    a = parse_args(argv)
    rows, runs = [], {}
    with tempfile.TemporaryDirectory(prefix="hfcheck-bench-xet-") as tmp:
        for transfer in TRANSFERS:
            runs[transfer] = one(Path(tmp) / transfer, transfer, a)
    for transfer, (run, size, kinds) in runs.items():
        wall = run.cli.wall_s
        rows.append(
            (
                transfer,
                f"{run.report['files_succeeded']:,}",
                f"{size / (1 << 20):,.0f}",
                f"{wall:.1f}",
                f"{size / (1 << 20) / wall:.1f}",
                f"{run.hub.requests:,}",
                f"{run.hub.commits:,}",
                mib(run.cli.peak_kib),
                ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())),
            )
        )
    print(f"emulator: separate process per run, {a.latency_ms:g} ms per request; the same {a.files} media in both runs")
    print(
        table(
            (
                "transfer",
                "files",
                "MiB",
                "wall s",
                "MiB/s",
                "Hub requests",
                "commits",
                "peak RSS MiB",
                "upload requests by kind",
            ),
            rows,
        )
    )
    x, lfs = runs["xet"][0], runs["lfs"][0]
    print(
        f"xet / lfs: wall {x.cli.wall_s / lfs.cli.wall_s:.2f}x,"
        f" requests {x.hub.requests / max(1, lfs.hub.requests):.2f}x,"
        f" peak RSS {x.cli.peak_kib / max(1, lfs.cli.peak_kib):.2f}x"
    )


if __name__ == "__main__":
    main()
