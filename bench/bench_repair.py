"""`hfcheck repair` of 2,000 missing files against the Hub emulator (20 ms per request), next to
the users' old way in the same run: encrypt a file, make one commit for it, next file.

Why: ARCHIVE.md's repair script made one commit per file, so 2,000 missing files cost 2,000
commits (over 15 hours of the Hub's ~128 commits an hour) and 2,000 round trips of several
requests each. hfcheck batches them (see `bench_commit` for the committer alone); this runs the
whole real command, `python -m hfcheck repair`, as a child process.

Synthetic world: an archive DB whose backup URLs point at encrypted paths of a repo, the local
media under media_root (random bytes, seeded: mostly 30-300 KB photos, 5% 0.5-5 MB videos), and
a repo holding a few of those files; the rest (2,000 by default) are missing. `verify --method
list` runs first (timed, but not part of the repair), then `repair` (measured: wall time from
spawn to exit, commits and requests counted by the emulator, bytes from its report, peak RSS =
the child's VmHWM). Afterwards every repaired path must be in the repo.

Baseline, same run, same emulator: for a subset (every 10th file; 200 by default) `encrypt_file`
then one `HfApi.create_commit` per file (official client, `HF_HUB_DISABLE_XET=1`), in
sequence, into a separate repo. Its files are independent, so it is extrapolated linearly to
the full count; the printed table says which numbers are extrapolated.

    python -m bench repair                                   # 2,000 files, baseline on 200
    HFCHECK_BENCH_ARGS="--files 300 --baseline-files 30" python -m bench repair   # quick run
    python -m bench.bench_repair --files 300 --baseline-files 30

Limits: the emulator runs with no quotas (the `hub serve` default: commits unlimited), and
hfcheck's own commit limiter is raised (`--set limits.commits_per_hour=1000000`, default 128
an hour) as are its request budgets: this measures the work, not the Hub's pacing, which is
printed separately.
"""

from __future__ import annotations

import os

os.environ.setdefault(
    "HF_HUB_DISABLE_XET", "1"
)  # measures the LFS path (python -m bench xet compares); before the client is imported
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import argparse
import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import CliRun, HubCount, bench_argv, child_env, mib, payload, run_hfcheck, table
from hfcheck.crypto import ArchiveKey, encrypt_file, encrypted_size, generate_key_file, load_key
from hfcheck.model.paths import BackupURL, LocalName, local_relpath, remote_path_for
from hfcheck.sim.demo import encrypt_bytes, write_db

LATENCY_MS = 20
REPO = "bench/media"
BASELINE_REPO = "bench/baseline"
USER, TOKEN = "bench", "tok-bench-repair"
USERS = 20
FIRST_ID = 1_650_000_000_000_000_000
PHOTO_KB = (30, 300)
VIDEO_KB = (512, 5 * 1024)
VIDEO_SHARE = 0.05
HUB_COMMITS_PER_HOUR = 128
RAISED = {"limits.commits_per_hour": 1_000_000, "limits.resolvers_per_window": 10**9, "limits.api_per_window": 10**9}


# --------------------------------------------------------------------------------------
# The synthetic world
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MediaFile:
    """One local medium and where its backup lives (or should live) in the repo."""

    local: Path
    rel: str  # images/{user}/{tweet}_0.jpg
    remote: str  # encrypted_images/{user}/{encrypted name}
    size: int


@dataclass
class World:
    root: Path
    key: ArchiveKey
    missing: list[MediaFile] = field(default_factory=list)
    present: list[MediaFile] = field(default_factory=list)
    build_s: float = 0.0

    @property
    def missing_bytes(self) -> int:
        return sum(f.size for f in self.missing)


