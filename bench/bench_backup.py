"""`hfcheck backup` of 5,000 media files of mixed sizes, from the local media server to the Hub
emulator (20 ms per request): wall time, commits, peak memory, and where the time goes.

Why: a first backup of an account downloads every medium, encrypts it and uploads it. The run
must stay within bounded memory (videos are streamed, never held whole) and keep the network
busy while it encrypts; this shows how long each part takes on its own next to the whole.

Synthetic world: an archive DB of tweets (1-4 media each) whose media URLs point at the media
server (`hfcheck/sim/mediaserver.py`, in a thread of this process, allowed via `download.
allowed_hosts = ["127.0.0.1:PORT"]`), no backup URL recorded and an empty media_root, so every
medium is downloaded. Files are seeded random bytes: photos 50-500 KB and 0.8% videos 2-20 MB
(about 1.75 GiB in all by default).

Measured, all in this one run:
  1. `python -m hfcheck backup` as a child process: wall time from spawn to exit, commits and
     requests counted by the emulator, files and bytes from its report, peak RSS = the child's
     VmHWM at exit. Afterwards every file must be in the repo.
  2. encryption alone: `hfcheck.crypto.encrypt_file` over the same files, one after the other
     in this process (wall and CPU time; the same temp + fsync + rename as the backup).
  3. download alone: hfcheck's `Downloader` fetching every medium, as many at once as the
     backup's --concurrency (its tweets are prepared in parallel), in a child process.
  4. Hub upload alone: hfcheck's `Committer` uploading and committing the ciphertexts of step 2
     (same batching as the backup) into a second repo.
The "share" of each part is its time alone divided by the backup's wall time. The backup runs
them concurrently (downloads, encryption threads, the committer), so the shares may add up to
more than 100%; what is left below 100% is time none of them explains (start-up, planning,
database updates, waiting between stages).

    python -m bench backup                                  # 5,000 files, ~1.75 GiB
    HFCHECK_BENCH_ARGS="--files 500" python -m bench backup   # quick run
    python -m bench.bench_backup --files 500

Limits: the emulator has no quotas; hfcheck's commit limiter and request budgets are raised,
and so is its per-host download pacing (`limits.downloads_per_second_per_host`, default 10/s,
which alone would make 5,000 downloads take >= 500 s): this measures the work, not the pacing.
"""

from __future__ import annotations

import os

os.environ.setdefault(
    "HF_HUB_DISABLE_XET", "1"
)  # this benchmark measures LFS (bench_xet compares); before the client is imported
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import argparse
import asyncio
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import MAGIC, ROOT, CliRun, HubCount, bench_argv, child_env, mib, payload, run_hfcheck, table
from hfcheck.crypto import ArchiveKey, EncryptResult, encrypt_file, generate_key_file, load_key
from hfcheck.model.paths import LocalName, local_relpath, remote_path_for
from hfcheck.sim.demo import write_db

MIB = 1 << 20
LATENCY_MS = 20
REPO = "bench/media"
UPLOAD_REPO = "bench/upload-only"
USER, TOKEN = "bench", "tok-bench-backup"
USERS = 20
FIRST_ID = 1_660_000_000_000_000_000
PHOTO_KB = (50, 500)
VIDEO_MB = (2, 20)
MEDIA_PER_TWEET = (1, 1, 1, 1, 2, 2, 3, 4)
DOWNLOADS_PER_S = 10.0  # hfcheck's default per-host pacing
RAISED = {
    "limits.commits_per_hour": 1_000_000,
    "limits.resolvers_per_window": 10**9,
    "limits.api_per_window": 10**9,
    "limits.downloads_per_second_per_host": 1_000_000,
}


# --------------------------------------------------------------------------------------
# The synthetic world
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Medium:
    """One medium: its file on the media server and where the backup puts it."""

    source: Path  # source/{tweet}_{i}.{ext}, served as /media/{name}
    url: str
    rel: str  # images/{user}/{tweet}_{i}.jpg under media_root
    remote: str  # encrypted_images/{user}/{encrypted name}
    size: int

    @property
    def video(self) -> bool:
        return self.rel.startswith("videos/")


@dataclass
class World:
    root: Path
    key: ArchiveKey
    media: list[Medium] = field(default_factory=list)
    tweets: int = 0
    build_s: float = 0.0

    @property
    def bytes(self) -> int:
        return sum(m.size for m in self.media)


