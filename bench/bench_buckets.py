"""Backup to a dataset repo vs to a Storage Bucket vs `upload_folder`, and restore from a bucket
vs `download_bucket_files`, for the same media, in one run (issue 19.7).

Why: a bucket has no commit quota and no file-count split; does writing to one make hfcheck's
backup faster, and is hfcheck (download, encrypt, record, confirm) as quick as the official
client uploading the same plaintext with nothing else to do?

One emulator process (20 ms per request, Xet on), one media server per world; three worlds
built from the same seed (the same media bytes, see bench_backup):
  (a) `hfcheck backup` into a dataset repo, under the free plan's commit quota (hfcheck's own
      limiter at its default, 128 commits an hour);
  (b) `hfcheck backup` into a bucket (`hf://buckets/bench/media`);
  (c) `HfApi.upload_folder` of the same plaintext (the media files as they are) into a repo,
      in a child process as hfcheck runs, its own Xet cache;
then from world (b): `hfcheck restore --all` against `HfApi.download_bucket_files` of the same
(encrypted) files. Every child has its own HF_XET_CACHE (no dedupe between runs).

    python -m bench buckets                 # 300 files
    python -m bench buckets --files 100     # quick run
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_backup import RAISED, TOKEN, USER, World, build_world, write_config
from bench.common import HubCount, bench_argv, child_env, run_hfcheck, table

BUCKET = f"{USER}/media"
REPO_A, REPO_C = f"{USER}/media", f"{USER}/plain"
FREE_PLAN = {k: v for k, v in RAISED.items() if k != "limits.commits_per_hour"}  # the commit limiter at its default

_UPLOAD_FOLDER = """
import sys
from huggingface_hub import HfApi
from huggingface_hub.utils import disable_progress_bars
disable_progress_bars()
HfApi().upload_folder(repo_id=sys.argv[1], repo_type="dataset", folder_path=sys.argv[2])
"""

_DOWNLOAD_BUCKET = """
import json, sys
from huggingface_hub import HfApi
from huggingface_hub.utils import disable_progress_bars
disable_progress_bars()
paths = json.load(open(sys.argv[3]))
HfApi().download_bucket_files(sys.argv[1], [(p, sys.argv[2] + "/" + p) for p in paths])
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench buckets", description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=300, help="Media files (default 300).")
    p.add_argument("--video-share", type=float, default=0.01, help="Share of videos, 2-20 MB each (default 0.01).")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--latency-ms", type=float, default=20.0)
    p.add_argument("--seed", type=int, default=5)
    return p.parse_args(bench_argv(sys.argv[1:]) if argv is None else argv)


