"""The demo cycle behind `make demo`: the real CLI, step by step, on the demo archive.

The hub emulator and the media server run in this process (threads); every step is the
`python -m hfcheck ...` a user would type, so the output is exactly what users see.
"""

from __future__ import annotations

import filecmp
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import click

from hfcheck.demo import TOKEN, build_demo


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _step(title: str, root: Path, env: dict[str, str], *args: str) -> int:
    click.secho(f"\n$ python -m hfcheck {' '.join(args)}", bold=True)
    click.echo(f"# {title}")
    cmd = [sys.executable, "-m", "hfcheck", *args, "--config", str(root / "hfcheck.toml")]
    rc = subprocess.run(cmd, env=env).returncode
    click.echo(f"# exit code {rc}")
    return rc


def run_cycle(root: Path, *, tweets: int, seed: int) -> int:
    from hfcheck.commands import ALL
    from hfcheck.emulator.testing import EmulatorThread
    from hfcheck.mediaserver import start_media_server

    names = {c.name for c in ALL}
    root = root.resolve()
    port, media_port = _free_port(), _free_port()
    plan = build_demo(root, tweets=tweets, seed=seed, media_port=media_port, endpoint=f"http://127.0.0.1:{port}")
    click.echo(f"demo archive in {root}: planted {plan.counts} and gaps {plan.gaps}")
    env = {**os.environ, "HF_ENDPOINT": f"http://127.0.0.1:{port}", "HF_TOKEN": TOKEN, "HF_HUB_DISABLE_XET": "1"}
    hub = EmulatorThread(root / "hub", port=port).start()
    media = start_media_server(root / "source", port=media_port)
    click.echo(f"hub emulator at {hub.url}, media server at {media.url}")
    try:
        first = "audit" if "audit" in names else "verify"
        if first == "audit":
            _step("read-only audit: verify, gaps, deep sample, HTML report", root, env, "audit")
        else:
            _step("check every recorded URL and count the gaps", root, env, "verify", "--check-missing")
        _step("repair: missing files, wrong paths, lost media lists", root, env, "repair")
        _step("backup: tweets that were never backed up", root, env, "backup")
        final = _step("verify again: nothing missing, no gaps", root, env, *(("audit",) if first == "audit" else ("verify", "--check-missing")))
        ok = _restore_sample(root, env) if "restore" in names else True
    finally:
        media.stop()
        hub.stop()
    report = root / "data" / "audit_report.html"
    if report.exists():
        click.secho(f"\nHTML report: {report}", bold=True)
    click.echo(f"data (progress, reports, state): {root / 'data'}")
    return 0 if ok and final in (0, 1) else 1


def _restore_sample(root: Path, env: dict[str, str]) -> bool:
    """Restore a few tweets and compare them byte for byte with the local media."""
    out = root / "restored"
    planted = json.loads((root / "planted.json").read_text())
    sample = planted["tweets"].get("missing", [])[:1] + planted["tweets"].get("unbacked", [])[:2] + planted["tweets"].get("ok", [])[:2]
    same = True
    for tweet_id in sample:
        _step(f"restore tweet {tweet_id} and compare with the local files", root, env, "restore", "--tweet", tweet_id, "--out", str(out))
    for f in sorted(p for p in out.rglob("*") if p.is_file()):
        local = root / "media" / f.relative_to(out)
        match = local.is_file() and filecmp.cmp(f, local, shallow=False)
        same &= match
        click.echo(f"  {'identical' if match else 'DIFFERS  '}  {f.relative_to(out)}")
    return same