def pick_size(rng: random.Random, video: bool) -> tuple[str, int]:
    if video:
        return "mp4", rng.randint(VIDEO_MB[0] * MIB, VIDEO_MB[1] * MIB)
    return "jpg", rng.randint(PHOTO_KB[0] * 1024, PHOTO_KB[1] * 1024)


def build_world(
    root: Path, media_base: str, n_files: int, video_share: float, seed: int, *, distinct: bool = False
) -> World:
    """Key, the media server's files and the archive DB: `n_files` media over 1-4 per tweet.
    `distinct`: every byte seeded random, no slice of a shared pool (which Xet's chunk dedupe
    would find in plaintext but never in ciphertext); slower to build."""
    started = time.perf_counter()
    rng = random.Random(seed)
    generate_key_file(root / "archive.key")
    world = World(root, load_key(root / "archive.key"))
    pool = random.Random(seed + 1).randbytes(VIDEO_MB[1] * MIB + 4096)
    videos = set(rng.sample(range(n_files), round(n_files * video_share)))  # an exact count: a stable total
    (root / "media").mkdir()
    rows = []
    while len(world.media) < n_files:
        tweet_id, user = str(FIRST_ID + world.tweets * 7919), f"user{world.tweets % USERS}"
        urls = []
        for i in range(min(rng.choice(MEDIA_PER_TWEET), n_files - len(world.media))):
            ext, size = pick_size(rng, len(world.media) in videos)
            name = LocalName(tweet_id, i, ext)
            source = root / "source" / str(name)
            data = MAGIC[ext] + rng.randbytes(size) if distinct else payload(rng, pool, ext, size)
            source.write_bytes(data[:size])
            rel = local_relpath(user, name)
            url = f"{media_base}/media/{name}"
            world.media.append(Medium(source, url, rel, remote_path_for(world.key, rel), size))
            urls.append(url)
        rows.append((tweet_id, user, json.dumps(urls), None, f"tweet {world.tweets}"))
        world.tweets += 1
    write_db(root / "archive.db", rows)
    world.build_s = time.perf_counter() - started
    return world


def write_config(root: Path, endpoint: str, media_host: str) -> Path:
    path = root / "hfcheck.toml"
    path.write_text(
        f'[archive]\ndb = "{root / "archive.db"}"\nmedia_root = "{root / "media"}"\n\n'
        f'[hub]\nendpoint = "{endpoint}"\nrepos = ["{REPO}"]\n\n'
        f'[crypto]\nkey_file = "{root / "archive.key"}"\n\n[run]\ndata_dir = "{root / "data"}"\nlang = "en"\n\n'
        f'[download]\nallowed_hosts = ["{media_host}"]\n',
        encoding="utf-8",
    )
    return path


# --------------------------------------------------------------------------------------
# Measured runs
# --------------------------------------------------------------------------------------


@dataclass
class BackupRun:
    """The measured `python -m hfcheck backup`."""

    cli: CliRun
    hub: HubCount
    report: dict[str, Any]  # its backup_report.json
    media_requests: int  # requests the media server saw


def run_backup(
    world: World, emu: Any, media: Any, concurrency: int, env_extra: dict[str, str] | None = None
) -> BackupRun:
    """The real CLI in a child process; then every medium must be in the repo."""
    config = write_config(world.root, emu.url, media.host_port)
    sets = [x for k, v in RAISED.items() for x in ("--set", f"{k}={v}")]
    env = child_env(HF_TOKEN=TOKEN, HF_ENDPOINT=emu.url, **(env_extra or {}))
    emu.control.reset_stats()
    served = media.count()
    cli = run_hfcheck(
        ["backup", "--concurrency", str(concurrency), "--config", str(config), *sets], world.root, env, timeout=3600
    )
    run = BackupRun(cli, HubCount.take(emu.control), {}, media.count() - served)
    if cli.rc != 0:
        raise RuntimeError(f"backup exited {cli.rc}:\n{cli.tail(30)}")
    run.report = json.loads((world.root / "data" / "backup_report.json").read_text())
    store = emu.store
    in_repo = set(store.list_paths(REPO))
    store.close()
    lost = [m.remote for m in world.media if m.remote not in in_repo]
    if lost or run.report["files_succeeded"] != len(world.media) or run.report["tweets_error"]:
        raise RuntimeError(f"backup incomplete: {len(lost)} files not in the repo; report {run.report}")
    return run


