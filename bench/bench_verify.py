"""`verify` against the Hub emulator (20 ms per request): the users' old sequential script,
`--method head` at concurrency 64, `--method list`, and peak memory for a million URLs.

The million-URL part measures `verify --method list` three ways on the same world: at 20 ms
per request (wall, requests, peak RSS), the pipeline before bulk settling at the same latency
(`VerifyOptions(per_url=True)`: every URL through the queue, repos listed one after another:
the ratio), and at 150 ms per request, where the wall time is printed beside the longest chain
of pages that must be fetched one after another (the floor that concurrency leaves).

Everything printed is measured in this one run. The emulator runs as a separate process
(`EmulatorProcess`, `python -m hfcheck hub serve --latency-ms 20`) so its CPU work does not
share the benchmark's GIL; each measured run is a child process of its own, whose peak RSS is
its kernel high-water mark (`VmHWM` read at exit) — not inflated by this parent.

Synthetic world: one URL per tweet, files `encrypted_images/user{k}/{base32 name}` over 50
user folders, identical tiny content (blobs dedupe), ~1% of URLs missing on the Hub and one
wrong (unencrypted `images/...`) path per 20,000 tweets. At most 100,000 files per repo (the
configured `max_files_per_repo`), so the million-URL archive spans ten repos.

    python -m bench verify                  # full run (100,000 URLs, then 1,000,000 in 10 repos)
    python -m bench verify --million 200000 --slow-latency-ms 0 --no-baseline   # a quicker million part
    python -m bench.bench_verify --urls 5000 --million 0     # quick run
    HFCHECK_BENCH_ARGS="--urls 5000 --million 0" python -m bench verify

The rate-limit ceilings are raised for hfcheck (`limits.resolvers_per_window` and
`limits.api_per_window` = 10**9; the emulator has no quotas here): this measures speed, not
the free plan's 5,000 resolves per 5 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import bench_argv, child_env, mib, run_hfcheck, table, vmhwm_kib

MIB = 1 << 20
LATENCY_MS = 20
CONCURRENCY = 64
USERS = 50
PER_REPO = 100_000
MISSING_RATE = 0.01
WRONG_EVERY = 20_000
CONTENT = b"\x00hfcheck-bench\n"  # binary: stored as LFS; identical everywhere so it dedupes
FIRST_ID = 1_600_000_000_000_000_000
SEED_DEADLINE_S = 180.0
RUN_DEADLINE_S = 180.0
BIG_LIMITS = {"limits.resolvers_per_window": 10**9, "limits.api_per_window": 10**9}
ROOT = Path(__file__).resolve().parent.parent

SLOW_LATENCY_MS = 150  # the real Hub from Japan: 150-250 ms a round trip
PAGE = 1000  # entries per tree page

# Targets
LIST_MAX_S = 10.0
LIST_MAX_REQUESTS = 200
HEAD_MIN_SPEEDUP = 30.0
MILLION_MAX_MIB = 150.0
MILLION_MAX_S = 20.0
MILLION_MAX_REQUESTS = 1_100
CHAIN_MAX_RATIO = 2.0


# --------------------------------------------------------------------------------------
# The synthetic world
# --------------------------------------------------------------------------------------


@dataclass
class World:
    urls: int = 0
    expected: dict[str, int] = field(default_factory=lambda: {"present": 0, "missing": 0, "wrong_path": 0})
    seed_s: float = 0.0
    db_s: float = 0.0
    repos: int = 0
    truncated: bool = False


def build_world(
    store: Any, endpoint: str, db: Path, n: int, repo_prefix: str, seed: int, deadline_s: float | None = None
) -> World:
    """Archive DB of `n` one-URL tweets and the matching repos, one repo per 100,000 tweets.

    Seeds repo by repo and stops early (fewer URLs, `truncated`) once `deadline_s` is spent."""
    from hfcheck.model.paths import BackupURL

    rng = random.Random(seed)
    world = World()
    con = sqlite3.connect(db)
    con.execute(
        "CREATE TABLE tweets (id TEXT PRIMARY KEY, username TEXT, media_urls TEXT, huggingface_urls TEXT, text TEXT)"
    )
    started = time.perf_counter()
    repos = (n + PER_REPO - 1) // PER_REPO
    for r in range(repos):
        if deadline_s is not None and r and time.perf_counter() - started > deadline_s:
            world.truncated = True
            break
        repo_id = f"{repo_prefix}-{r:02d}" if repos > 1 else repo_prefix
        rows: list[tuple[str, str, str, str, str]] = []
        files: list[tuple[str, bytes]] = []
        for i in range(r * PER_REPO, min(n, (r + 1) * PER_REPO)):
            tweet_id = str(FIRST_ID + i * 7919)
            user = f"user{rng.randrange(USERS)}"
            name = base64.b32encode(rng.randbytes(25)).decode().rstrip("=").lower()
            if i % WRONG_EVERY == WRONG_EVERY // 2:
                path = f"images/{user}/{tweet_id}_0.jpg"  # recorded unencrypted; nothing there
                world.expected["wrong_path"] += 1
            else:
                path = f"encrypted_images/{user}/{name}"
                if rng.random() < MISSING_RATE:
                    world.expected["missing"] += 1
                else:
                    files.append((path, CONTENT))
                    world.expected["present"] += 1
            url = str(BackupURL(endpoint, repo_id, "main", path))
            media = json.dumps([f"https://pbs.twimg.com/media/{name[:15]}.jpg"])
            rows.append((tweet_id, user, media, json.dumps([url]), f"tweet {i}"))
        t = time.perf_counter()
        store.create_repo(repo_id, owner=repo_prefix.split("/")[0], exist_ok=True)
        store.commit(repo_id, files, message=f"seed {len(files)} files", lfs=True)
        world.seed_s += time.perf_counter() - t
        t = time.perf_counter()
        con.executemany("INSERT INTO tweets VALUES (?,?,?,?,?)", rows)
        con.commit()
        world.db_s += time.perf_counter() - t
        world.urls += len(rows)
        world.repos += 1
        del rows, files
    con.close()
    return world


def write_config(path: Path, db: Path, endpoint: str) -> None:
    path.write_text(
        f'[archive]\ndb = "{db}"\n\n[hub]\nendpoint = "{endpoint}"\n\n'
        f"[limits]\nresolvers_per_window = {10**9}\napi_per_window = {10**9}\n",
        encoding="utf-8",
    )


# --------------------------------------------------------------------------------------
# Child processes (workers)
# --------------------------------------------------------------------------------------


async def _naive(db: Path, limit: int, batch: int = 200, pause: float = 0.2) -> dict[str, Any]:
    """The users' old script: one HEAD after the other, a 0.2 s pause after every 200."""
    import aiohttp

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    urls = [
        json.loads(hf)[0] for (hf,) in con.execute("SELECT huggingface_urls FROM tweets ORDER BY id LIMIT ?", (limit,))
    ]
    con.close()
    present = missing = other = requests = 0
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        for i, url in enumerate(urls, 1):
            async with session.head(url, allow_redirects=False) as resp:
                requests += 1
                if resp.status < 400:
                    present += 1
                elif resp.status == 404:
                    missing += 1
                else:
                    other += 1
            if i % batch == 0:
                await asyncio.sleep(pause)
    seconds = time.perf_counter() - started
    return {
        "urls": len(urls),
        "seconds": seconds,
        "requests": requests,
        "present": present,
        "missing": missing,
        "other": other,
    }


