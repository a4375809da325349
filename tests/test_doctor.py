"""`hfcheck doctor` on the demo archive served by the emulator: a good setup passes every line,
each broken setting is the ✗ line that names it with its fix, the Hub not answering is `?` and
exit 3, and nothing is written: no writing request reaches the Hub, the database and key file
are byte for byte as they were."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hfcheck.crypto import generate_key_file
from hfcheck.sim.demo import REPO, TOKEN
from hfcheck.sim.demo_cycle import free_port
from tests.helpers import DemoWorld, demo_world, hub_state, run_cli

READ_KINDS = {"whoami", "repo_info", "xet_token"}  # GETs; a write token is handed out, nothing written


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWorld]:
    with demo_world(tmp_path_factory.mktemp("doctor") / "demo", tweets=24) as w:
        yield w


def lines(r: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """{check name: its line} (a repeated name keeps its last line)."""
    out = {}
    for line in r.stdout.splitlines():
        if line[:2] in ("✓ ", "✗ ", "? ", "- "):
            out[line[2:].split(":", 1)[0]] = line
    return out


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_good_setup_passes_every_check_and_writes_nothing(world: DemoWorld) -> None:
    db, before = world.root / "archive.db", digest(world.root / "archive.db")
    hub_before = hub_state(world)
    world.hub.control.reset_stats()
    r = run_cli(world, "doctor")
    assert r.returncode == 0, r.stdout + r.stderr
    got = lines(r)
    assert list(got) == ["config", "database", "media root", "key file", "token", "endpoint", "repo", "media hosts"]
    assert all(line.startswith("✓") for line in got.values()), r.stdout
    assert "journal mode" in got["database"] and "24 rows" in got["database"]
    assert "20 of 20 recorded names decrypt" in got["key file"]
    assert f"demo, may write to {REPO}" in got["token"] and "Xet" in got["endpoint"]
    stats = world.hub.control.stats()
    assert set(stats["kinds"]) <= READ_KINDS and stats["kinds"]["whoami"] == 1
    assert not stats["committed_paths"]
    assert digest(db) == before and hub_state(world) == hub_before


def test_a_key_of_another_archive_is_the_key_line(world: DemoWorld, tmp_path: Path) -> None:
    other = tmp_path / "other.key"
    generate_key_file(other)
    r = run_cli(world, "doctor", "--key-file", str(other))
    assert r.returncode == 2
    line = lines(r)["key file"]
    assert line.startswith("✗") and "0 of 20 recorded names decrypt" in line and "fix:" in line
    assert other.read_bytes().strip().decode() not in r.stdout + r.stderr  # the key never shows


def test_a_key_file_others_can_read_is_named_with_chmod(world: DemoWorld, tmp_path: Path) -> None:
    loose = tmp_path / "loose.key"
    loose.write_bytes((world.root / "archive.key").read_bytes())
    loose.chmod(0o644)
    r = run_cli(world, "doctor", "--key-file", str(loose))
    assert r.returncode == 2 and "chmod 600" in lines(r)["key file"]


@pytest.mark.parametrize(
    ("flags", "name", "words"),
    [
        (["--set", "archive.table=posts"], "database", "table 'posts' not found"),
        (["--set", "archive.columns.media_urls=media"], "database", "no column 'media'"),
        (["--db", "/nonexistent/archive.db"], "database", "not found"),
        (["--media-root", "/nonexistent/media"], "media root", "is not a folder"),
        (["--repo", "demo/no-such-repo"], "repo", "repo not found"),
        (["--revision", "no-such-branch"], "repo", "revision not found"),
        (["--set", 'download.allowed_hosts=["pbs.twimg.com"]'], "media hosts", "hosts not allowed: 127.0.0.1:"),
    ],
)
def test_each_broken_setting_is_its_own_line_with_the_fix(
    world: DemoWorld, flags: list[str], name: str, words: str
) -> None:
    r = run_cli(world, "doctor", *flags)
    assert r.returncode == 2, r.stdout + r.stderr
    line = lines(r)[name]
    assert line.startswith("✗") and words in line and "— fix: " in line, r.stdout
    assert sum(v.startswith("✗") for v in lines(r).values()) == 1  # what depends on it is skipped (-), not ✗
    assert "Traceback" not in r.stderr


def test_the_token_lines(world: DemoWorld) -> None:
    env = {k: v for k, v in world.env().items() if k != "HF_TOKEN"}
    env["HF_HUB_DISABLE_IMPLICIT_TOKEN"] = "1"
    env["HF_HOME"] = str(world.root / "no-hf-home")  # no token stored by `hf auth login` either
    r = run_cli(world, "doctor", env=env)
    assert r.returncode == 2 and lines(r)["token"].startswith("✗ token: none")
    r = run_cli(world, "doctor", env={**world.env(), "HF_TOKEN": "hf_not_a_known_token"})
    assert r.returncode == 2 and "refused by the Hub (401" in lines(r)["token"]
    world.hub.control.add_user("reader", "hf_reader_token")
    r = run_cli(world, "doctor", env={**world.env(), "HF_TOKEN": "hf_reader_token"})
    assert r.returncode == 2
    assert lines(r)["token"].startswith(f"✗ token: reader may not write to {REPO}")
    assert TOKEN not in r.stdout and "hf_reader_token" not in r.stdout


def test_recorded_backups_on_another_endpoint_name_the_endpoint_to_set(world: DemoWorld) -> None:
    other = f"http://localhost:{world.hub.url.rsplit(':', 1)[1]}"  # the same server by another name
    r = run_cli(world, "doctor", env={**world.env(), "HF_ENDPOINT": other})
    line = lines(r)["endpoint"]
    assert r.returncode == 2 and line.startswith("✗")
    assert f"set hub.endpoint (or HF_ENDPOINT) to {world.hub.url}" in line


def test_a_hub_that_does_not_answer_is_could_not_check(world: DemoWorld) -> None:
    r = run_cli(world, "doctor", env={**world.env(), "HF_ENDPOINT": f"http://127.0.0.1:{free_port()}"}, timeout=120)
    assert r.returncode == 3, r.stdout + r.stderr
    got = lines(r)
    assert got["endpoint"].startswith("?") and got["token"].startswith("?") and got["repo"].startswith("?")
    assert all(got[name].startswith("✓") for name in ("config", "database", "media root"))  # local checks still ran
    # the recorded names name another endpoint, so the key check asks the Hub for its record: not known
    assert got["key file"].startswith("? key file: could not check the key in")


def test_a_config_that_does_not_load_is_the_config_line(world: DemoWorld, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[archive]\ntable = 'x y'\n")
    r = run_cli(world, "doctor", config=bad)
    assert r.returncode == 2 and r.stdout.startswith("✗ config: ") and "not a plain SQL identifier" in r.stdout


def test_japanese(world: DemoWorld) -> None:
    r = run_cli(world, "doctor", env={**world.env(), "LANG": "ja_JP.UTF-8"})
    assert r.returncode == 0
    assert "✓ 鍵ファイル: " in r.stdout and "すべての確認に合格しました。" in r.stdout


def test_a_hub_without_xet_says_uploads_go_over_lfs(tmp_path: Path) -> None:
    with demo_world(tmp_path / "demo", tweets=20, xet=False) as w:
        r = run_cli(w, "doctor")
    assert r.returncode == 0, r.stdout
    assert "no Xet there, uploads go over LFS" in lines(r)["endpoint"]
    assert "cannot be asked without Xet" in lines(r)["token"]