def build_world(root: Path, store: Any, endpoint: str, n_missing: int, n_present: int, seed: int) -> World:
    """Key, local media, archive DB (one medium per tweet) and the repo with the present files."""
    started = time.perf_counter()
    rng = random.Random(seed)
    generate_key_file(root / "archive.key")
    world = World(root, load_key(root / "archive.key"))
    pool = random.Random(seed + 1).randbytes(VIDEO_KB[1] * 1024 + 4096)
    total = n_missing + n_present
    present_at = set(rng.sample(range(total), n_present))
    videos = set(rng.sample(range(total), round(total * VIDEO_SHARE)))  # an exact count: a stable total
    rows, uploads = [], []
    for i in range(total):
        tweet_id, user = str(FIRST_ID + i * 7919), f"user{i % USERS}"
        ext, (lo, hi) = ("mp4", VIDEO_KB) if i in videos else ("jpg", PHOTO_KB)
        data = payload(rng, pool, ext, rng.randint(lo * 1024, hi * 1024))
        rel = local_relpath(user, LocalName(tweet_id, 0, ext))
        local = root / "media" / rel
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(data)
        f = MediaFile(local, rel, remote_path_for(world.key, rel), len(data))
        (world.present if i in present_at else world.missing).append(f)
        url = str(BackupURL(endpoint, REPO, "main", f.remote))
        rows.append(
            (
                tweet_id,
                user,
                json.dumps([f"https://pbs.twimg.com/media/{tweet_id}.{ext}"]),
                json.dumps([url]),
                f"tweet {i}",
            )
        )
    for f in world.present:
        uploads.append((f.remote, encrypt_bytes(world.key, f.local.read_bytes(), f.remote)))
    write_db(root / "archive.db", rows)
    store.create_repo(REPO, owner=USER, exist_ok=True)
    store.create_repo(BASELINE_REPO, owner=USER, exist_ok=True)
    if uploads:
        store.commit(REPO, uploads, message=f"seed {len(uploads)} files", lfs=True)
    world.build_s = time.perf_counter() - started
    return world


def write_config(root: Path, endpoint: str) -> Path:
    path = root / "hfcheck.toml"
    path.write_text(
        f'[archive]\ndb = "{root / "archive.db"}"\nmedia_root = "{root / "media"}"\n\n'
        f'[hub]\nendpoint = "{endpoint}"\nrepos = ["{REPO}"]\n\n'
        f'[crypto]\nkey_file = "{root / "archive.key"}"\n\n[run]\ndata_dir = "{root / "data"}"\nlang = "en"\n',
        encoding="utf-8",
    )
    return path


# --------------------------------------------------------------------------------------
# Measured runs
# --------------------------------------------------------------------------------------


def hfcheck(root: Path, config: Path, endpoint: str, *args: str, timeout: float = 1800) -> CliRun:
    sets = [x for k, v in RAISED.items() for x in ("--set", f"{k}={v}")]
    env = child_env(HF_TOKEN=TOKEN, HF_ENDPOINT=endpoint)
    return run_hfcheck([*args, "--config", str(config), *sets], root, env, timeout)


@dataclass
class Baseline:
    files: int = 0
    encrypt_s: float = 0.0
    commit_s: float = 0.0
    bytes: int = 0

    @property
    def wall_s(self) -> float:
        return self.encrypt_s + self.commit_s


def run_baseline(endpoint: str, key: ArchiveKey, files: list[MediaFile], staging: Path) -> Baseline:
    """The old script: per file, encrypt it, then one `create_commit` holding only that file."""
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.utils import disable_progress_bars

    disable_progress_bars()  # a bar per file otherwise
    api = HfApi(endpoint=endpoint, token=TOKEN)
    staging.mkdir(parents=True, exist_ok=True)
    out = Baseline()
    for i, f in enumerate(files):
        enc = staging / f"{i}.enc"
        t = time.perf_counter()
        result = encrypt_file(key, f.local, enc, f.remote)
        t2 = time.perf_counter()
        api.create_commit(
            repo_id=BASELINE_REPO,
            repo_type="dataset",
            commit_message=f"repair {f.rel}",
            operations=[CommitOperationAdd(path_in_repo=f.remote, path_or_fileobj=str(enc))],
        )
        out.commit_s += time.perf_counter() - t2
        out.encrypt_s += t2 - t
        out.bytes += result.size
        out.files += 1
        enc.unlink()
    return out


