"""The demo cycle behind `make demo`: the real CLI, step by step, on the demo archive.

The hub emulator and the media server run in this process (threads); every step is the
`python -m hfcheck ...` a user would type, so the output is exactly what users see, run with
X's canned answers handed in (`python -m hfcheck.sim.x_canned x_fixtures.json ...`).
"""

from __future__ import annotations

import contextlib
import filecmp
import json
import os
import random
import shlex
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import click

from hfcheck.config import detect_lang
from hfcheck.report.catalog import t
from hfcheck.sim.demo import TOKEN, build_demo


def free_port() -> int:
    """A port on loopback nobody listens on now (the demo's Hub and media server take two),
    chosen below the kernel's ephemeral range: a port from there (what binding to port 0 gives)
    can be taken by any outgoing connection before the server meant for it binds ("address
    already in use", seen in CI)."""
    low = 32768
    with contextlib.suppress(OSError, ValueError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        port = random.randrange(10_000, low) if low > 11_000 else 0
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError("no free port on 127.0.0.1")


def _step(title: str, root: Path, env: dict[str, str], lang: str, *args: str) -> int:
    """Run one command as printed (with the demo's config), X's canned answers handed in:
    `python -m hfcheck.sim.x_canned x_fixtures.json` runs the same command line."""
    cmd = ["python", "-m", "hfcheck", *args, "--config", str(root / "hfcheck.toml")]
    click.secho(f"\n$ {' '.join(shlex.quote(c) for c in cmd)}", bold=True)
    click.echo(f"# {t(title, lang)}")
    answers = str(root / "x_fixtures.json")
    rc = subprocess.run([sys.executable, "-m", "hfcheck.sim.x_canned", answers, *cmd[3:]], env=env).returncode
    click.echo(f"# {t('demo_exit_code', lang, rc=rc)}")
    return rc


def run_cycle(root: Path, *, tweets: int, seed: int, scheme: str = "hfcheck-v1") -> int:
    """Audit, repair, backup, audit again, restore a sample: 0 when the second audit finds no
    repairable problem left and every restored file equals its local original."""
    from hfcheck.sim.emulator.testing import EmulatorThread
    from hfcheck.sim.mediaserver import start_media_server

    lang = detect_lang(os.environ)
    root = root.resolve()
    port, media_port = free_port(), free_port()
    plan = build_demo(
        root, tweets=tweets, seed=seed, media_port=media_port, endpoint=f"http://127.0.0.1:{port}", scheme=scheme
    )
    click.echo(t("demo_built", lang, root=root, scheme=scheme, counts=plan.counts, gaps=plan.gaps))
    env = {**os.environ, "HF_ENDPOINT": f"http://127.0.0.1:{port}", "HF_TOKEN": TOKEN}
    hub = EmulatorThread(root / "hub", port=port).start()
    media = start_media_server(root / "source", port=media_port)
    click.echo(t("demo_serving", lang, hub=hub.url, media=media.url, token=TOKEN))
    try:
        _step("demo_step_audit", root, env, lang, "audit")
        _step("demo_step_repair", root, env, lang, "repair")
        _step("demo_step_backup", root, env, lang, "backup")
        _step("demo_step_audit_again", root, env, lang, "audit")
        restored = _restore_sample(root, env, lang)
    finally:
        media.stop()
        hub.stop()
    left = _repairable_left(json.loads((root / "data" / "audit_report.json").read_text()))
    click.secho(f"\n{t('demo_html', lang)}: {root / 'data' / 'audit_report.html'}", bold=True)
    click.echo(f"{t('demo_data', lang)}: {root / 'data'}")
    click.echo(t("demo_afterwards", lang, root=shlex.quote(str(root)), token=TOKEN))
    if left:
        click.secho(t("demo_failed", lang, left=left), fg="red")
    elif restored:
        click.secho(t("demo_ok", lang), fg="green")
    return 0 if restored and not left else 1


def serve(root: Path) -> int:
    """Serve a built demo archive's Hub and media server on the ports its config and URLs name,
    until Ctrl-C: the commands `demo run` printed then run as printed."""
    import time

    from hfcheck.sim.emulator.testing import EmulatorThread
    from hfcheck.sim.mediaserver import start_media_server

    lang = detect_lang(os.environ)
    planted = json.loads((root / "planted.json").read_text(encoding="utf-8"))
    port = int(str(planted["endpoint"]).rsplit(":", 1)[1])
    hub = EmulatorThread(root / "hub", port=port).start()
    media = start_media_server(root / "source", port=int(planted["media_port"]))
    click.echo(t("demo_serving", lang, hub=hub.url, media=media.url, token=TOKEN))
    click.echo(t("demo_serve_stop", lang))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        media.stop()
        hub.stop()
    return 0


def _repairable_left(report: dict[str, Any]) -> dict[str, int]:
    """What repair and backup should have left at zero. Malformed rows (fixed by hand) and
    media lists of tweets deleted on X (reported by repair) are not among them."""
    counts, gaps, deep = report["verify"]["counts"], report["gaps"], report["deep"]["counts"]
    left = {k: counts[k] for k in ("missing", "wrong_path", "unverified") if counts[k]}
    left |= {k: gaps[k] for k in ("unbacked", "partial") if gaps[k]}
    left |= {f"deep_{k}": deep[k] for k in ("decrypt_failed", "unknown_format", "differs", "missing") if deep[k]}
    return left


def _restore_sample(root: Path, env: dict[str, str], lang: str) -> bool:
    """Restore a few tweets (repaired, backed up, untouched) and compare them byte for byte
    with the local media."""
    out = root / "restored"
    planted = json.loads((root / "planted.json").read_text())
    sample = (
        planted["tweets"].get("missing", [])[:1]
        + planted["tweets"].get("unbacked", [])[:2]
        + planted["tweets"].get("ok", [])[:2]
    )
    flags = [arg for tweet_id in sample for arg in ("--tweet", tweet_id)]
    if _step("demo_step_restore", root, env, lang, "restore", *flags, "--out", str(out)) != 0:
        return False
    same = True
    for f in sorted(p for p in out.rglob("*") if p.is_file()):
        local = root / "media" / f.relative_to(out)
        match = local.is_file() and filecmp.cmp(f, local, shallow=False)
        same &= match
        click.echo(f"  {t('demo_identical' if match else 'demo_differs', lang)}  {f.relative_to(out)}")
    return same