def _child(script: str, args: list[str], env: dict[str, str]) -> float:
    """Wall seconds of `python -c script ARGS` (interpreter start included, as for hfcheck)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return time.perf_counter() - started


def _world(root: Path, emu: Any, a: argparse.Namespace, repo: str) -> tuple[World, Any, Path]:
    from hfcheck.sim.mediaserver import start_media_server

    (root / "source").mkdir(parents=True)
    media = start_media_server(root / "source")
    world = build_world(root, media.url, a.files, a.video_share, a.seed, distinct=True)
    config = write_config(root, emu.url, media.host_port)
    config.write_text(config.read_text().replace(f'repos = ["{REPO_A}"]', f'repos = ["{repo}"]'))
    return world, media, config


def _backup(root: Path, emu: Any, a: argparse.Namespace, repo: str) -> tuple[float, HubCount, dict[str, Any], World]:
    world, media, config = _world(root, emu, a, repo)
    try:
        sets = [x for k, v in FREE_PLAN.items() for x in ("--set", f"{k}={v}")]
        env = child_env(HF_TOKEN=TOKEN, HF_ENDPOINT=emu.url, HF_HUB_DISABLE_XET="0", HF_XET_CACHE=str(root / "xet"))
        emu.control.reset_stats()
        cli = run_hfcheck(
            ["backup", "--concurrency", str(a.concurrency), "--config", str(config), *sets], root, env, timeout=3600
        )
        if cli.rc != 0:
            raise RuntimeError(f"backup to {repo} exited {cli.rc}:\n{cli.tail(30)}")
        report = json.loads((root / "data" / "backup_report.json").read_text())
        if report["files_succeeded"] != len(world.media):
            raise RuntimeError(f"backup to {repo} incomplete: {report}")
        return cli.wall_s, HubCount.take(emu.control), report, world
    finally:
        media.stop()


def main(argv: list[str] | None = None) -> None:
    from huggingface_hub import HfApi

    from hfcheck.sim.emulator.testing import EmulatorProcess

    a = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hfcheck-bench-buckets-") as tmp:
        root = Path(tmp)
        emu = EmulatorProcess(root / "hub", "--latency-ms", f"{a.latency_ms:g}", "--user", f"{USER}:{TOKEN}")
        emu.start()
        try:
            api = HfApi(endpoint=emu.url, token=TOKEN)
            api.create_repo(REPO_A, repo_type="dataset")
            api.create_repo(REPO_C, repo_type="dataset")
            api.create_bucket(BUCKET)
            repo_s, repo_hub, _, world = _backup(root / "a", emu, a, REPO_A)
            bucket_s, bucket_hub, _, bworld = _backup(root / "b", emu, a, f"hf://buckets/{BUCKET}")
            env = child_env(HF_TOKEN=TOKEN, HF_ENDPOINT=emu.url, HF_HUB_DISABLE_XET="0")
            emu.control.reset_stats()
            plain_s = _child(
                _UPLOAD_FOLDER, [REPO_C, str(root / "a" / "source")], {**env, "HF_XET_CACHE": str(root / "xc")}
            )
            plain_hub = HubCount.take(emu.control)
            # restore from the bucket: hfcheck (download, decrypt, write) vs the official client (download)
            sets = [x for k, v in FREE_PLAN.items() for x in ("--set", f"{k}={v}")]
            benv = {**env, "HF_XET_CACHE": str(root / "xr")}
            config = root / "b" / "hfcheck.toml"
            restore = run_hfcheck(
                ["restore", "--all", "--out", str(root / "restored"), "--config", str(config), *sets],
                root / "b",
                benv,
                3600,
            )
            if restore.rc != 0:
                raise RuntimeError(f"restore exited {restore.rc}:\n{restore.tail(30)}")
            paths = root / "paths.json"
            paths.write_text(json.dumps([m.remote for m in bworld.media]))
            down_s = _child(
                _DOWNLOAD_BUCKET, [BUCKET, str(root / "down"), str(paths)], {**env, "HF_XET_CACHE": str(root / "xd")}
            )
        finally:
            emu.stop()
    mib = world.bytes / (1 << 20)
    print(f"emulator: {a.latency_ms:g} ms per request, Xet on; the same {len(world.media)} media ({mib:,.0f} MiB)")
    rows = [
        (
            "(a) hfcheck backup -> dataset repo (128 commits/h)",
            f"{repo_s:.1f}",
            f"{repo_hub.requests:,}",
            f"{repo_hub.commits:,}",
            f"{repo_s / plain_s:.2f}x",
        ),
        (
            "(b) hfcheck backup -> bucket",
            f"{bucket_s:.1f}",
            f"{bucket_hub.requests:,}",
            f"{bucket_hub.kinds.get('bucket_batch', 0):,} batches",
            f"{bucket_s / plain_s:.2f}x",
        ),
        (
            "(c) upload_folder (plaintext) -> dataset repo",
            f"{plain_s:.1f}",
            f"{plain_hub.requests:,}",
            f"{plain_hub.commits:,}",
            "1.00x",
        ),
        ("hfcheck restore --all <- bucket", f"{restore.wall_s:.1f}", "", "", f"{restore.wall_s / down_s:.2f}x"),
        ("download_bucket_files (ciphertext) <- bucket", f"{down_s:.1f}", "", "", "1.00x"),
    ]
    print(table(("run", "wall s", "Hub requests", "commits", "vs the official client"), rows))
    print(f"bucket / repo backup: {bucket_s / repo_s:.2f}x")


if __name__ == "__main__":
    main()