# --------------------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench repair", description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=2000, help="Missing files to repair (default 2,000).")
    p.add_argument("--present", type=int, default=200, help="Files already in the repo, left alone (default 200).")
    p.add_argument(
        "--baseline-files",
        type=int,
        default=200,
        help="Files the one-commit-per-file baseline uploads, then extrapolated (default 200).",
    )
    p.add_argument("--concurrency", type=int, default=4, help="repair --concurrency (default 4, the CLI's default).")
    p.add_argument("--latency-ms", type=float, default=LATENCY_MS)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--keep", action="store_true", help="Keep the temp dir (its path is printed).")
    return p.parse_args(bench_argv(sys.argv[1:]) if argv is None else argv)


def check_verify(run: CliRun, data_dir: Path, n_missing: int, n_present: int) -> str:
    """The verify run's counts against what was planted (repair depends on them)."""
    report = json.loads((data_dir / "verify_report.json").read_text())
    counts = {k: report["counts"].get(k, 0) for k in ("present", "missing")}
    want = {"present": n_present, "missing": n_missing}
    if run.rc != 1 or counts != want:
        raise RuntimeError(f"verify found {counts}, planted {want} (exit {run.rc}):\n{run.tail(20)}")
    return f"{counts['missing']:,} missing, {counts['present']:,} present (as planted)"


def check_repair(run: CliRun, data_dir: Path, store: Any, world: World) -> dict[str, Any]:
    """The repair's own report, after checking that every missing file is now in the repo."""
    if run.rc != 0:
        raise RuntimeError(f"repair exited {run.rc}:\n{run.tail(30)}")
    report = json.loads((data_dir / "repair_report.json").read_text())
    in_repo = set(store.list_paths(REPO))
    lost = [f.remote for f in world.missing if f.remote not in in_repo]
    if lost or report["files_succeeded"] != len(world.missing) or report["tweets_error"]:
        raise RuntimeError(f"repair incomplete: {len(lost)} files not in the repo; report {report}")
    return report


