"""`make demo` end to end: the whole cycle through the real CLI on a small demo archive, in
either scheme (`make demo SCHEME=fernet`: backups made by plain `cryptography.fernet` code)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hfcheck", "demo", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["hfcheck-v1", "fernet"])
def test_demo_cycle_fixes_everything_repairable_and_restores_identical_files(tmp_path: Path, scheme: str) -> None:
    root = tmp_path / "demo"
    if scheme == "fernet":  # built first in the other scheme: the rebuild replaces its key and config
        assert demo("init", str(root), "--tweets", "20").returncode == 0
    attempts = (1, 2) if scheme == "hfcheck-v1" else (1,)
    for attempt in attempts:  # a second run rebuilds the archive: nothing stale is compared
        r = demo("run", str(root), "--tweets", "40", "--scheme", scheme)
        assert r.returncode == 0, (attempt, r.stdout[-3000:], r.stderr[-3000:])
        assert "demo OK" in r.stdout and "Traceback" not in r.stderr
        restored = [line for line in r.stdout.splitlines() if line.strip().startswith(("identical", "DIFFERS"))]
        assert restored and all(line.strip().startswith("identical") for line in restored)
        assert "Restored: " + str(len(restored)) in r.stdout
    assert f'scheme = "{scheme}"' in (root / "hfcheck.toml").read_text()
    if scheme == "fernet":
        from cryptography.fernet import Fernet

        Fernet((root / "archive.key").read_bytes().strip())  # a key as Fernet.generate_key() writes it
    final = json.loads((root / "data" / "audit_report.json").read_text())
    counts, gaps = final["verify"]["counts"], final["gaps"]
    assert counts["missing"] == counts["wrong_path"] == gaps["unbacked"] == gaps["partial"] == 0
    assert (
        counts["malformed"] == json.loads((root / "planted.json").read_text())["counts"]["malformed"]
    )  # fixed by hand only
    assert final["deep"]["counts"]["decrypt_failed"] == final["deep"]["counts"]["unknown_format"] == 0
    # the one lost media list left is the tweet deleted on X: the plan says so and promises no repair
    plan = {item["kind"]: item for item in final["plan"]}
    assert gaps["empty_media"] == 1 and plan["deleted_on_x"]["tweets"] == 1 and "empty_media" not in plan


@pytest.mark.slow
def test_the_commands_the_demo_printed_run_as_printed_afterwards(tmp_path: Path) -> None:
    """After `demo run`, `demo serve` brings its Hub and media server back on the same ports, and
    a command copied from the demo's output, with the HF_TOKEN it printed, runs as printed: its
    config names the endpoint (not huggingface.co: every URL malformed, exit 3)."""
    import os
    import re
    import shlex
    import signal

    root = tmp_path / "demo"
    r = demo("run", str(root), "--tweets", "20")
    assert r.returncode == 0, r.stdout[-2000:]
    printed = re.findall(r"^\$ (python -m hfcheck audit .*)$", r.stdout, re.M)
    token = re.search(r"export HF_TOKEN=([^`\s]+)", r.stdout)
    assert printed and token, r.stdout[-2000:]
    env = {k: v for k, v in os.environ.items() if k not in ("HF_ENDPOINT", "HF_TOKEN")}
    serve = subprocess.Popen(
        [sys.executable, "-m", "hfcheck", "demo", "serve", str(root)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert serve.stdout is not None and "Hub emulator at" in serve.stdout.readline()
        cmd = shlex.split(printed[-1])
        after = subprocess.run(
            [sys.executable, *cmd[1:]],
            env={**env, "HF_TOKEN": token.group(1), "LANG": "C.UTF-8"},
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=30)
    assert after.returncode == 1, after.stdout + after.stderr  # the one tweet deleted on X is left
    malformed = json.loads((root / "planted.json").read_text())["counts"]["malformed"]
    assert re.search(rf"^Malformed\s+{malformed}$", after.stdout, re.M), after.stdout
    assert "deleted_on_x: 1 tweet" in after.stdout and "Unverified" not in after.stdout
