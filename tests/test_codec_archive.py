"""The archive's own scheme end to end (issue "Your archive, your cipher"), through the real CLI:

- a Fernet archive written by plain `cryptography.fernet` code: read back, restored, repaired
  and backed up in Fernet (plain Fernet reads what hfcheck wrote); a second repair commits nothing;
- a mixed archive (Fernet + hfcheck-v1) with a file of random bytes: `unknown_format`, listed,
  never repaired or overwritten;
- a plug-in codec (one-way names) through repair, deep and restore;
- `migrate` Fernet → hfcheck-v1, killed with SIGKILL and resumed: every URL ends on a v1 file
  that restores byte-identical, and no old file is deleted before its replacement is
  committed, read back and recorded.
"""

from __future__ import annotations

import calendar
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hfcheck.crypto import HEAD_BYTES, load_codec
from hfcheck.model.paths import BackupURL, local_path_for
from hfcheck.sim.demo import REPO
from tests.fernet_archive import fernet_world, plain_fernet
from tests.helpers import DemoWorld, db_rows, demo_world, hub_state, run_cli

ROOT = Path(__file__).resolve().parents[1]


def env(world: DemoWorld) -> dict[str, str]:
    """The world's environment, with this checkout importable (plug-in codecs in tests/)."""
    return {**world.env(), "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def cli(world: DemoWorld, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(world, *args, env=env(world))


def blob(world: DemoWorld, path: str) -> bytes:
    entry = world.hub.store.file_info(REPO, path)
    assert entry is not None and entry.sha256 is not None, path
    return b"".join(world.hub.store.read_blob(entry.sha256))


def commits(world: DemoWorld) -> int:
    repo = world.hub.store.get_repo(REPO)
    assert repo is not None
    return int(world.hub.store.commit_count(repo))


def urls_of(world: DemoWorld, tweet_ids: list[str]) -> list[BackupURL]:
    rows = db_rows(world)
    return [BackupURL.parse(u) for tid in tweet_ids for u in json.loads(rows[tid][2] or "[]")]


def media_bytes(world: DemoWorld, rel: str) -> bytes:
    local = world.root / "media" / rel
    return local.read_bytes() if local.exists() else (world.root / "source" / rel.rsplit("/", 1)[1]).read_bytes()


def deep_report(world: DemoWorld) -> dict[str, Any]:
    r = cli(world, "verify", "--deep", "--sample", "all")
    assert "Traceback" not in r.stderr, r.stderr
    report: dict[str, Any] = json.loads((world.root / "data" / "verify_report.json").read_text())
    return report


def assert_restores_identical(world: DemoWorld, out: Path) -> dict[str, Any]:
    r = cli(world, "restore", "--all", "--out", str(out), "--json")
    report: dict[str, Any] = json.loads(r.stdout)
    restored = [p for p in out.rglob("*") if p.is_file()]
    assert restored and report["counts"]["restored"] == len(restored)
    for p in restored:
        assert p.read_bytes() == media_bytes(world, str(p.relative_to(out))), p
    return report


@pytest.mark.slow
def test_fernet_archive_read_repaired_and_backed_up_in_fernet_then_mixed_with_v1_and_an_unknown_file(
    tmp_path: Path,
) -> None:
    with fernet_world(tmp_path / "demo", tweets=30) as world:
        planted, tweets = world.planted, world.planted["tweets"]
        users_fernet = plain_fernet(world.root / "archive.key")
        # read side: every backup decrypts; verify finds exactly what was planted
        report = deep_report(world)
        assert report["counts"] == planted["counts"]
        deep = report["deep"]["counts"]
        assert deep["deep_ok"] > 0 and deep["decrypt_failed"] == deep["unknown_format"] == deep["differs"] == 0
        # write side: repair (missing, wrong path) and backup write what plain Fernet code reads
        r = cli(world, "repair")
        assert r.returncode == 1 and "deleted on X" in r.stdout and "decrypt" not in r.stdout, r.stdout + r.stderr
        r = cli(world, "backup", "--limit", "1", "--set", "crypto.max_fernet_bytes=1000")  # Fernet cannot stream
        assert r.returncode == 1 and "Traceback" not in r.stderr, r.stdout + r.stderr
        assert [
            line
            for line in r.stdout.splitlines()
            if "above crypto.max_fernet_bytes (1000 bytes)" in line and "/media/" in line
        ]
        r = cli(world, "backup")
        assert r.returncode == 0, r.stdout + r.stderr
        written = urls_of(world, tweets["missing"] + tweets["wrong_path"] + tweets["unbacked"] + tweets["partial"])
        cfg = world.config()
        v1 = load_codec(cfg, "hfcheck-v1")
        for u in written:
            name = users_fernet.decrypt(u.path.rsplit("/", 1)[1].encode()).decode()  # the users' reader, names too
            rel = f"{u.path.split('/')[0].removeprefix('encrypted_')}/{u.path.split('/')[1]}/{name}"
            assert users_fernet.decrypt(blob(world, u.path)) == media_bytes(world, rel)
        # a second repair finds everything done: no commit
        before = commits(world)
        r = cli(world, "repair")
        second = json.loads((world.root / "data" / "repair_report.json").read_text())
        assert second["commits"] == second["bytes_uploaded"] == 0 and commits(world) == before, r.stdout
        # after repair and backup: deep, audit and restore find nothing wrong with any backup
        report = deep_report(world)
        assert report["counts"]["missing"] == report["counts"]["wrong_path"] == 0
        deep = report["deep"]["counts"]
        assert deep["decrypt_failed"] == deep["unknown_format"] == deep["differs"] == deep["missing"] == 0
        r = cli(world, "audit", "--sample", "all")
        audit = json.loads((world.root / "data" / "audit_report.json").read_text())
        assert {p["category"] for p in audit["deep"]["problems"]} <= {"local_missing"}  # the tweet deleted on X only
        assert {p["kind"] for p in audit["plan"]} <= {"deleted_on_x", "deep_local_missing"}
        assert_restores_identical(world, tmp_path / "restored")

        # mixed: new backups in hfcheck-v1 next to the Fernet ones, and one file of random bytes
        con = sqlite3.connect(world.root / "archive.db")
        ok = tweets["ok"]
        victim, fresh = ok[0], ok[1]
        con.execute("UPDATE tweets SET huggingface_urls = '[]' WHERE id = ?", (fresh,))
        con.commit()
        con.close()
        v1_flags = ("--set", "crypto.write_scheme=hfcheck-v1")
        assert cli(world, "backup", *v1_flags).returncode == 0
        (v1_url,) = urls_of(world, [fresh])[:1]
        assert v1.recognises(blob(world, v1_url.path)[:HEAD_BYTES])
        noise_url = urls_of(world, [victim])[0]
        world.hub.store.commit(REPO, [(noise_url.path, os.urandom(5000))], message="someone else's file", lfs=True)
        noise = hub_state(world)[noise_url.path]
        report = deep_report(world)
        deep = report["deep"]
        unknown = [p for p in deep["problems"] if p["category"] == "unknown_format"]
        assert deep["counts"]["unknown_format"] == 1 and unknown[0]["path"] == noise_url.path
        assert deep["counts"]["decrypt_failed"] == deep["counts"]["differs"] == 0
        assert deep["counts"]["deep_ok"] >= len(written) + 1  # Fernet and v1 read alike
        cli(world, "audit", "--sample", "all")
        audit = json.loads((world.root / "data" / "audit_report.json").read_text())
        assert any(p["kind"] == "deep_unknown_format" and p["files"] == 1 for p in audit["plan"])
        page = (world.root / "data" / "audit_report.html").read_text()
        assert 'data-k="deep_unknown_format"' in page and noise_url.path in page and "crypto.scheme" in page
        r = cli(world, "repair", *v1_flags)
        assert hub_state(world)[noise_url.path] == noise and noise_url.path not in r.stdout  # never overwritten
        out = tmp_path / "restored-mixed"
        report = assert_restores_identical(world, out)
        failed = {p["url"]: p["category"] for p in report["problems"]}
        assert failed[str(noise_url)] == "unknown_format"
        assert len(list((out).rglob(f"{fresh}_*"))) == len(urls_of(world, [fresh]))  # the v1 backups restored


@pytest.mark.slow
def test_plugin_codec_round_trips_through_repair_deep_and_restore(tmp_path: Path) -> None:
    scheme = "python:tests.plugin_codec:ToyCodec"  # AES-GCM with one-way (hashed) names
    with demo_world(tmp_path / "demo", tweets=20) as world:
        cfg_file = world.root / "hfcheck.toml"
        cfg_file.write_text(cfg_file.read_text().replace('scheme = "hfcheck-v1"', f'scheme = "{scheme}"'))
        tweets = world.planted["tweets"]
        assert cli(world, "verify").returncode == 1
        r = cli(world, "repair")
        assert "wrong_path" in r.stdout and " ok " in r.stdout.replace("-> ok", " ok "), r.stdout + r.stderr
        assert cli(world, "backup").returncode == 0
        toy = [
            u
            for u in urls_of(world, tweets["missing"] + tweets["wrong_path"] + tweets["unbacked"])
            if blob(world, u.path).startswith(b"TOYGCM")
        ]
        assert len(toy) >= len(tweets["missing"]) + len(tweets["wrong_path"]) + len(tweets["unbacked"])
        tampered = toy[0].path  # a toy file that no longer authenticates: found by its row, uploaded again
        world.hub.store.commit(REPO, [(tampered, blob(world, tampered)[:-1] + b"!")], message="bit rot", lfs=True)
        assert deep_report(world)["deep"]["counts"]["decrypt_failed"] == 1
        r = cli(world, "repair")
        assert tampered in r.stdout or "unreadable" in r.stdout, r.stdout
        report = deep_report(world)
        deep = report["deep"]["counts"]
        assert deep["decrypt_failed"] == deep["unknown_format"] == deep["differs"] == deep["missing"] == 0
        assert report["counts"]["missing"] == report["counts"]["wrong_path"] == 0
        assert deep["deep_ok"] >= len(toy)  # the toy files (found by tweet id and index) and the v1 ones
        out = tmp_path / "restored"
        assert_restores_identical(world, out)
        for u in toy:
            assert any(out.rglob(f"{u.path.split('/')[1]}/*")), u


def _kill_at_random(world: DemoWorld, args: list[str], rng: random.Random, requests: int) -> None:
    """Run `args` and SIGKILL it once the Hub has answered a random number of its requests, from
    none to `requests` (about what a whole run asks): kills land before, in and after commits
    whatever the machine's speed. The counter counts answered requests, so a kill at the count
    reached just before a commit lands while that (slow) commit is in flight."""
    world.hub.control.reset_stats()
    target = rng.randint(0, requests)
    cmd = [sys.executable, "-m", "hfcheck", *args, "--config", str(world.root / "hfcheck.toml")]
    proc = subprocess.Popen(cmd, env=env(world), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while proc.poll() is None and world.hub.control.stats()["requests"] < target:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _backups(raw: str | None) -> list[str]:
    """The recorded URLs of a row (none for a malformed column)."""
    try:
        urls = json.loads(raw or "[]")
    except ValueError:
        return []
    return urls if isinstance(urls, list) and all(isinstance(u, str) for u in urls) else []


def _every_tweet_restorable(world: DemoWorld, original: dict[str, list[str]], missing: set[str]) -> None:
    """Each tweet keeps as many URLs; each encrypted one points to a file on the Hub (the
    planted missing files aside)."""
    present = set(hub_state(world))
    rows = db_rows(world)
    for tid, urls in original.items():
        now = _backups(rows[tid][2])
        assert len(now) == len(urls), tid
        for u in now:
            if "/encrypted_" in u:
                path = BackupURL.parse(u).path
                assert path in present or path in missing, (tid, u)


@pytest.mark.slow
def test_migrate_fernet_to_v1_killed_and_resumed(tmp_path: Path) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    print(f"kill points from random.Random({seed})")  # shown when the test fails: the same kills again
    rng = random.Random(seed)
    slow_commits = {"latency_ms": 200, "latency_kinds": ["commit"]}  # a kill can land inside one
    with fernet_world(tmp_path / "demo", tweets=40, **slow_commits) as world:
        original = {tid: _backups(r[2]) for tid, r in db_rows(world).items()}
        encrypted = [u for urls in original.values() for u in urls if "/encrypted_" in u]
        missing = {BackupURL.parse(u).path for u in encrypted} - set(hub_state(world))
        args = ["migrate", "--to", "hfcheck-v1", "--delete-old", "--concurrency", "1"]
        for _ in range(3):  # a whole run: ~3 requests a file (old file, upload, read-back), 2 commits
            _kill_at_random(world, args, rng, requests=3 * len(encrypted) + 2)
            _every_tweet_restorable(world, original, missing)  # at every kill: each tweet still restorable
        r = cli(world, *args)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        again = cli(world, *args)
        assert "Tweets                       0" in again.stdout and again.returncode == 0
        _every_tweet_restorable(world, original, set())
        cfg = world.config()
        v1 = load_codec(cfg, "hfcheck-v1")
        for tid in original:
            for u in _backups(db_rows(world)[tid][2]):
                if "/encrypted_" in u:
                    path = BackupURL.parse(u).path
                    local_path_for(v1, path)  # a v1 name
                    assert v1.recognises(blob(world, path)[:HEAD_BYTES])  # v1 bytes
        assert_restores_identical(world, tmp_path / "restored")
        # state.db: every old file deleted only after its replacement was verified and recorded,
        # and the deletion commit on the Hub came after those facts
        con = sqlite3.connect(world.root / "data" / "state.db")
        migrations = con.execute(
            "SELECT path, new_path, verified_at, recorded_at, deleted_at, delete_commit FROM migrations"
        ).fetchall()
        con.close()
        old_paths = {BackupURL.parse(u).path for u in encrypted}
        assert {m[0] for m in migrations} == old_paths
        hub = set(hub_state(world))
        for path, new_path, verified, recorded, deleted, commit in migrations:
            assert new_path in hub and path not in hub
            assert verified is not None and recorded is not None and deleted is not None
            assert verified <= recorded <= deleted
            if commit is not None:  # None: the old file was already gone (planted missing, or a killed run's deletion)
                info = world.hub.store.commit_info(commit)
                assert "delete" in info["title"]
                when = calendar.timegm(time.strptime(info["date"], "%Y-%m-%dT%H:%M:%S.000Z"))
                assert when >= int(recorded)