def main(argv: list[str] | None = None) -> None:
    from hfcheck.sim.emulator.testing import EmulatorProcess

    a = parse_args(argv)
    base_n = max(1, min(a.baseline_files, a.files))
    tmp_obj = tempfile.TemporaryDirectory(prefix="hfcheck-bench-repair-")
    root = Path(tmp_obj.name)
    emu = EmulatorProcess(root / "hub", "--latency-ms", f"{a.latency_ms:g}", "--user", f"{USER}:{TOKEN}")
    try:
        emu.start()
        ctl = emu.control
        print(
            f"emulator: separate process ({emu.url}), {a.latency_ms:g} ms latency per request,"
            f" quotas {ctl.rate_limits()['quotas']} (None = unlimited); hfcheck limits raised via --set {RAISED}"
            f" (default commits_per_hour {HUB_COMMITS_PER_HOUR})"
        )
        store = emu.store
        world = build_world(root, store, emu.url, a.files, a.present, a.seed)
        videos = sum(f.rel.startswith("videos/") for f in world.missing)
        print(
            f"setup: {len(world.missing):,} missing files ({mib(world.missing_bytes / 1024)} MiB plaintext;"
            f" {len(world.missing) - videos:,} photos {PHOTO_KB[0]}-{PHOTO_KB[1]} KB, {videos:,} videos"
            f" {VIDEO_KB[0] / 1024:g}-{VIDEO_KB[1] / 1024:g} MB) + {len(world.present):,} present,"
            f" one per tweet, {USERS} accounts; built in {world.build_s:.1f} s"
        )
        config = write_config(root, emu.url)

        verify = hfcheck(root, config, emu.url, "verify", "--method", "list")
        print(
            f"verify --method list first (not part of the repair): {verify.wall_s:.1f} s;"
            f" {check_verify(verify, root / 'data', len(world.missing), len(world.present))}"
        )

        ctl.reset_stats()
        repair = hfcheck(root, config, emu.url, "repair", "--concurrency", str(a.concurrency))
        hub = HubCount.take(ctl)
        report = check_repair(repair, root / "data", store, world)

        ctl.reset_stats()
        sample = world.missing[:: max(1, len(world.missing) // base_n)][:base_n]
        base = run_baseline(emu.url, world.key, sample, root / "baseline-staging")
        base_hub = HubCount.take(ctl)
        store.close()
        print_results(a, world, repair, hub, report, base, base_hub)
    finally:
        emu.stop()
        if a.keep:
            print(f"kept {root}")
        else:
            tmp_obj.cleanup()


def print_results(
    a: argparse.Namespace,
    world: World,
    repair: CliRun,
    hub: HubCount,
    report: dict[str, Any],
    base: Baseline,
    base_hub: HubCount,
) -> None:
    n = len(world.missing)
    scale = n / base.files
    ext_s, ext_req = base.wall_s * scale, base_hub.requests * scale
    ext_bytes = sum(encrypted_size(f.size) for f in world.missing)  # exact: the same files
    rows = [
        (
            f"hfcheck repair -c {a.concurrency} (measured)",
            f"{n:,}",
            f"{repair.wall_s:.1f}",
            f"{n / repair.wall_s:,.1f}",
            f"{hub.commits:,}",
            f"{hub.requests:,}",
            mib(report["bytes_uploaded"] / 1024),
            mib(repair.peak_kib),
        ),
        (
            "one commit per file (measured)",
            f"{base.files:,}",
            f"{base.wall_s:.1f}",
            f"{base.files / base.wall_s:,.1f}",
            f"{base_hub.commits:,}",
            f"{base_hub.requests:,}",
            mib(base.bytes / 1024),
            "-",
        ),
        (
            f"one commit per file (extrapolated x{scale:g})",
            f"{n:,}",
            f"{ext_s:.1f}",
            f"{base.files / base.wall_s:,.1f}",
            f"{n:,}",
            f"{ext_req:,.0f}",
            mib(ext_bytes / 1024),
            "-",
        ),
    ]
    print()
    print(table(("run", "files", "wall s", "files/s", "commits", "requests", "MiB up", "peak RSS MiB"), rows))
    print()
    print(
        f"  - repair: child process wall {repair.wall_s:.2f} s from spawn to exit (interpreter start, planning with"
        f" paths-info, encryption, uploads, commits, DB updates); report: {report['files_succeeded']:,} files,"
        f" {report['commits']} commits, {report['bytes_uploaded']:,} bytes; all {n:,} paths now in the repo;"
        f" peak RSS = VmHWM at exit (wait4 ru_maxrss {mib(repair.maxrss_kib)} MiB,"
        f" which can include the pre-exec fork of this benchmark)"
    )
    print(f"    requests by kind: {hub.by_kind()}")
    print(
        f"  - baseline: every {max(1, n // base.files)}th missing file, in sequence:"
        f" encrypt_file {base.encrypt_s:.2f} s"
        f" + create_commit {base.commit_s:.2f} s (official client, {base_hub.commits} commits), in this process;"
        f" no planning, no existence check, no interpreter start: a lower bound for the old script"
    )
    print(f"    requests by kind: {base_hub.by_kind()}")
    print(
        f"  - extrapolated: the baseline's files are independent, so its time and requests scale linearly"
        f" (x{scale:g}); commits are one per file by construction; bytes are exact (the same {n:,} files' ciphertext)"
    )
    print()
    print(
        f"ratio (one commit per file, extrapolated / hfcheck repair): wall time {ext_s / repair.wall_s:.1f}x,"
        f" commits {n / max(1, hub.commits):,.0f}x ({n:,} vs {hub.commits}),"
        f" requests {ext_req / max(1, hub.requests):.1f}x"
    )
    print(
        f"at the Hub's ~{HUB_COMMITS_PER_HOUR} commits/h: one commit per file needs >= {n / HUB_COMMITS_PER_HOUR:.1f} h"
        f" of commit quota for {n:,} files; the repair's {hub.commits} commits"
        + (" fit in one hour's quota" if hub.commits <= HUB_COMMITS_PER_HOUR else " exceed one hour's quota")
    )


if __name__ == "__main__":
    main()
