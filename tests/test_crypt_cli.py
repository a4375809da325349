"""`hfcheck crypt ...` through the real entry point: exit codes, key file rules, no leftovers."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hfcheck.cli import main
from hfcheck.crypto import generate_key_file, load_key

PATH = "encrypted_videos/alice/xyz"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no stray ./hfcheck.toml


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["crypt", *args])
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "archive.key"
    generate_key_file(path)
    return path


def test_keygen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "new.key"
    code, out, _ = run(capsys, "keygen", str(path))
    assert code == 0 and "0600" in out
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text().strip() not in out  # the key is never printed
    load_key(path)
    before = path.read_bytes()
    code, _, err = run(capsys, "keygen", str(path))
    assert code == 2 and "already exists" in err and path.read_bytes() == before


def test_keygen_uses_configured_key_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(capsys, "keygen", "--key-file", str(tmp_path / "k"))
    assert code == 0 and (tmp_path / "k").exists()
    code, _, err = run(capsys, "keygen")
    assert code == 2 and "key_file" in err


def test_encrypt_decrypt_round_trip(tmp_path: Path, key: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in.mp4").write_bytes(os.urandom(100_000))
    code, out, _ = run(capsys, "encrypt", "in.mp4", "out.enc", "--path", PATH, "--key-file", str(key))
    assert code == 0 and "out.enc" in out
    code, out, _ = run(capsys, "decrypt", "out.enc", "back.mp4", "--path", PATH, "--key-file", str(key))
    assert code == 0
    assert (tmp_path / "back.mp4").read_bytes() == (tmp_path / "in.mp4").read_bytes()


def test_key_from_config_file(tmp_path: Path, key: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "cfg.toml").write_text(f'[crypto]\nkey_file = "{key}"\n')
    (tmp_path / "a").write_bytes(b"abc")
    code, _, _ = run(capsys, "encrypt", "a", "b", "--path", PATH, "--config", "cfg.toml")
    assert code == 0 and (tmp_path / "b").stat().st_size == 3 + 56


def test_missing_key_file_setting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a").write_bytes(b"abc")
    code, _, err = run(capsys, "encrypt", "a", "b", "--path", PATH)
    assert code == 2 and "key_file" in err and not (tmp_path / "b").exists()


def test_group_readable_key_refused(tmp_path: Path, key: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key.chmod(0o640)
    (tmp_path / "a").write_bytes(b"abc")
    code, _, err = run(capsys, "encrypt", "a", "b", "--path", PATH, "--key-file", str(key))
    assert code == 2 and str(key) in err and "chmod 600" in err
    assert key.read_text().strip() not in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "b").exists()


def test_wrong_key_exit_1_and_no_output(tmp_path: Path, key: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.key"
    generate_key_file(other)
    (tmp_path / "a").write_bytes(b"secret video")
    assert run(capsys, "encrypt", "a", "a.enc", "--path", PATH, "--key-file", str(key))[0] == 0
    code, out, err = run(capsys, "decrypt", "a.enc", "plain", "--path", PATH, "--key-file", str(other))
    assert code == 1 and "wrong key" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "plain").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "a.enc", "archive.key", "other.key"]


def test_tampered_and_truncated_exit_1(tmp_path: Path, key: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a").write_bytes(os.urandom(200_000))
    run(capsys, "encrypt", "a", "a.enc", "--path", PATH, "--key-file", str(key))
    data = (tmp_path / "a.enc").read_bytes()
    for bad in [data[: 40 + 65552], data[:-1], data + b"x", data[:100] + bytes([data[100] ^ 1]) + data[101:]]:
        (tmp_path / "bad.enc").write_bytes(bad)
        code, _, err = run(capsys, "decrypt", "bad.enc", "plain", "--path", PATH, "--key-file", str(key))
        assert code == 1 and err.startswith("hfcheck: error: ") and not (tmp_path / "plain").exists()
    code, _, err = run(
        capsys, "decrypt", "a.enc", "plain", "--path", "encrypted_videos/bob/xyz", "--key-file", str(key)
    )
    assert code == 1 and not (tmp_path / "plain").exists()


def test_missing_input_is_one_line(tmp_path: Path, key: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "encrypt", "nope", "out", "--path", PATH, "--key-file", str(key))
    assert code == 2 and "nope" in err and "Traceback" not in err


def test_name_and_unname(tmp_path: Path, key: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "name", "videos/alice/123_0.mp4", "--key-file", str(key))
    remote = out.strip()
    assert code == 0 and remote.startswith("encrypted_videos/alice/")
    assert remote.split("/")[2] == load_key(key).encrypt_name("encrypted_videos/alice", "123_0.mp4")
    code, out, _ = run(capsys, "unname", remote, "--key-file", str(key))
    assert code == 0 and out.strip() == "videos/alice/123_0.mp4"
    code, _, err = run(
        capsys, "unname", remote.replace("encrypted_videos/alice", "encrypted_videos/bob"), "--key-file", str(key)
    )
    assert code == 1
    code, _, err = run(capsys, "name", "videos/alice/../x", "--key-file", str(key))
    assert code == 2


def test_real_process_exit_codes(tmp_path: Path, key: Path) -> None:
    """The installed entry point, as a user runs it: wrong key -> exit 1, one line, no output."""
    other = tmp_path / "other.key"
    other.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    other.chmod(0o600)
    (tmp_path / "a").write_bytes(b"x" * 1000)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    cmd = [sys.executable, "-m", "hfcheck", "crypt"]
    ok = subprocess.run(
        [*cmd, "encrypt", "a", "a.enc", "--path", PATH, "--key-file", str(key)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [*cmd, "decrypt", "a.enc", "p", "--path", PATH, "--key-file", str(other)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "p").exists()
