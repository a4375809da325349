"""Deep verification against the emulator: n/t slices cover every present file exactly once,
a changed local file or a tampered backup is found, and recorded upload hashes are compared
with the listing without a single download."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from hfcheck.commands.options import add_deep_options
from hfcheck.crypto import load_key
from hfcheck.db.state import StateDB
from hfcheck.errors import ConfigError, MalformedURL
from hfcheck.model.paths import BackupURL, local_path_for
from hfcheck.net.hub import Hub
from hfcheck.readback.deep import deep_check
from hfcheck.readback.recorded import compare_recorded
from hfcheck.readback.sample import Sample, stable_slice
from hfcheck.sim.demo import REPO
from hfcheck.verify.pipeline import VerifyOptions, run_verify
from tests.helpers import demo_world, run_cli, with_hub


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with demo_world(tmp_path_factory.mktemp("deep"), tweets=60) as w:
        yield w


@pytest.fixture(scope="module")
def present_paths(world) -> set[str]:
    """Encrypted paths recorded in the archive that exist in the repo."""
    con = sqlite3.connect(world.root / "archive.db")
    rows = con.execute("SELECT huggingface_urls FROM tweets").fetchall()
    con.close()
    recorded = set()
    for (raw,) in rows:
        try:
            urls = json.loads(raw or "[]")
        except ValueError:
            continue
        for u in urls if isinstance(urls, list) else []:
            with contextlib.suppress(MalformedURL):
                recorded.add(BackupURL.parse(u).path)
    listed = set(world.hub.store.list_paths(REPO))
    return {p for p in recorded & listed if p.startswith("encrypted_")}


def checked_paths(state_path: Path) -> list[str]:
    con = sqlite3.connect(state_path)
    try:
        return [r[0] for r in con.execute("SELECT path FROM deep_checks")]
    finally:
        con.close()


async def test_slices_cover_every_present_file_exactly_once(world, present_paths: set[str], tmp_path: Path) -> None:
    cfg = world.config(data_dir=tmp_path)
    verified = await with_hub(run_verify, cfg, VerifyOptions())
    seen: list[str] = []
    for spec in ("1/2", "2/2"):
        state_path = tmp_path / f"state-{spec.replace('/', '-')}.db"
        with StateDB.open(state_path) as state:
            result = await with_hub(deep_check, cfg, Sample.parse(spec), progress=verified.progress, state=state)
        assert result.counts["decrypt_failed"] == result.counts["differs"] == result.counts["unverified"] == 0
        assert result.candidates == len(present_paths)
        seen += checked_paths(state_path)
    assert len(seen) == len(set(seen)) == len(present_paths)
    assert set(seen) == present_paths


async def test_a_local_file_changed_after_backup_differs(world, tmp_path: Path) -> None:
    cfg = world.config(data_dir=tmp_path)
    key = load_key(world.root / "archive.key")
    con = sqlite3.connect(world.root / "archive.db")
    (raw,) = con.execute(
        "SELECT huggingface_urls FROM tweets WHERE id = ?", (world.planted["tweets"]["ok"][0],)
    ).fetchone()
    con.close()
    path = BackupURL.parse(json.loads(raw)[0]).path
    local = world.root / "media" / local_path_for(key, path)
    before = local.read_bytes()
    local.write_bytes(before[:-1] + bytes([before[-1] ^ 0xFF]))
    try:
        with StateDB.open(tmp_path / "state.db") as state:
            result = await with_hub(
                deep_check, cfg, Sample(f"{stable_slice(path, 50)}/50", n=stable_slice(path, 50), t=50), state=state
            )
            last = state.last_deep_check(REPO, path)
    finally:
        local.write_bytes(before)
    differs = [f for f in result.findings if f.category == "differs"]
    assert [f.path for f in differs] == [path]
    assert last is not None and last.result == "differs"


async def test_a_tampered_backup_fails_to_decrypt(world, tmp_path: Path) -> None:
    con = sqlite3.connect(world.root / "archive.db")
    (raw,) = con.execute(
        "SELECT huggingface_urls FROM tweets WHERE id = ?", (world.planted["tweets"]["ok"][1],)
    ).fetchone()
    con.close()
    path = BackupURL.parse(json.loads(raw)[0]).path
    entry = world.hub.store.file_info(REPO, path)
    good = b"".join(world.hub.store.read_blob(entry.sha256))
    world.hub.store.commit(REPO, [(path, good[:-1])], lfs=True)  # truncated by one byte
    try:
        n = stable_slice(path, 50)
        result = await with_hub(deep_check, world.config(data_dir=tmp_path), Sample(f"{n}/50", n=n, t=50))
    finally:
        world.hub.store.commit(REPO, [(path, good)], lfs=True)
    (bad,) = [f for f in result.findings if f.path == path]
    assert bad.category == "decrypt_failed"


@dataclass(frozen=True)
class Uploaded:
    repo_id: str
    path_in_repo: str
    sha256: str
    size: int
    source: str | None = None


async def test_recorded_hash_vs_listing_without_download(world, present_paths: set[str], tmp_path: Path) -> None:
    a, b = sorted(present_paths)[:2]
    ea, eb = world.hub.store.file_info(REPO, a), world.hub.store.file_info(REPO, b)
    with StateDB.open(tmp_path / "state.db") as state:
        state.record_uploads(
            [
                Uploaded(REPO, a, "0" * 64, ea.size),  # the Hub has other bytes than we uploaded
                Uploaded(REPO, b, eb.sha256, eb.size),  # as recorded
                Uploaded(REPO, "encrypted_images/alice/gone", "1" * 64, 10),  # no longer listed
            ],
            "c0ffee",
        )
        world.hub.control.reset_stats()
        cfg = world.config(data_dir=tmp_path)
        async with Hub(cfg) as http:
            rec = await compare_recorded(cfg, http, state)
    kinds = world.hub.control.stats()["kinds"]
    assert (rec.compared, rec.matched, rec.differs, rec.absent) == (2, 1, 1, 1)
    assert [f.path for f in rec.findings if f.category == "differs"] == [a]
    assert not any(k.startswith(("resolve", "cdn")) for k in kinds), kinds  # no download at all


@pytest.mark.parametrize(
    "spec,expected",
    [
        ("1/20", (1, 20, None)),
        ("20/20", (20, 20, None)),
        ("5%", (None, None, 5.0)),
        ("0.5%", (None, None, 0.5)),
        ("all", (None, None, None)),
    ],
)
def test_sample_parse(spec: str, expected: tuple) -> None:
    s = Sample.parse(spec)
    assert (s.n, s.t, s.percent) == expected


@pytest.mark.parametrize("spec", ["0/20", "21/20", "0%", "101%", "half", ""])
def test_sample_parse_rejects(spec: str) -> None:
    with pytest.raises(ConfigError):
        Sample.parse(spec)


def test_add_deep_options() -> None:
    got: list = []

    @click.command()
    @add_deep_options
    def cmd(deep: bool, sample: Sample | None) -> None:
        got.append((deep, sample))

    assert CliRunner().invoke(cmd, ["--deep", "--sample", "3/7"]).exit_code == 0
    assert got[-1] == (True, Sample("3/7", n=3, t=7))
    r = CliRunner().invoke(cmd, ["--sample", "8/7"])
    assert r.exit_code == 2 and "1 <= n <= t" in r.output


def test_verify_deep_through_the_cli_reads_back_and_reports(world, tmp_path: Path) -> None:
    """`verify --deep --sample all`: every present file read back; the deep counts are in the
    JSON report and the summary, and the exit code is verify's (the demo has planted damage)."""
    report = tmp_path / "r.json"
    r = run_cli(world, "verify", "--deep", "--sample", "all", "--report", str(report), data_dir=tmp_path, timeout=120)
    assert r.returncode == 1, r.stderr
    deep = json.loads(report.read_text())["deep"]
    assert deep["sample"] == "all"
    assert deep["counts"]["deep_ok"] >= 1
    assert deep["counts"]["decrypt_failed"] == deep["counts"]["differs"] == 0
    assert f"{deep['checked']} files" in r.stdout
    assert "Read-back sample all" in r.stdout
