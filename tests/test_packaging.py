"""The emulator and the demo are an optional extra: `pip install hfcheck` installs the tool
alone, and without `hfcheck[emulator]` the commands that need it say how to install it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXTRA_HINT = "pip install 'hfcheck[emulator]'"
WITHOUT_LZ4 = "import sys; sys.modules['lz4'] = None; from hfcheck.cli import main; main(sys.argv[1:])"


def english() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LC_")} | {"LANG": "C.UTF-8"}


def one_line_naming_the_extra(run: subprocess.CompletedProcess[str]) -> str:
    assert run.returncode == 2, run.stderr
    assert run.stdout == "" and "Traceback" not in run.stderr
    (line,) = run.stderr.splitlines()
    assert EXTRA_HINT in line
    return line


@pytest.mark.parametrize(
    "args",
    [["hub", "serve", "--data", "hub"], ["demo", "run", "demo"], ["demo", "init", "demo"], ["demo", "serve", "."]],
)
def test_without_the_extra_each_emulator_command_says_how_to_install_it(tmp_path: Path, args: list[str]) -> None:
    run = subprocess.run(
        [sys.executable, "-c", WITHOUT_LZ4, *args], cwd=tmp_path, env=english(), capture_output=True, text=True
    )
    assert one_line_naming_the_extra(run).startswith(f"hfcheck: error: hfcheck {' '.join(args[:2])} needs")
    assert list(tmp_path.iterdir()) == []  # stopped before creating anything


def test_the_line_is_japanese_under_a_japanese_locale(tmp_path: Path) -> None:
    env = english() | {"LANG": "ja_JP.UTF-8"}
    run = subprocess.run(
        [sys.executable, "-c", WITHOUT_LZ4, "hub", "serve", "--data", "hub"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert "エミュレーター" in one_line_naming_the_extra(run)


def test_help_needs_no_extra(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-c", WITHOUT_LZ4, "hub", "serve", "--help"], capture_output=True, text=True)
    assert run.returncode == 0 and "--data" in run.stdout


@pytest.mark.slow
def test_a_fresh_pip_install_has_no_emulator_dependencies(tmp_path: Path) -> None:
    """`pip install .` into a new virtualenv (from the package registry, through pip's cache):
    neither blake3 nor lz4 is installed, and `hub serve` prints one line naming the extra."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "hfcheck", src / "hfcheck", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    installed = subprocess.run([*pip, "install", "-q", str(src)], capture_output=True, text=True, timeout=900)
    assert installed.returncode == 0, installed.stderr[-2000:]
    listed = subprocess.run([*pip, "list", "--format=json"], capture_output=True, text=True, check=True)
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert "hfcheck" in names and "twscrape" in names
    assert not names & {"blake3", "lz4"}
    run = subprocess.run(
        [python, "-m", "hfcheck", "hub", "serve", "--data", str(tmp_path / "hub")],
        cwd=tmp_path,
        env=english(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    one_line_naming_the_extra(run)
