"""backup end to end: unbacked media downloaded from the media server, encrypted, uploaded,
recorded and restorable to the exact bytes; bad downloads reported, nothing partial left;
hosts not allowed are never contacted."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from pathlib import Path

import pytest
from huggingface_hub import hf_hub_download

from hfcheck.crypto import decrypt_file, load_key
from hfcheck.db.state import StateDB
from hfcheck.model.paths import BackupURL, local_path_for
from hfcheck.net.hub import Hub
from hfcheck.readback.recorded import compare_recorded
from hfcheck.sim.demo import REPO, TOKEN
from tests.helpers import DemoWorld, demo_world, run_cli


def run(world: DemoWorld, *args: str, xet: bool = True) -> subprocess.CompletedProcess[str]:
    """The CLI as users run it; `xet=False` is a client with Xet off (HF_HUB_DISABLE_XET=1)."""
    return run_cli(world, *args, env=world.env() | ({} if xet else {"HF_HUB_DISABLE_XET": "1"}))


def rows(world, kind: str) -> dict[str, tuple[list[str], list[str], str]]:
    con = sqlite3.connect(world.root / "archive.db")
    ids = world.planted["tweets"][kind]
    q = f"SELECT id, media_urls, huggingface_urls, username FROM tweets WHERE id IN ({','.join('?' * len(ids))})"
    out = {r[0]: (json.loads(r[1]), json.loads(r[2] or "[]") if r[2] else [], r[3]) for r in con.execute(q, ids)}
    con.close()
    return out


@pytest.mark.slow
@pytest.mark.parametrize("xet", [True, False], ids=["xet", "lfs"])
def test_every_unbacked_tweet_backed_up_and_restorable(tmp_path: Path, xet: bool) -> None:
    with demo_world(tmp_path / "demo", tweets=60) as w:
        r = run(w, "backup", xet=xet)
        assert r.returncode == 0, r.stdout + r.stderr
        kinds = w.hub.control.stats()["kinds"]
        assert (kinds.get("cas_xorb", 0) > 0, kinds.get("lfs_upload", 0) > 0) == (xet, not xet), kinds
        key = load_key(w.root / "archive.key")
        for kind in ("unbacked", "partial"):
            for tid, (media, hf, username) in rows(w, kind).items():
                assert len(hf) == len(media), tid
                for u in hf:
                    url = BackupURL.parse(u)
                    rel = local_path_for(key, url.path)
                    got = hf_hub_download(
                        REPO,
                        url.path,
                        repo_type="dataset",
                        endpoint=w.hub.url,
                        token=TOKEN,
                        cache_dir=tmp_path / "cache",
                    )
                    out = tmp_path / "restored" / rel
                    out.parent.mkdir(parents=True, exist_ok=True)
                    decrypt_file(key, Path(got), out, url.path)
                    name = rel.rsplit("/", 1)[1]
                    assert out.read_bytes() == (w.root / "source" / name).read_bytes()
        again = run_cli(w, "verify", "--check-missing", "--json")
        gaps = json.loads(again.stdout)["gaps"]
        assert gaps["unbacked"] == 0 and gaps["partial"] == 0
        # a second run has nothing to do
        r2 = run(w, "backup", xet=xet)
        assert r2.returncode == 0 and "->" not in r2.stdout
        assert json.loads((w.root / "data" / "backup_report.json").read_text())["tweets"] == 0


@pytest.mark.slow
def test_bad_downloads_are_reported_and_leave_nothing_partial(tmp_path: Path) -> None:
    with demo_world(tmp_path / "demo", tweets=60) as w:
        unbacked = rows(w, "unbacked")
        local_missing = []
        for tid, (media, _, username) in unbacked.items():
            for m in media:
                name = m.rsplit("/", 1)[1]
                folder = "videos" if name.endswith(".mp4") else "images"
                if not (w.root / "media" / folder / username / name).exists():
                    local_missing.append((tid, m, w.root / "media" / folder / username / name))
        assert len(local_missing) >= 3
        (t404, u404, p404), (tcut, ucut, pcut), (thtml, uhtml, phtml) = local_missing[:3]
        w.media.set_fault(f"/media/{u404.rsplit('/', 1)[1]}", 404, times=100)
        w.media.set_fault(f"/media/{ucut.rsplit('/', 1)[1]}", "truncate", times=100)
        w.media.set_fault(f"/media/{uhtml.rsplit('/', 1)[1]}", "html", times=100)
        before = {tid: rows(w, "unbacked")[tid][1] for tid in (t404, tcut, thtml)}
        r = run_cli(w, "backup")
        assert r.returncode == 1 and "Traceback" not in r.stderr
        assert "gone at the source" in r.stdout and u404 in r.stdout
        report = json.loads((w.root / "data" / "backup_report.json").read_text())
        assert u404 in report["gone_at_source"]
        for p in (p404, pcut, phtml):
            assert not p.exists() and not p.with_name(p.name + ".part").exists()
        after = rows(w, "unbacked")
        for tid in (t404, tcut, thtml):
            assert after[tid][1] == before[tid]  # the row is unchanged: nothing half-recorded


def test_hosts_not_allowed_are_never_contacted(tmp_path: Path) -> None:
    with demo_world(tmp_path / "demo", tweets=60) as w:
        prod = w.root / "prod.toml"
        text = (w.root / "hfcheck.toml").read_text()
        prod.write_text(
            text.replace(
                f'allowed_hosts = ["127.0.0.1:{w.planted["media_port"]}"]',
                'allowed_hosts = ["pbs.twimg.com", "video.twimg.com"]',
            )
        )
        assert prod.read_text() != text
        dry = run_cli(w, "backup", "--dry-run", config=prod)
        assert dry.returncode == 0, dry.stderr
        # the dry run shows the refusals the real run meets: no file that would have to be
        # fetched from a host not allowed is listed as an upload
        uploads = re.findall(r": upload (\S+) -> ", dry.stdout)
        assert uploads and all((w.root / "media" / rel).is_file() for rel in uploads)
        refused = re.findall(r"(\S+) will not be fetched: 127\.0\.0\.1:\d+ is not an allowed media host", dry.stdout)
        assert refused and w.media.count() == 0
        r = run_cli(w, "backup", config=prod)
        assert r.returncode == 1
        assert "not allowed" in r.stdout or "rejected" in r.stdout
        assert w.media.count() == 0
        failed = {line.split()[1] for line in r.stdout.splitlines() if "-> error:" in line}
        dry_failed = {m.split()[1] for m in dry.stdout.split("\n[") if "will not be fetched" in m}
        assert failed == dry_failed  # the same tweets, told before and after


FALLBACK_LINE = "offers no Xet storage (xet-write-token answered 404): uploading over LFS for this run"


@pytest.mark.slow
def test_backup_and_repair_fall_back_to_lfs_on_a_hub_without_xet(tmp_path: Path) -> None:
    with demo_world(tmp_path / "demo", tweets=60, xet=False) as w:
        for command in ("backup", "repair"):
            r = run(w, command)
            out = r.stdout + r.stderr
            assert out.count(FALLBACK_LINE) == 1 and "xet-write-token/" not in out, out
            assert "gave up" not in out and "Traceback" not in out
            # backup completes; repair's only error is the tweet the demo deleted on X
            assert r.returncode == (0 if command == "backup" else 1) and out.count("-> error") == (
                0 if command == "backup" else 1
            ), out
        kinds = w.hub.control.stats()["kinds"]
        assert kinds.get("lfs_upload", 0) > 0 and "cas_xorb" not in kinds


@pytest.mark.slow
async def test_xet_uploads_read_back_through_the_bridge_without_the_token(tmp_path: Path) -> None:
    """restore follows resolve's 302 to the bridge host, which refuses any Authorization;
    deep's zero-download comparison matches the listing's sha256 of Xet files."""
    with demo_world(tmp_path / "demo", tweets=60) as w:
        assert run(w, "backup").returncode == 0
        w.hub.control.reset_stats()
        out = tmp_path / "out"
        r = run(w, "restore", "--all", "--out", str(out), "--data-dir", str(tmp_path / "rdata"))
        assert "Traceback" not in r.stderr
        report = json.loads((tmp_path / "rdata" / "restore_report.json").read_text())
        bridge = w.hub.control.stats()["by_kind"].get("bridge_get", {})
        assert sum(n for status, n in bridge.items() if status in ("200", "206")) >= 1, bridge
        assert "400" not in bridge, bridge  # the token never reached the bridge host
        assert report["counts"]["restored"] >= 1
        key = load_key(w.root / "archive.key")
        for kind in ("unbacked", "partial"):
            for _, (media, hf, _) in rows(w, kind).items():
                for u in hf:
                    rel = local_path_for(key, BackupURL.parse(u).path)
                    assert (out / rel).read_bytes() == (w.root / "source" / rel.rsplit("/", 1)[1]).read_bytes()
        cfg = w.config()
        w.hub.control.reset_stats()
        with StateDB.in_data_dir(cfg.data_dir) as state:
            async with Hub(cfg) as http:
                rec = await compare_recorded(cfg, http, state)
        assert rec.compared >= 1 and rec.matched == rec.compared and rec.differs == 0
        assert not any(k.startswith(("resolve", "cdn", "bridge")) for k in w.hub.control.stats()["kinds"])
