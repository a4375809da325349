"""Streaming the users' tweets table: `Archive(cfg).rows()` over 1,000,000 rows in flat memory.

Builds a 1M-row SQLite table in the users' schema (TEXT ids, JSON URL lists, a few messy rows:
invalid JSON, bare URLs, non-string items, duplicates, foreign hosts, bad usernames, NULLs),
then streams it in a child process and reports rows/s and the child's peak RSS (VmHWM) next
to a baseline child that imported the same modules and opened the archive without reading.
Target: peak RSS under 100 MiB (absolute, not above baseline).

    python -m bench archive
    python -m bench.bench_archive --rows 100000
    HFCHECK_BENCH_ARGS="--rows 100000" python -m bench archive
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import bench_argv, vmhwm_kib

ROOT = Path(__file__).resolve().parent.parent
MAX_PEAK_MIB = 100.0
HUB = "https://huggingface.co/datasets/alice/media/resolve/main"
FIRST_ID = 1_600_000_000_000_000_000
MESSY = [  # (username, media_urls, huggingface_urls): each a reported problem, never a crash
    ("alice", "{not json", json.dumps([f"{HUB}/encrypted_images/alice/x"])),
    ("alice", "https://pbs.twimg.com/media/BARE.jpg", f"{HUB}/encrypted_images/alice/bare"),
    ("bob", json.dumps("https://pbs.twimg.com/media/S.jpg"), json.dumps(f"{HUB}/encrypted_images/bob/s")),
    ("bob", json.dumps(["https://pbs.twimg.com/media/A.jpg", 3, None]), json.dumps([f"{HUB}/a", f"{HUB}/a"])),
    ("../etc", json.dumps(["https://evil.example/x.jpg"]), json.dumps(["https://evil.example/y"])),
    (None, None, None),
    ("carol", "", "[]"),
    ("carol", 42, 7.5),
    ("dave", json.dumps({"a": 1}), '["' + HUB + "/encrypted_images/dave/trunc"),
]


def build_db(path: Path, n: int, seed: int = 3) -> int:
    """The users' schema with `n` rows, about 10 of each MESSY kind spread evenly among them."""
    rng = random.Random(seed)
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE tweets (id TEXT PRIMARY KEY, username TEXT, media_urls TEXT, huggingface_urls TEXT, text TEXT)"
    )
    messy = 0
    every = max(1, n // (len(MESSY) * 10))

    def rows():
        nonlocal messy
        for i in range(n):
            tid = str(FIRST_ID + i * 7919)
            if i % every == every // 2:
                user, media, hf = MESSY[messy % len(MESSY)]
                messy += 1
                yield (tid, user, media, hf, "messy")
                continue
            user = f"user{rng.randrange(50)}"
            k = rng.choice((1, 1, 1, 2, 4))
            names = [f"{rng.getrandbits(64):016x}" for _ in range(k)]
            media = json.dumps([f"https://pbs.twimg.com/media/{x}.jpg" for x in names])
            hf = json.dumps([f"{HUB}/encrypted_images/{user}/{x}{x}" for x in names]) if rng.random() > 0.05 else "[]"
            yield (tid, user, media, hf, f"tweet number {i} with some text that is about this long")

    con.executemany("INSERT INTO tweets VALUES (?,?,?,?,?)", rows())
    con.commit()
    con.close()
    return messy


async def _stream(db: Path, read: bool) -> dict[str, Any]:
    from hfcheck.config import load_config
    from hfcheck.db.archive import Archive

    cfg = load_config(None, {"db": db, "lang": "en"}, env={})
    rows = urls = problems = 0
    started = time.perf_counter()
    async with Archive(cfg) as archive:
        if read:
            async for row in archive.rows():
                rows += 1
                urls += len(row.hf_urls)
                problems += len(row.problems)
    return {"rows": rows, "urls": urls, "problems": problems, "seconds": time.perf_counter() - started}


def _worker(argv: list[str]) -> None:
    import asyncio

    kind, db = argv[0], Path(argv[1])
    out = asyncio.run(_stream(db, read=kind == "stream"))
    out["peak_kib"] = vmhwm_kib()
    print(json.dumps(out))


def _child(kind: str, db: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bench_archive", "--worker", kind, str(db)],
        cwd=db.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker {kind} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench archive")
    p.add_argument("--rows", type=int, default=1_000_000, help="Rows in the table (default 1,000,000).")
    return p.parse_args(bench_argv(sys.argv[1:]) if argv is None else argv)


def main(argv: list[str] | None = None) -> None:
    a = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hfcheck-bench-archive-") as tmp:
        db = Path(tmp) / "archive.db"
        t = time.perf_counter()
        messy = build_db(db, a.rows)
        print(
            f"built {a.rows:,} rows ({messy} messy) in {time.perf_counter() - t:.1f} s,"
            f" {db.stat().st_size / (1 << 20):.0f} MiB on disk"
        )
        base = _child("baseline", db)
        got = _child("stream", db)
        rate = got["rows"] / got["seconds"]
        peak, base_mib = got["peak_kib"] / 1024, base["peak_kib"] / 1024
        print(
            f"streamed {got['rows']:,} rows ({got['urls']:,} backup URLs, {got['problems']:,} row problems reported)"
            f" in {got['seconds']:.1f} s = {rate:,.0f} rows/s"
        )
        print(
            f"peak RSS {peak:.1f} MiB; baseline (same imports, archive opened, nothing read) {base_mib:.1f} MiB;"
            f" above baseline {peak - base_mib:.1f} MiB"
        )
        ok = got["rows"] == a.rows and peak < MAX_PEAK_MIB
        print(
            f"target peak RSS < {MAX_PEAK_MIB:g} MiB streaming {a.rows:,} rows: {peak:.1f} MiB"
            f" -> {'PASS' if ok else 'MISS'}"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker(sys.argv[2:])
    else:
        main(sys.argv[1:])
