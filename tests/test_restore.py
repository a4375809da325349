"""restore end to end against the emulator: exact bytes back, tampering reported per file with
nothing under its final name, interrupted downloads continued with Range."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from hfcheck.model.paths import BackupURL
from hfcheck.readback.restore import PARTS_DIR, Selection, run_restore
from hfcheck.readback.walk import part_path
from hfcheck.sim.demo import REPO
from tests.helpers import demo_world, run_cli


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with demo_world(tmp_path_factory.mktemp("restore"), tweets=60) as w:
        yield w


def original_bytes(world, rel: Path) -> bytes:
    """What was backed up: the local file, or (for lost media lists) the media server's copy."""
    local = world.root / "media" / rel
    return local.read_bytes() if local.exists() else (world.root / "source" / rel.name).read_bytes()


def files_under(root: Path) -> dict[Path, bytes]:
    return {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def hub_urls(world, tweet_id: str) -> list[str]:
    con = sqlite3.connect(world.root / "archive.db")
    try:
        (raw,) = con.execute("SELECT huggingface_urls FROM tweets WHERE id = ?", (tweet_id,)).fetchone()
    finally:
        con.close()
    return json.loads(raw)


def ciphertext(world, path: str) -> bytes:
    entry = world.hub.store.file_info(REPO, path)
    assert entry is not None and entry.sha256
    return b"".join(world.hub.store.read_blob(entry.sha256))


def test_restore_all_gives_the_exact_local_bytes(world, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = run_cli(world, "restore", "--all", "--out", str(out), "--data-dir", str(tmp_path / "data"))
    # The demo plants missing, wrong-path and malformed URLs: those fail, everything else restores.
    assert r.returncode == 1, r.stderr
    report = json.loads((tmp_path / "data" / "restore_report.json").read_text())
    assert report["counts"]["restored"] == world.planted["counts"]["present"]
    assert {p["category"] for p in report["problems"]} == {"missing", "wrong_path", "malformed"}
    restored = files_under(out)
    assert len(restored) == world.planted["counts"]["present"]
    for rel, data in restored.items():
        assert rel.parts[0] in ("images", "videos") and len(rel.parts) == 3
        assert data == original_bytes(world, rel), rel
    assert not (out / PARTS_DIR).exists()
    assert "FAILED tweet" in r.stderr and "Traceback" not in r.stderr

    again = run_cli(world, "restore", "--all", "--out", str(out), "--data-dir", str(tmp_path / "data"), "--json")
    assert json.loads(again.stdout)["counts"]["exists"] == world.planted["counts"]["present"]  # kept, not refetched


async def test_user_selection_restores_only_that_account(
    world, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = await run_restore(
        world.config(data_dir=tmp_path / "d"), Selection(user="alice"), tmp_path / "out", progress_bar=True
    )
    handled = sum(summary.counts.values())
    assert f"{handled}/{handled}" in capsys.readouterr().err  # the bar's total is that account's URLs
    assert summary.counts["restored"] > 0
    assert {p.parts[1] for p in files_under(tmp_path / "out")} == {"alice"}


def test_tampered_ciphertext_is_reported_and_never_written(world, tmp_path: Path) -> None:
    tweet_id = world.planted["tweets"]["ok"][0]
    urls = hub_urls(world, tweet_id)
    path = BackupURL.parse(urls[0]).path
    good = ciphertext(world, path)
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0x01  # one flipped bit inside a chunk
    world.hub.store.commit(REPO, [(path, bytes(bad))], lfs=True)
    try:
        out = tmp_path / "out"
        r = run_cli(world, "restore", "--tweet", tweet_id, "--out", str(out), "--data-dir", str(tmp_path / "data"))
    finally:
        world.hub.store.commit(REPO, [(path, good)], lfs=True)
    assert r.returncode == 1, r.stderr
    assert (
        f"FAILED tweet {tweet_id} [0]" in r.stderr
        and "decrypt_failed" in r.stderr
        and "authentication failed" in r.stderr
    )
    report = json.loads((tmp_path / "data" / "restore_report.json").read_text())
    (problem,) = report["problems"]
    assert problem["category"] == "decrypt_failed" and problem["index"] == 0
    assert not (out / problem["local"]).exists()
    restored = files_under(out)
    assert len(restored) == len(urls) - 1  # the other files of the tweet are fine
    assert not any(p.name.endswith(".part") or p.name.startswith(".") for p in restored)


async def test_interrupted_download_continues_with_range(world, tmp_path: Path) -> None:
    tweet_id = world.planted["tweets"]["ok"][1]
    url = BackupURL.parse(hub_urls(world, tweet_id)[0])
    data = ciphertext(world, url.path)
    out = tmp_path / "out"
    part = part_path(out / PARTS_DIR, url)
    part.parent.mkdir(parents=True)
    part.write_bytes(data[: len(data) // 2])
    world.hub.control.reset_stats()
    summary = await run_restore(world.config(data_dir=tmp_path / "d"), Selection(tweets=(tweet_id,)), out)
    stats = world.hub.control.stats()
    assert summary.counts["failed"] == 0 and summary.resumed == 1
    assert "206" in stats["by_kind"]["cdn_get"]  # the rest came as a partial answer
    for rel, got in files_under(out).items():
        assert got == original_bytes(world, rel)
    assert not part.exists()


async def test_a_part_of_other_bytes_is_downloaded_again(world, tmp_path: Path) -> None:
    tweet_id = world.planted["tweets"]["ok"][2]
    url = BackupURL.parse(hub_urls(world, tweet_id)[0])
    out = tmp_path / "out"
    part = part_path(out / PARTS_DIR, url)
    part.parent.mkdir(parents=True)
    part.write_bytes(b"HFCKENC\x01" + b"\x00" * 100)  # not a prefix of the real ciphertext
    summary = await run_restore(world.config(data_dir=tmp_path / "d"), Selection(tweets=(tweet_id,)), out)
    assert summary.counts["failed"] == 0 and summary.counts["restored"] == len(hub_urls(world, tweet_id))
    for rel, got in files_under(out).items():
        assert got == original_bytes(world, rel)


@pytest.mark.parametrize("args", [[], ["--all", "--user", "alice"], ["--user", "../etc"], ["--tweet", "12ab"]])
def test_usage_errors_exit_2(world, tmp_path: Path, args: list[str]) -> None:
    r = run_cli(world, "restore", *args, "--out", str(tmp_path / "out"))
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
