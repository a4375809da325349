"""A stand-in for the users' scraper, for `watch`'s tests and benchmark: a separate process that
inserts tweets into the archive at a steady rate, in the demo's format.

    python -m hfcheck.sim.scraper DB SOURCE_DIR MEDIA_BASE --tweets N --rate R [--first-id ID]
                                 [--local MEDIA_ROOT] [--log FILE] [--seed S]

For each tweet: 1-3 media (jpg/png, some mp4) written to SOURCE_DIR (what the media server
serves at MEDIA_BASE/NAME) and, for about half of them, to the local layout under MEDIA_ROOT
(the scraper downloaded them already); then one row (`media_urls` set, no backup URL yet),
committed on its own as a scraper does. `--log` gets `TWEET_ID UNIX_TIME` per inserted row
(the benchmark's start of the clock).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from hfcheck.sim.demo import ACCOUNTS, FIRST_ID, MAGIC

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS tweets"
    " (id TEXT PRIMARY KEY, username TEXT, media_urls TEXT, huggingface_urls TEXT, text TEXT)"
)


def create_archive(db: Path) -> None:
    """An empty archive in the demo's schema."""
    con = sqlite3.connect(db)
    try:
        con.execute(SCHEMA)
        con.commit()
    finally:
        con.close()


def media_for(rng: random.Random, tweet_id: str, count: int, small: bool) -> list[tuple[str, bytes]]:
    out = []
    for i in range(count):
        ext = rng.choice(["jpg", "jpg", "png", "mp4"])
        size = rng.randint(1_000, 8_000) if small or ext != "mp4" else rng.randint(40_000, 120_000)
        out.append((f"{tweet_id}_{i}.{ext}", MAGIC[ext] + rng.randbytes(size)))
    return out


def generate(
    *, tweets: int, first_id: int = FIRST_ID, seed: int = 1, small: bool = False, local: bool = True
) -> Iterator[tuple[str, str, list[tuple[str, bytes, bool]]]]:
    """(tweet id, username, [(file name, bytes, also saved locally)]) of each tweet, in insert
    order; deterministic per seed, so a test can name the media of a tweet not inserted yet."""
    rng = random.Random(seed)
    for n in range(tweets):
        tweet_id = str(first_id + n * 7)
        user = rng.choice(ACCOUNTS)
        media = media_for(rng, tweet_id, rng.randint(1, 3), small)
        yield tweet_id, user, [(name, data, local and rng.random() < 0.5) for name, data in media]


def scrape(
    db: Path,
    source: Path,
    media_base: str,
    *,
    tweets: int,
    rate: float,
    first_id: int = FIRST_ID,
    local: Path | None = None,
    log: Path | None = None,
    seed: int = 1,
    small: bool = False,
) -> list[str]:
    """Insert `tweets` rows at `rate` a second; returns their ids."""
    con = sqlite3.connect(db, timeout=30)
    con.execute("PRAGMA busy_timeout = 30000")
    ids: list[str] = []
    start = time.monotonic()
    logf = log.open("a", encoding="utf-8") if log else None
    try:
        for n, (tweet_id, user, media) in enumerate(
            generate(tweets=tweets, first_id=first_id, seed=seed, small=small, local=local is not None)
        ):
            for name, data, keep_local in media:
                (source / name).parent.mkdir(parents=True, exist_ok=True)
                (source / name).write_bytes(data)
                if local is not None and keep_local:
                    folder = local / ("videos" if name.endswith(".mp4") else "images") / user
                    folder.mkdir(parents=True, exist_ok=True)
                    (folder / name).write_bytes(data)
            urls = [f"{media_base.rstrip('/')}/{name}" for name, _, _ in media]
            if rate > 0:
                time.sleep(max(0.0, start + n / rate - time.monotonic()))
            with con:
                con.execute(
                    "INSERT INTO tweets VALUES (?,?,?,?,?)",
                    (tweet_id, user, json.dumps(urls), None, f"scraped {tweet_id}"),
                )
            if logf:
                logf.write(f"{tweet_id} {time.time():.3f}\n")
                logf.flush()
            ids.append(tweet_id)
    finally:
        con.close()
        if logf:
            logf.close()
    return ids


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hfcheck.sim.scraper", description=__doc__.splitlines()[0])
    p.add_argument("db", type=Path)
    p.add_argument("source", type=Path)
    p.add_argument("media_base")
    p.add_argument("--tweets", type=int, default=10)
    p.add_argument("--rate", type=float, default=10.0)
    p.add_argument("--first-id", type=int, default=FIRST_ID)
    p.add_argument("--local", type=Path)
    p.add_argument("--log", type=Path)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--small", action="store_true", help="small media only (long simulated runs)")
    a = p.parse_args(argv)
    scrape(
        a.db,
        a.source,
        a.media_base,
        tweets=a.tweets,
        rate=a.rate,
        first_id=a.first_id,
        local=a.local,
        log=a.log,
        seed=a.seed,
        small=a.small,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
