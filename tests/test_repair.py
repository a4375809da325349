"""repair end to end against the emulator: each kind of damage repaired and provably
restorable, dry run changes nothing, limits honoured, errors reported, SIGKILL + resume."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from huggingface_hub import hf_hub_download

from hfcheck.crypto import decrypt_file, load_key
from hfcheck.model.paths import BackupURL, local_path_for
from hfcheck.sim.demo import REPO, TOKEN
from tests.helpers import DemoWorld, copy_world, db_rows, demo_world, hub_state, run_cli, serve_world, tree_hash


@pytest.fixture()
def world(tmp_path):
    with demo_world(tmp_path / "demo", tweets=60) as w:
        assert run_cli(w, "verify").returncode == 1
        yield w


def test_dry_run_changes_nothing(world) -> None:
    before = ((world.root / "archive.db").read_bytes(), hub_state(world), tree_hash(world.root / "media"))
    r = run_cli(world, "repair", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "would" not in r.stderr and "upload " in r.stdout and "replace URL" in r.stdout
    assert ((world.root / "archive.db").read_bytes(), hub_state(world), tree_hash(world.root / "media")) == before


@pytest.mark.slow
def test_every_kind_repaired_and_restorable(world, tmp_path: Path) -> None:
    planted = world.planted
    before = db_rows(world)
    r = run_cli(world, "repair")
    assert r.returncode == 1, r.stderr  # the tweet deleted on X is an error line
    assert "deleted on X" in r.stdout
    after = db_rows(world)
    # wrong paths replaced by encrypted ones; other columns untouched
    for tid in planted["tweets"]["wrong_path"]:
        urls = json.loads(after[tid][2])
        assert all("/encrypted_" in u for u in urls)
        assert after[tid][3] == before[tid][3] and after[tid][1] == before[tid][1]
    # empty media lists recovered (except the deleted tweet)
    for tid in planted["tweets"]["empty_media"]:
        assert json.loads(after[tid][1])
    assert after[planted["tweets"]["deleted_on_x"][0]] == before[planted["tweets"]["deleted_on_x"][0]]
    # verify again: nothing missing, no wrong paths
    again = run_cli(world, "verify", "--json")
    report = json.loads(again.stdout)
    assert report["counts"]["missing"] == 0 and report["counts"]["wrong_path"] == 0
    # every repaired file downloads with the official client and decrypts to the local bytes
    key = load_key(world.root / "archive.key")
    repaired = planted["tweets"]["missing"] + planted["tweets"]["wrong_path"] + planted["tweets"]["empty_media"]
    checked = 0
    for tid in repaired:
        for u in json.loads(after[tid][2]):
            url = BackupURL.parse(u)
            got = hf_hub_download(
                REPO, url.path, repo_type="dataset", endpoint=world.hub.url, token=TOKEN, cache_dir=tmp_path / "cache"
            )
            rel = local_path_for(key, url.path)
            out = tmp_path / "plain" / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            decrypt_file(key, Path(got), out, url.path)
            assert out.read_bytes() == (world.root / "media" / rel).read_bytes()
            checked += 1
    assert checked >= len(repaired)
    # X's answer is remembered: the deleted tweet is not asked about again
    deleted = planted["tweets"]["deleted_on_x"][0]
    con = sqlite3.connect(world.root / "data" / "state.db")
    assert con.execute("SELECT status FROM x_lookups WHERE tweet_id = ?", (deleted,)).fetchone() == ("deleted",)
    con.close()
    (world.root / "x_fixtures.json").write_text("{}")  # X would now answer nothing at all
    second = run_cli(world, "repair")
    line = next(ln for ln in second.stdout.splitlines() if deleted in ln)
    assert "deleted on X (known since" in line, second.stdout


@pytest.mark.slow
def test_limit_and_file_type(world) -> None:
    seen = 0
    for media in ("images", "videos"):
        r = run_cli(world, "repair", "--dry-run", "--file-type", media)
        lines = [line for line in r.stdout.splitlines() if "upload " in line]
        assert all(f" {media}/" in line for line in lines)
        seen += len(lines)
    assert seen > 0
    r = run_cli(world, "repair", "--limit", "2")
    assert "[1/2]" in r.stdout and "[2/2]" in r.stdout and "[3/" not in r.stdout


def test_missing_local_file_is_an_error_line(world) -> None:
    tid = world.planted["tweets"]["missing"][0]
    progress = json.loads((world.root / "data" / "hf_url_check_progress.json").read_text())
    finding = next(p for p in progress["problems"] if p["tweet_id"] == tid)
    key = load_key(world.root / "archive.key")
    rel = local_path_for(key, BackupURL.parse(finding["url"]).path)
    (world.root / "media" / rel).unlink()
    world.media.set_fault(f"/media/{Path(rel).name}", 404, times=100)
    r = run_cli(world, "repair", "--limit", "50")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"{tid}" in r.stdout and "local file not found" in r.stdout


@pytest.mark.slow
def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    with demo_world(tmp_path / "straight", tweets=60):
        pass
    copy_world(tmp_path / "straight", tmp_path / "killed")
    results = []
    for name, kill in (("straight", False), ("killed", True)):
        with serve_world(tmp_path / name) as w:
            assert run_cli(w, "verify").returncode == 1
            if kill:
                # the transfers and the commit slow (not what comes before them): the kill lands between
                slow = [*UPLOAD_KINDS, "cas_shard", "commit"]
                w.hub.control.set_faults(latency_ms=300, exempt=[], latency_kinds=slow)
                proc = subprocess.Popen(
                    [sys.executable, "-m", "hfcheck", "repair", "--config", str(w.root / "hfcheck.toml")],
                    env=w.env(),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                deadline = time.monotonic() + 60
                while not _uploads_started(w) and time.monotonic() < deadline:
                    time.sleep(0.02)
                proc.send_signal(signal.SIGKILL)  # uploads under way, commit not yet made
                proc.wait()
                assert w.hub.control.stats()["kinds"].get("commit", 0) == 0
                w.hub.control.set_faults(latency_ms=0, exempt=["commit"], latency_kinds=[])
                r = run_cli(w, "repair", "--resume")
            else:
                r = run_cli(w, "repair")
            assert "Traceback" not in r.stderr
            stats = w.hub.control.stats()
            commits = stats["kinds"].get("commit", 0)
            results.append((db_rows(w), sorted(hub_state(w)), commits))
    (db_a, paths_a, commits_a), (db_b, paths_b, commits_b) = results
    assert db_a == db_b
    assert paths_a == paths_b
    assert commits_b == commits_a  # the killed run committed nothing; each file committed once


@pytest.mark.slow
def test_a_backup_that_does_not_decrypt_is_uploaded_again(world) -> None:
    """verify --deep finds a truncated backup (decrypt_failed); repair re-encrypts the local file
    to the same path, after which it decrypts to the local bytes; a second repair leaves it."""
    key = load_key(world.root / "archive.key")
    tid = world.planted["tweets"]["ok"][0]
    url = BackupURL.parse(json.loads(db_rows(world)[tid][2])[0])
    good = b"".join(world.hub.store.read_blob(world.hub.store.file_info(REPO, url.path).sha256))
    world.hub.store.commit(REPO, [(url.path, good[:-1])], lfs=True)  # truncated by one byte

    r = run_cli(world, "verify", "--deep", "--sample", "all")
    assert (
        r.returncode == 1
        and json.loads((world.root / "data" / "verify_report.json").read_text())["deep"]["counts"]["decrypt_failed"]
        == 1
    )
    dry = run_cli(world, "repair", "--dry-run")
    assert f"unreadable: re-upload (the backup there does not decrypt) {local_path_for(key, url.path)}" in dry.stdout
    rows_before = db_rows(world)
    assert run_cli(world, "repair").returncode in (0, 1)

    local = world.root / "media" / local_path_for(key, url.path)
    got = Path(
        hf_hub_download(
            REPO,
            url.path,
            repo_type="dataset",
            revision="main",
            endpoint=str(world.hub.url),
            token=TOKEN,
            cache_dir=world.root / "hf-cache",
        )
    )
    decrypt_file(key, got, world.root / "restored.bin", url.path)
    assert (world.root / "restored.bin").read_bytes() == local.read_bytes()
    assert db_rows(world)[tid] == rows_before[tid]  # the URL was right all along: the row is unchanged

    again = run_cli(world, "repair", "--dry-run")
    assert "unreadable" not in again.stdout


UPLOAD_KINDS = ("lfs_upload", "cas_xorb")


def _uploads_started(w: DemoWorld) -> bool:
    """Content is on its way: an LFS PUT or a Xet xorb reached the Hub."""
    kinds = w.hub.control.stats()["kinds"]
    return sum(kinds.get(k, 0) for k in UPLOAD_KINDS) > 0