def longest_chain(store: Any, repo_ids: list[str]) -> tuple[int, int]:
    """(pages, longest chain of pages) of listing these repos as verify does: the root one level
    deep, then each top-level folder recursively (a folder's listing has its files and subfolders).
    Counted from the store, independently of hfcheck."""
    import math

    pages = chain = 0
    for repo_id in repo_ids:
        top: dict[str, set[str]] = {}
        root = 0
        for path in store.list_paths(repo_id):
            parts = path.split("/")
            if len(parts) == 1:
                root += 1
            else:
                top.setdefault(parts[0], set()).update({path, *("/".join(parts[:i]) for i in range(2, len(parts)))})
        root_pages = max(1, math.ceil((root + len(top)) / PAGE))
        folder_pages = [math.ceil(len(e) / PAGE) for e in top.values()]
        pages += root_pages + sum(folder_pages)
        chain = max(chain, root_pages + max(folder_pages, default=0))
    return pages, chain


async def _hfcheck(config: Path, data_dir: Path, method: str, deadline: float, per_url: bool = False) -> dict[str, Any]:
    from hfcheck.config import load_config
    from hfcheck.net.hub import Hub
    from hfcheck.verify.checkpoint import PROGRESS_NAME
    from hfcheck.verify.pipeline import VerifyOptions, run_verify

    cfg = load_config(config, {"lang": "en", "data_dir": data_dir, **BIG_LIMITS}, env={})
    opts = VerifyOptions(method=method, concurrency=CONCURRENCY, per_url=per_url)
    started = time.perf_counter()
    try:
        async with Hub(cfg, concurrency=opts.concurrency) as hub:
            result = await asyncio.wait_for(run_verify(cfg, opts, hub), deadline)
    except asyncio.TimeoutError:
        seconds = time.perf_counter() - started
        saved = json.loads((data_dir / PROGRESS_NAME).read_text())
        return {
            "stopped": True,
            "seconds": seconds,
            "counts": saved["counts"],
            "urls": saved["counts"]["total"],
            "requests": None,
        }
    seconds = time.perf_counter() - started
    counts = dict(result.progress.counts)
    return {
        "stopped": False,
        "seconds": seconds,
        "counts": counts,
        "urls": counts.get("total", 0),
        "requests": result.stats.get("requests"),
        "stats": result.stats,
    }


