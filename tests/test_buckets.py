"""Storage Buckets as a destination (issue 19), on the emulator, the official client the other party.

What hfcheck puts in a bucket is listed and downloaded by `HfApi` and decrypts to the local bytes;
a file the official client deletes is found missing by `verify` and put back by `repair`; the
Destination's batches resend what the server refused; bucket URLs parse and print back.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from huggingface_hub import HfApi
from hypothesis import given
from hypothesis import strategies as st

from hfcheck.crypto import decrypt_file, load_key
from hfcheck.errors import MalformedURL, UnsafePath
from hfcheck.model.paths import BUCKET_PREFIX, BackupURL, destination_id, is_bucket, local_path_for
from hfcheck.net.bucket import BUCKET_VERSION
from hfcheck.net.destination import Upload
from hfcheck.net.hub import Hub
from hfcheck.sim.demo import TOKEN, USER
from tests.helpers import DemoWorld, db_rows, demo_world, hub_state, run_cli, with_hub

BUCKET = f"{USER}/media-bucket"
BUCKET_ID = BUCKET_PREFIX + BUCKET

# -- the URL model ---------------------------------------------------------------------------------

_SEG = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True).filter(lambda s: ".." not in s)
_COMPONENT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"), min_size=1, max_size=12
).filter(lambda s: s not in (".", "..") and s.strip() == s)
_ENDPOINT = st.sampled_from(["https://huggingface.co", "http://127.0.0.1:8080", "https://hub.example/mirror"])


_PARTS = st.lists(_COMPONENT, min_size=1, max_size=4).filter(lambda p: not re.match(r"[A-Za-z]:", p[0]))  # no drive


@given(_ENDPOINT, _SEG, _SEG, _PARTS)
def test_bucket_url_round_trips(endpoint: str, ns: str, name: str, parts: list[str]) -> None:
    url = BackupURL(endpoint, f"{BUCKET_PREFIX}{ns}/{name}", "main", "/".join(parts))
    assert url.revision == ""  # a bucket has none: one given is dropped
    text = str(url)
    assert text.startswith(f"{endpoint}/buckets/{ns}/{name}/resolve/")
    assert BackupURL.parse(text) == url
    assert str(BackupURL.parse(text)) == text


@given(_ENDPOINT, _SEG, _SEG, _SEG, _PARTS)
def test_dataset_url_round_trips_beside_buckets(endpoint: str, ns: str, name: str, rev: str, parts: list[str]) -> None:
    url = BackupURL(endpoint, f"{ns}/{name}", rev, "/".join(parts))
    assert BackupURL.parse(str(url)) == url
    assert not is_bucket(url.repo_id)


@given(_SEG, _SEG)
def test_destination_ids(ns: str, name: str) -> None:
    assert destination_id(f"{ns}/{name}") == destination_id(f"hf://datasets/{ns}/{name}") == f"{ns}/{name}"
    assert destination_id(f"hf://buckets/{ns}/{name}") == f"hf://buckets/{ns}/{name}"


@pytest.mark.parametrize(
    "bad", ["hf://buckets/a", "hf://models/a/b", "hf://buckets/a/b/c", "hf://buckets/../b", "a/b\n", ""]
)
def test_destination_id_refuses(bad: str) -> None:
    with pytest.raises(UnsafePath):
        destination_id(bad)


@pytest.mark.parametrize(
    "bad",
    [
        "https://h/buckets/a/b/resolve/",  # no path
        "https://h/buckets/a/b/blob/x",  # not resolve
        "https://h/buckets/a/resolve/x",  # no name
        "https://h/buckets/a/b/resolve/../x",
    ],
)
def test_bad_bucket_urls(bad: str) -> None:
    with pytest.raises(MalformedURL):
        BackupURL.parse(bad)


def test_config_takes_both_forms(tmp_path: Path) -> None:
    with demo_world(tmp_path / "demo", tweets=2) as w:
        cfg = w.config(repos=(f"hf://datasets/{USER}/x", BUCKET_ID, f"{USER}/y"))
        assert cfg.repos == (f"{USER}/x", BUCKET_ID, f"{USER}/y")


# -- end to end ------------------------------------------------------------------------------------


def _api(w: DemoWorld) -> HfApi:
    return HfApi(endpoint=w.hub.url, token=TOKEN)


def _bucket_urls(w: DemoWorld) -> dict[str, list[str]]:
    con = sqlite3.connect(w.root / "archive.db")
    try:
        out = {}
        for tid, hf in con.execute("SELECT id, huggingface_urls FROM tweets WHERE huggingface_urls IS NOT NULL"):
            try:
                found = json.loads(hf or "[]")
            except json.JSONDecodeError:  # the demo plants broken rows
                continue
            urls = [u for u in found if isinstance(u, str) and "/buckets/" in u] if isinstance(found, list) else []
            if urls:
                out[tid] = urls
        return out
    finally:
        con.close()


def _bucket_problems(w: DemoWorld) -> list[dict]:
    report = json.loads((w.root / "data" / "verify_report.json").read_text())
    return [p for p in report["problems"] if p.get("repo_id") == BUCKET_ID]


def _backup_to_bucket(w: DemoWorld) -> None:
    _api(w).create_bucket(BUCKET)
    r = run_cli(w, "backup", "--repo", BUCKET_ID)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.slow
def test_backup_to_bucket_read_by_the_official_client(tmp_path: Path) -> None:
    with demo_world(tmp_path / "demo", tweets=40) as w:
        _backup_to_bucket(w)
        kinds = w.hub.control.stats()["kinds"]
        assert kinds.get("bucket_batch", 0) > 0 and not kinds.get("commit"), kinds  # no commit at all
        urls = _bucket_urls(w)
        assert urls, "backup wrote no bucket URL"
        api, key = _api(w), load_key(w.root / "archive.key")
        listed = {f.path: f for f in api.list_bucket_tree(BUCKET, recursive=True)}
        wanted = []
        for tid, hf in urls.items():
            for u in hf:
                url = BackupURL.parse(u)
                assert url.repo_id == BUCKET_ID and url.revision == ""
                assert url.path in listed, u
                wanted.append(url.path)
        out = tmp_path / "down"
        api.download_bucket_files(BUCKET, [(p, str(out / p)) for p in wanted])
        for p in wanted:
            rel = local_path_for(key, p)
            plain = tmp_path / "plain"
            decrypt_file(key, out / p, plain, p)
            assert plain.read_bytes() == (w.root / "media" / rel).read_bytes(), p
        # verify, both methods: every bucket URL present (the demo's planted repo problems aside)
        for method in ("head", "list"):
            r = run_cli(w, "verify", "--method", method, "--repo", BUCKET_ID)
            assert r.returncode in (0, 1), (method, r.stdout + r.stderr)
            assert _bucket_problems(w) == [], method
            report = json.loads((w.root / "data" / "verify_report.json").read_text())
            assert report["counts"]["present"] >= len(wanted)
            assert (report["stats"]["tree_pages"] > 0) == (method == "list"), report["stats"]  # the listing's cost


@pytest.mark.slow
def test_deleted_by_the_official_client_found_missing_and_repaired(tmp_path: Path) -> None:
    with demo_world(tmp_path / "demo", tweets=30) as w:
        _backup_to_bucket(w)
        api = _api(w)
        victim = BackupURL.parse(next(iter(_bucket_urls(w).values()))[0])
        api.batch_bucket_files(BUCKET, delete=[victim.path])
        local = w.root / "media" / local_path_for(load_key(w.root / "archive.key"), victim.path)
        local.unlink()  # and gone here too: a bucket has no history, so the media URL gives it back
        r = run_cli(w, "verify", "--method", "list", "--repo", BUCKET_ID)
        assert r.returncode == 1, r.stdout + r.stderr
        assert [(p["category"], p["path"]) for p in _bucket_problems(w)] == [("missing", victim.path)]
        before = _bucket_paths(w)
        r = run_cli(w, "repair", "--repo", BUCKET_ID)
        assert r.returncode in (0, 1), r.stdout + r.stderr
        assert _bucket_paths(w) >= before | {victim.path}  # put back, nothing deleted (planted problems land too)
        assert local.exists(), r.stdout
        r = run_cli(w, "verify", "--method", "head", "--repo", BUCKET_ID)
        assert _bucket_problems(w) == [], r.stdout


# -- migrate --to hf://buckets/NS/NAME ---------------------------------------------------------------


def _bucket_paths(w: DemoWorld) -> set[str]:
    return {f.path for f in _api(w).list_bucket_tree(BUCKET, recursive=True)}


def _every_url_restorable(w: DemoWorld, original: dict[str, list[str]], missing: set[str]) -> None:
    """Each tweet keeps as many URLs; each encrypted one names a file that is there (in the repo
    or the bucket, as the URL says), the planted missing files aside."""
    in_repo, in_bucket = set(hub_state(w)), _bucket_paths(w)
    rows = db_rows(w)
    for tid, urls in original.items():
        now = _backups(rows[tid][2])
        assert len(now) == len(urls), tid
        for u in now:
            if "/encrypted_" in u:
                url = BackupURL.parse(u)
                there = in_bucket if url.repo_id == BUCKET_ID else in_repo
                assert url.path in there or url.path in missing, (tid, u)


def _backups(raw: str | None) -> list[str]:
    try:
        urls = json.loads(raw or "[]")
    except ValueError:
        return []
    return urls if isinstance(urls, list) and all(isinstance(u, str) for u in urls) else []


def _kill_at_random(w: DemoWorld, args: list[str], rng: random.Random, requests: int) -> None:
    """SIGKILL `hfcheck ARGS` once the Hub has answered a random number of its requests."""
    w.hub.control.reset_stats()
    target = rng.randint(0, requests)
    cmd = [sys.executable, "-m", "hfcheck", *args, "--config", str(w.root / "hfcheck.toml")]
    proc = subprocess.Popen(cmd, env=w.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while proc.poll() is None and w.hub.control.stats()["requests"] < target:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.slow
def test_migrate_repo_to_bucket_killed_and_resumed(tmp_path: Path) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    print(f"kill points from random.Random({seed})")  # shown when the test fails: the same kills again
    rng = random.Random(seed)
    slow = {"latency_ms": 100, "latency_kinds": ["bucket_batch", "bucket_paths_info"]}  # kills land inside them
    with demo_world(tmp_path / "demo", tweets=40, **slow) as w:
        r = run_cli(w, "backup")  # these go over Xet: a Xet hash each, copied server-side
        assert r.returncode == 0, r.stdout + r.stderr
        _api(w).create_bucket(BUCKET)
        original = {tid: _backups(row[2]) for tid, row in db_rows(w).items()}
        encrypted = [BackupURL.parse(u) for urls in original.values() for u in urls if "/encrypted_" in u]
        missing = {u.path for u in encrypted} - set(hub_state(w))
        repo_before = hub_state(w)
        args = ["migrate", "--to", BUCKET_ID]
        r = run_cli(w, *args, "--dry-run")  # the plan, one line a file; nothing changes anywhere
        assert r.returncode in (0, 1) and "would move" in r.stdout, r.stdout + r.stderr
        assert {tid: _backups(row[2]) for tid, row in db_rows(w).items()} == original
        assert _bucket_paths(w) == set() and hub_state(w) == repo_before
        for _ in range(4):
            _kill_at_random(w, args, rng, requests=40)
            _every_url_restorable(w, original, missing)  # at every kill
        r = run_cli(w, *args)
        assert r.returncode in (0, 1), r.stdout + r.stderr  # 1: the planted missing files cannot move
        _every_url_restorable(w, original, missing)
        assert hub_state(w) == repo_before  # the repo untouched without --delete-old
        moved = [BackupURL.parse(u) for urls in db_rows(w).values() for u in _backups(urls[2]) if "/buckets/" in u]
        assert {u.path for u in moved} == {u.path for u in encrypted} - missing
        kinds = w.hub.control.stats()["kinds"]
        assert "lfs_upload" not in kinds
        # the bucket's files are the repo's bytes: byte for byte, through the official client
        api, out = _api(w), tmp_path / "down"
        api.download_bucket_files(BUCKET, [(u.path, str(out / u.path)) for u in moved])
        for u in moved:
            assert hashlib.sha256((out / u.path).read_bytes()).hexdigest() == repo_before[u.path], u.path
        # --delete-old: the moved files leave the repo (a commit); the bucket keeps them
        r = run_cli(w, *args, "--delete-old")
        assert r.returncode in (0, 1), r.stdout + r.stderr
        left = set(hub_state(w))
        assert not ({u.path for u in moved} & left)
        _every_url_restorable(w, original, missing)
        r = run_cli(w, "restore", "--all", "--out", str(tmp_path / "restored"), "--json")
        report = json.loads(r.stdout)
        assert report["counts"]["restored"] >= len(moved), report["counts"]


# -- the destination: a batch that is not atomic ------------------------------------------------------


async def test_refused_operations_are_sent_again_and_each_file_confirmed(tmp_path: Path) -> None:
    with demo_world(tmp_path / "demo", tweets=2) as w:
        _api(w).create_bucket(BUCKET)
        files = []
        for i in range(5):
            f = tmp_path / f"f{i}.bin"
            f.write_bytes(os.urandom(1000 + i))
            files.append(Upload(f"encrypted_images/x/f{i}", f, hashlib.sha256(f.read_bytes()).hexdigest(), 1000 + i))
        w.hub.control.set_faults(refuse_bucket_ops=3)  # the first batch: 3 of 5 listed failed, not applied
        w.hub.control.reset_stats()
        landed: list[str] = []

        async def on_landed(paths: list[str], version: str | None) -> None:
            landed.extend(paths)

        async with Hub(w.config(repos=(BUCKET_ID,))) as hub:
            written = await hub.destination.write(BUCKET_ID, files, message="", on_landed=on_landed)
        assert written is not None and written.version == BUCKET_VERSION
        assert sorted(landed) == [f.path for f in files[3:]]  # confirmed by the first look-up
        assert w.hub.control.stats()["kinds"]["bucket_batch"] == 2  # the 3 refused, sent again
        listed = {f.path: f for f in _api(w).list_bucket_tree(BUCKET, recursive=True)}
        assert {p: listed[p].size for p in listed} == {f.path: f.size for f in files}


@pytest.mark.slow
async def test_verify_on_a_bucket_is_not_fooled_by_429s_or_faults(tmp_path: Path) -> None:
    from hfcheck.verify.pipeline import VerifyOptions, run_verify

    with demo_world(tmp_path / "demo", tweets=30) as w:
        _backup_to_bucket(w)
        cfg = {"repos": (BUCKET_ID,)}
        clean = {
            m: await with_hub(run_verify, w.config(data_dir=tmp_path / f"clean-{m}", **cfg), VerifyOptions(method=m))
            for m in ("head", "list")
        }
        assert clean["head"].progress.counts == clean["list"].progress.counts
        ctl = w.hub.control
        ctl.set_faults(error_rate=0.05, reset_rate=0.02, seed=5)
        ctl.set_rate_limits(window_s=1, resolvers=15, api=2)
        try:
            for m in ("head", "list"):
                faulty = await with_hub(
                    run_verify,
                    w.config(data_dir=tmp_path / f"faulty-{m}", **cfg),
                    VerifyOptions(method=m, concurrency=8),
                )
                assert faulty.stats["rate_limited"] > 0 or faulty.stats["retries"] > 0, m
                assert faulty.progress.counts == clean[m].progress.counts, m
        finally:
            ctl.clear_faults()
            ctl.set_rate_limits(window_s=300, resolvers=None, api=None)