@dataclass
class Stage:
    """One part of the backup, run alone."""

    seconds: float
    cpu_s: float = 0.0  # process CPU time (0 where not measured)


def encrypt_alone(world: World, out_dir: Path) -> tuple[Stage, list[EncryptResult]]:
    """`encrypt_file` over every medium, one at a time in this process; ciphertexts kept in
    `out_dir` for `upload_alone`. CPU time = this process's (the cipher plus its writer thread)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    cpu, started = time.process_time(), time.perf_counter()
    for i, m in enumerate(world.media):
        results.append(encrypt_file(world.key, m.source, out_dir / f"{i}.enc", m.remote))
    return Stage(time.perf_counter() - started, time.process_time() - cpu), results


def download_alone(world: World, media_host: str, scratch: Path, concurrency: int) -> Stage:
    """hfcheck's Downloader, `concurrency` media at once, in a child process (see `_worker`)."""
    jobs = scratch.with_suffix(".json")
    jobs.write_text(json.dumps([[m.url, m.rel] for m in world.media]))
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bench_backup", "--worker", str(jobs), str(scratch), media_host, str(concurrency)],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"download worker failed ({proc.returncode}): {proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    shutil.rmtree(scratch, ignore_errors=True)
    jobs.unlink()
    if out["ok"] != len(world.media):
        raise RuntimeError(f"download worker fetched {out['ok']} of {len(world.media)}: {out}")
    return Stage(out["seconds"], out["cpu_s"])


async def _download_all(jobs: list[tuple[str, str]], root: Path, host: str, concurrency: int) -> dict[str, Any]:
    from hfcheck.net.download import Downloader
    from hfcheck.pool import Put, run_pool

    ok = 0
    failures: list[str] = []
    cpu, started = time.process_time(), time.perf_counter()
    async with Downloader([host], root=root, rate_per_host=RAISED["limits.downloads_per_second_per_host"]) as dl:

        async def produce(put: Put[tuple[str, str]]) -> None:
            for job in jobs:
                await put(job)

        async def fetch(job: tuple[str, str]) -> None:
            nonlocal ok
            r = await dl.fetch(job[0], root / job[1])
            ok += r.status == "ok"
            if r.status != "ok" and len(failures) < 5:
                failures.append(f"{r.status}: {r.reason}")

        await run_pool(produce, fetch, concurrency)
    return {
        "ok": ok,
        "seconds": time.perf_counter() - started,
        "cpu_s": time.process_time() - cpu,
        "first_failures": failures,
    }


def _worker(argv: list[str]) -> None:
    jobs_file, root, host, concurrency = Path(argv[0]), Path(argv[1]), argv[2], int(argv[3])
    jobs = [(u, r) for u, r in json.loads(jobs_file.read_text())]
    print(json.dumps(asyncio.run(_download_all(jobs, root, host, concurrency))))


def upload_alone(emu: Any, world: World, enc_dir: Path, encrypted: list[EncryptResult]) -> tuple[Stage, HubCount]:
    """The Committer (default batching, limiter raised) committing the step-2 ciphertexts to a
    second repo from one producer: uploads and commits with nothing else to do."""
    from hfcheck.config import Config, Limits
    from hfcheck.db.state import StateDB
    from hfcheck.model.outcomes import UploadSource
    from hfcheck.net.hub import Hub
    from hfcheck.write.commit import Committer, Staged

    cfg = Config(
        endpoint=emu.url,
        token=TOKEN,
        repos=(UPLOAD_REPO,),
        data_dir=world.root / "upload-data",
        limits=Limits(commits_per_hour=RAISED["limits.commits_per_hour"]),
    )
    items = [
        Staged(UPLOAD_REPO, m.remote, enc_dir / f"{i}.enc", r.sha256, r.size, source=UploadSource.BACKUP)
        for i, (m, r) in enumerate(zip(world.media, encrypted, strict=True))
    ]
    done: list[Staged] = []

    async def committed(batch: list[Staged], oid: str) -> None:
        done.extend(batch)

    async def failed(batch: list[Staged], reason: str) -> None:
        raise RuntimeError(f"upload-alone failed: {reason}")

    async def run() -> float:
        with StateDB.in_data_dir(cfg.data_dir) as state:
            started = time.perf_counter()
            async with Hub(cfg) as hub, Committer(hub, state, on_committed=committed, on_failed=failed) as committer:
                for item in items:
                    await committer.put(item)
            return time.perf_counter() - started

    emu.control.reset_stats()
    seconds = asyncio.run(run())
    if len(done) != len(items):
        raise RuntimeError(f"upload-alone committed {len(done)} of {len(items)}")
    return Stage(seconds), HubCount.take(emu.control)


@dataclass
class Parts:
    """The backup's parts, each run alone over the same files."""

    download: Stage
    encrypt: Stage
    upload: Stage
    upload_hub: HubCount


def measure_parts(world: World, emu: Any, media: Any, concurrency: int) -> Parts:
    """Encrypt (keeping the ciphertexts), download, then upload those ciphertexts."""
    encrypt, encrypted = encrypt_alone(world, world.root / "enc-alone")
    download = download_alone(world, media.host_port, world.root / "dl-alone", concurrency)
    upload, upload_hub = upload_alone(emu, world, world.root / "enc-alone", encrypted)
    return Parts(download, encrypt, upload, upload_hub)


# --------------------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench backup", description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=5000, help="Media files to back up (default 5,000).")
    p.add_argument(
        "--video-share", type=float, default=0.008, help="Share of videos, 2-20 MB each (default 0.008: 40 of 5,000)."
    )
    p.add_argument("--concurrency", type=int, default=4, help="backup --concurrency (default 4, the CLI's default).")
    p.add_argument("--latency-ms", type=float, default=LATENCY_MS)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--keep", action="store_true", help="Keep the temp dir (its path is printed).")
    return p.parse_args(bench_argv(sys.argv[1:]) if argv is None else argv)


def main(argv: list[str] | None = None) -> None:
    from hfcheck.sim.emulator.testing import EmulatorProcess
    from hfcheck.sim.mediaserver import start_media_server

    a = parse_args(argv)
    tmp_obj = tempfile.TemporaryDirectory(prefix="hfcheck-bench-backup-")
    root = Path(tmp_obj.name)
    emu = EmulatorProcess(root / "hub", "--latency-ms", f"{a.latency_ms:g}", "--user", f"{USER}:{TOKEN}")
    media = None
    try:
        emu.start()
        (root / "source").mkdir()
        media = start_media_server(root / "source")
        ctl = emu.control
        print(
            f"emulator: separate process ({emu.url}), {a.latency_ms:g} ms latency per request,"
            f" quotas {ctl.rate_limits()['quotas']} (None = unlimited);"
            f" media server: a thread of this process ({media.url}), no latency;"
            f" hfcheck limits raised via --set {RAISED}"
        )
        world = build_world(root, media.url, a.files, a.video_share, a.seed)
        videos = [m for m in world.media if m.video]
        print(
            f"setup: {len(world.media):,} media in {world.tweets:,} tweets, {mib(world.bytes / 1024)} MiB:"
            f" {len(world.media) - len(videos):,} photos {PHOTO_KB[0]}-{PHOTO_KB[1]} KB"
            f" ({mib((world.bytes - sum(m.size for m in videos)) / 1024)} MiB), {len(videos):,} videos"
            f" {VIDEO_MB[0]}-{VIDEO_MB[1]} MB ({mib(sum(m.size for m in videos) / 1024)} MiB);"
            f" built in {world.build_s:.1f} s"
        )
        store = emu.store
        store.create_repo(REPO, owner=USER, exist_ok=True)
        store.create_repo(UPLOAD_REPO, owner=USER, exist_ok=True)
        store.close()

        backup = run_backup(world, emu, media, a.concurrency)
        shutil.rmtree(root / "media", ignore_errors=True)  # disk: the downloads are not needed again
        parts = measure_parts(world, emu, media, a.concurrency)
        print_results(a, world, backup, parts)
    finally:
        if media is not None:
            media.stop()
        emu.stop()
        if a.keep:
            print(f"kept {root}")
        else:
            tmp_obj.cleanup()


def print_results(a: argparse.Namespace, world: World, backup: BackupRun, parts: Parts) -> None:
    n, wall, total_mib = len(world.media), backup.cli.wall_s, world.bytes / MIB
    dl, enc, up, up_hub, hub, report = (
        parts.download,
        parts.encrypt,
        parts.upload,
        parts.upload_hub,
        backup.hub,
        backup.report,
    )
    rows = [
        (
            f"hfcheck backup -c {a.concurrency}",
            f"{n:,}",
            f"{wall:.1f}",
            f"{n / wall:,.0f}",
            f"{total_mib / wall:,.1f}",
            f"{hub.commits:,}",
            f"{hub.requests:,}",
            "100%",
            mib(backup.cli.peak_kib),
        ),
        (
            f"  download alone (Downloader, {a.concurrency} at once)",
            f"{n:,}",
            f"{dl.seconds:.1f}",
            f"{n / dl.seconds:,.0f}",
            f"{total_mib / dl.seconds:,.1f}",
            "-",
            "-",
            f"{dl.seconds / wall:.0%}",
            "-",
        ),
        (
            "  encrypt alone (encrypt_file, sequential)",
            f"{n:,}",
            f"{enc.seconds:.1f}",
            f"{n / enc.seconds:,.0f}",
            f"{total_mib / enc.seconds:,.1f}",
            "-",
            "-",
            f"{enc.seconds / wall:.0%}",
            "-",
        ),
        (
            "  Hub upload+commit alone (Committer)",
            f"{n:,}",
            f"{up.seconds:.1f}",
            f"{n / up.seconds:,.0f}",
            f"{total_mib / up.seconds:,.1f}",
            f"{up_hub.commits:,}",
            f"{up_hub.requests:,}",
            f"{up.seconds / wall:.0%}",
            "-",
        ),
    ]
    print()
    print(
        table(("run", "files", "wall s", "files/s", "MiB/s", "commits", "Hub requests", "share", "peak RSS MiB"), rows)
    )
    print()
    print(
        f"  - backup: child process wall {wall:.2f} s from spawn to exit; report: {report['files_succeeded']:,} files,"
        f" {report['files_downloaded']:,} downloaded, {report['commits']} commits, {report['bytes_uploaded']:,} bytes"
        f" uploaded; all {n:,} files now in the repo. Peak RSS = VmHWM at exit"
        f" (wait4 ru_maxrss {mib(backup.cli.maxrss_kib)} MiB, which can include the pre-exec fork of this benchmark);"
        f" largest file {max(m.size for m in world.media) / MIB:.1f} MiB"
    )
    print(f"    Hub requests by kind: {hub.by_kind()}; media server requests: {backup.media_requests:,}")
    print(
        f"  - share = time of that part alone / the backup's wall time. Encryption: {enc.seconds:.1f} s wall,"
        f" {enc.cpu_s:.1f} s CPU (cipher + hashing + writer thread, one file at a time; includes the per-file fsync);"
        f" the backup encrypts up to {a.concurrency} files at once on {os.cpu_count()} CPUs, so its encryption"
        f" can take less wall time than this"
    )
    print(
        f"  - download: every medium fetched by hfcheck's Downloader, {a.concurrency} at once as in the backup,"
        f" in a child process, written + fsynced to a scratch folder;"
        f" {dl.cpu_s:.1f} s CPU in that child; the media server is local, with no added latency"
    )
    print(
        f"  - Hub: the Committer alone uploading the step-2 ciphertexts into a second repo (same batching, one"
        f" producer that never waits): {a.latency_ms:g} ms emulated latency per request over loopback, plus the"
        f" client's hashing and the emulator's own work (it hashes and stores every byte) on the same CPUs"
    )
    print(f"    Hub requests by kind: {up_hub.by_kind()}")
    explained = (dl.seconds + enc.seconds + up.seconds) / wall
    print(
        f"  - the parts alone add up to {explained:.0%} of the backup's wall time"
        + (
            " (> 100%: they overlap in the backup)"
            if explained > 1
            else " (< 100%: the rest is start-up, planning, DB updates and stages waiting on each other)"
        )
    )
    print(
        f"  - at hfcheck's default pacing of {DOWNLOADS_PER_S:g} downloads/s per host, {n:,} downloads alone would take"
        f" >= {n / DOWNLOADS_PER_S:,.0f} s"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker(sys.argv[2:])
    else:
        main()