def _worker(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["naive", "head", "list"])
    p.add_argument("--db", type=Path)
    p.add_argument("--limit", type=int, default=2000)
    p.add_argument("--config", type=Path)
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--deadline", type=float, default=RUN_DEADLINE_S)
    p.add_argument("--per-url", action="store_true", help="The pipeline before bulk settling (the baseline).")
    a = p.parse_args(argv)
    if a.kind == "naive":
        out = asyncio.run(_naive(a.db, a.limit))
    else:
        out = asyncio.run(_hfcheck(a.config, a.data_dir, a.kind, a.deadline, a.per_url))
    out["peak_kib"] = vmhwm_kib()
    print(json.dumps(out))


def run_child(args: list[str], timeout: float) -> tuple[dict[str, Any], float]:
    """Run a worker of this module in a fresh interpreter; its JSON line and wall seconds."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bench_verify", "--worker", *args],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall


# --------------------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _counts_line(found: dict[str, int], expected: dict[str, int]) -> str:
    got = {k: found.get(k, 0) for k in expected}
    extra = {k: v for k, v in found.items() if k not in expected and k != "total" and v}
    mark = "as planted" if got == expected and not extra else f"EXPECTED {expected}"
    return f"{got}{' + ' + str(extra) if extra else ''} ({mark})"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench verify", description=__doc__.split("\n\n")[0])
    p.add_argument("--urls", type=int, default=100_000, help="URLs in the main archive (default 100,000).")
    p.add_argument(
        "--naive-urls", type=int, default=2_000, help="URLs the naive script checks, then extrapolated (default 2,000)."
    )
    p.add_argument(
        "--million", type=int, default=1_000_000, help="URLs for the memory run (0 = skip; default 1,000,000)."
    )
    p.add_argument("--latency-ms", type=float, default=LATENCY_MS)
    p.add_argument(
        "--slow-latency-ms",
        type=float,
        default=SLOW_LATENCY_MS,
        help="Latency of the million run's second pass (0 = skip).",
    )
    p.add_argument("--no-baseline", action="store_true", help="Skip the million run of the per-URL pipeline.")
    p.add_argument("--keep", action="store_true", help="Keep the temp dir (its path is printed).")
    return p.parse_args(bench_argv(sys.argv[1:]) if argv is None else argv)


def main(argv: list[str] | None = None) -> None:
    from hfcheck.sim.emulator.testing import EmulatorProcess

    a = parse_args(argv)
    naive_n = min(a.naive_urls, a.urls)
    tmp = Path(tempfile.mkdtemp(prefix="hfcheck-bench-verify-"))
    emu = EmulatorProcess(tmp / "hub", "--latency-ms", str(a.latency_ms))
    rows: list[tuple[str, ...]] = []
    notes: list[str] = []
    try:
        emu.start()
        ctl = emu.control
        print(
            f"emulator: separate process ({emu.url}), {a.latency_ms:g} ms latency per request, no quotas;"
            f" hfcheck limits raised via config overrides {BIG_LIMITS}"
        )
        store = emu.store
        store.create_repo("bench/warmup", exist_ok=True)

        # ---- main archive ------------------------------------------------------------
        db = tmp / "archive.db"
        world = build_world(store, emu.url, db, a.urls, "bench/media", seed=1)
        store.close()
        print(
            f"setup: {world.urls:,} URLs in {world.repos} repo(s); seeding the store {world.seed_s:.1f} s,"
            f" writing the archive DB {world.db_s:.1f} s; planted {world.expected}"
        )
        config = tmp / "hfcheck.toml"
        write_config(config, db, emu.url)

        # 1. naive sequential script on a subset, extrapolated
        ctl.reset_stats()
        naive, _ = run_child(["naive", "--db", str(db), "--limit", str(naive_n)], timeout=3600)
        naive_emu = ctl.stats()["requests"]
        naive_rate = naive["urls"] / naive["seconds"]
        naive_full_s = a.urls / naive_rate
        rows.append(
            (
                "naive sequential HEAD (old script)",
                f"{naive['urls']:,}",
                f"{naive['seconds']:.1f}",
                f"{naive_rate:,.0f}",
                f"{naive_emu:,}",
                f"{naive['requests']:,}*",
                mib(naive["peak_kib"]),
            )
        )
        notes.append(
            f"naive: measured on the first {naive['urls']:,} URLs (HEAD one by one, 0.2 s pause per 200; aiohttp, one"
            f" keep-alive session; *its own count), extrapolated to {a.urls:,} URLs: {naive_full_s:,.0f} s"
            f" ({naive_full_s / 3600:.2f} h); found {naive['present']:,} present, {naive['missing']:,} missing"
        )

        # 2. head at concurrency 64, full archive unless it would take over RUN_DEADLINE_S
        ctl.reset_stats()
        head, head_wall = run_child(
            ["head", "--config", str(config), "--data-dir", str(tmp / "run-head"), "--deadline", str(RUN_DEADLINE_S)],
            timeout=RUN_DEADLINE_S + 600,
        )
        head_emu = ctl.stats()["requests"]
        head_rate = head["urls"] / head["seconds"]
        label = f"hfcheck --method head -c {CONCURRENCY}"
        rows.append(
            (
                label,
                f"{head['urls']:,}",
                f"{head['seconds']:.1f}",
                f"{head_rate:,.0f}",
                f"{head_emu:,}",
                f"{head['requests']:,}" if head["requests"] is not None else "-",
                mib(head["peak_kib"]),
            )
        )
        if head["stopped"]:
            notes.append(
                f"head: stopped after {RUN_DEADLINE_S:.0f} s with {head['urls']:,} URLs settled;"
                f" extrapolated to {a.urls:,}:"
                f" {a.urls / head_rate:,.0f} s"
            )
        else:
            notes.append(
                f"head: full {a.urls:,} URLs; child process wall {head_wall:.1f} s incl. interpreter start;"
                f" retries {head['stats'].get('retries')}, 429s {head['stats'].get('rate_limited')};"
                f" findings {_counts_line(head['counts'], world.expected)}"
            )

        # 3. list on the full archive
        ctl.reset_stats()
        lst, lst_wall = run_child(
            [
                "list",
                "--config",
                str(config),
                "--data-dir",
                str(tmp / "run-list"),
                "--deadline",
                str(RUN_DEADLINE_S * 2),
            ],
            timeout=RUN_DEADLINE_S * 2 + 600,
        )
        lst_stats = ctl.stats()
        lst_emu = lst_stats["requests"]
        lst_rate = lst["urls"] / lst["seconds"]
        rows.append(
            (
                "hfcheck --method list",
                f"{lst['urls']:,}",
                f"{lst['seconds']:.1f}",
                f"{lst_rate:,.0f}",
                f"{lst_emu:,}",
                f"{lst['requests']:,}" if lst["requests"] is not None else "-",
                mib(lst["peak_kib"]),
            )
        )
        notes.append(
            f"list: full {a.urls:,} URLs; child wall {lst_wall:.1f} s; requests by kind {lst_stats['kinds']};"
            f" findings {_counts_line(lst['counts'], world.expected)}"
        )

        # ---- table -------------------------------------------------------------------
        header = ("run", "URLs", "wall s", "URLs/s", "req (emulator)", "req (hfcheck)", "peak RSS MiB")
        print()
        print(table(header, rows))
        print()
        for n in notes:
            print(f"  - {n}")
        print()

        # ---- targets -----------------------------------------------------------------
        list_ok = not lst["stopped"] and lst["seconds"] < LIST_MAX_S and lst_emu < LIST_MAX_REQUESTS
        speedup = head_rate / naive_rate
        scale = "" if a.urls == 100_000 else f" [at {a.urls:,} URLs, not 100,000]"
        print(
            f"target list < {LIST_MAX_S:g} s and < {LIST_MAX_REQUESTS} requests: {lst['seconds']:.2f} s,"
            f" {lst_emu} requests{scale} -> {_verdict(list_ok)}"
        )
        print(
            f"target head >= {HEAD_MIN_SPEEDUP:g}x naive (URLs/s):"
            f" {head_rate:,.0f} / {naive_rate:,.1f} = {speedup:.1f}x"
            f" -> {_verdict(speedup >= HEAD_MIN_SPEEDUP)}"
        )

        # ---- one million URLs, peak memory of `python -m hfcheck verify --method list` ----
        if a.million > 0:
            store = emu.store
            mdb = tmp / "million.db"
            t = time.perf_counter()
            big = build_world(store, emu.url, mdb, a.million, "bench/m1m", seed=2, deadline_s=SEED_DEADLINE_S)
            store.close()
            setup_s = time.perf_counter() - t
            print()
            print(
                f"memory run setup: {big.urls:,} URLs in {big.repos} repos of <= {PER_REPO:,} files;"
                f" seeding the store {big.seed_s:.1f} s, archive DB {big.db_s:.1f} s, total {setup_s:.1f} s"
            )
            if big.truncated:
                print(
                    f"  NOTE: seeding passed {SEED_DEADLINE_S:.0f} s,"
                    f" so the memory run uses {big.urls:,} URLs, not {a.million:,}"
                )
            mconfig = tmp / "million.toml"
            write_config(mconfig, mdb, emu.url)
            base_kib = run_hfcheck(["--version"], tmp, child_env(), timeout=120).peak_kib
            store = emu.store
            pages, chain = longest_chain(
                store, [f"bench/m1m-{r:02d}" for r in range(big.repos)] if big.repos > 1 else ["bench/m1m"]
            )
            store.close()

            def million(data: str, latency_ms: float) -> tuple[Any, int, dict[str, Any]]:
                ctl.set_faults(latency_ms=latency_ms)
                ctl.reset_stats()
                run = run_hfcheck(
                    [
                        "verify",
                        "--method",
                        "list",
                        "--config",
                        str(mconfig),
                        "--data-dir",
                        str(tmp / data),
                        "--lang",
                        "en",
                    ],
                    tmp,
                    child_env(),
                    timeout=1800,
                )
                report = json.loads((tmp / data / "verify_report.json").read_text())
                return run, ctl.stats()["requests"], report

            run, m_emu, report = million("run-million", a.latency_ms)
            rc, wall, kib, maxrss = run.rc, run.wall_s, run.peak_kib, run.maxrss_kib
            print(
                f"python -m hfcheck verify --method list on {big.urls:,} URLs, {a.latency_ms:g} ms per request:"
                f" exit {rc}, wall {wall:.1f} s ({big.urls / wall:,.0f} URLs/s), {m_emu:,} requests (emulator),"
                f" listing stats {report['stats']}"
            )
            print(
                f"  peak RSS {mib(kib)} MiB (VmHWM at exit; wait4 ru_maxrss {mib(maxrss)} MiB);"
                f" interpreter + hfcheck baseline (`python -m hfcheck --version`) {mib(base_kib)} MiB"
            )
            print(f"  findings {_counts_line(report['counts'], big.expected)}")
            if not a.no_baseline:
                ctl.reset_stats()
                per, per_wall = run_child(
                    [
                        "list",
                        "--per-url",
                        "--config",
                        str(mconfig),
                        "--data-dir",
                        str(tmp / "run-million-per-url"),
                        "--deadline",
                        "3000",
                    ],
                    timeout=3600,
                )
                per_emu = ctl.stats()["requests"]
                same = {k: v for k, v in per["counts"].items() if v} == {k: v for k, v in report["counts"].items() if v}
                print(
                    "  the pipeline before bulk settling (per-URL queue, repos listed one after another),"
                    " same world and latency:"
                    f" wall {per_wall:.1f} s, {per_emu:,} requests, peak {mib(per['peak_kib'])} MiB,"
                    f" same counts: {same}"
                    f" -> bulk is {per_wall / wall:.1f}x faster"
                )
            ok = (
                wall <= MILLION_MAX_S
                and m_emu <= MILLION_MAX_REQUESTS
                and kib / 1024 <= MILLION_MAX_MIB
                and rc in (0, 1)
            )
            print(
                f"target {big.urls:,} URLs (list) <= {MILLION_MAX_S:g} s, <= {MILLION_MAX_REQUESTS:,} requests,"
                f" <= {MILLION_MAX_MIB:g} MiB: {wall:.1f} s, {m_emu:,}, {mib(kib)} MiB -> {_verdict(ok)}"
                + ("" if big.urls >= 1_000_000 else "  [fewer URLs than 1,000,000]")
            )
            if a.slow_latency_ms > 0:
                slow, s_emu, s_report = million("run-million-slow", a.slow_latency_ms)
                floor = chain * a.slow_latency_ms / 1000
                ratio = slow.wall_s / floor
                print(
                    f"python -m hfcheck verify --method list, {a.slow_latency_ms:g} ms per request:"
                    f" exit {slow.rc}, wall {slow.wall_s:.1f} s,"
                    f" {s_emu:,} requests; longest chain of pages {chain} (of {pages:,})"
                    f" x {a.slow_latency_ms:g} ms = {floor:.1f} s"
                    f" (hfcheck counted {s_report['stats'].get('longest_chain')})"
                )
                print(
                    f"target wall within {CHAIN_MAX_RATIO:g}x the longest chain:"
                    f" {slow.wall_s:.1f} / {floor:.1f} = {ratio:.2f}x"
                    f" -> {_verdict(ratio <= CHAIN_MAX_RATIO and slow.rc in (0, 1))}"
                )
                ctl.set_faults(latency_ms=a.latency_ms)
    finally:
        emu.stop()
        if a.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker(sys.argv[2:])
    else:
        main(sys.argv[1:])
