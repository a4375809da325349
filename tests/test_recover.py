"""repair finds a lost file in every copy that still exists (issue 20): other folders the user
names (`archive.search_roots`), the repo's history, then the media URL; each recovered file
says where it came from. End to end against the emulator, the CLI run as users run it."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from hfcheck.config import Config
from hfcheck.crypto import generate_key_file, load_codecs, load_key
from hfcheck.model.outcomes import FileKind
from hfcheck.model.paths import BackupURL, local_path_for
from hfcheck.write.plan import FilePlan, TweetPlan
from hfcheck.write.recover import CopyFinder
from tests.helpers import demo_world, run_cli


@pytest.fixture()
def world(tmp_path):
    with demo_world(tmp_path / "demo", tweets=60) as w:
        assert run_cli(w, "verify").returncode == 1
        yield w


def missing_files(world) -> list[tuple[str, str, str]]:
    """(tweet id, local rel, remote path) of each planted missing backup."""
    progress = json.loads((world.root / "data" / "hf_url_check_progress.json").read_text())
    key = load_key(world.root / "archive.key")
    out = []
    for p in progress["problems"]:
        if p["category"] == "missing":
            path = BackupURL.parse(p["url"]).path
            out.append((p["tweet_id"], local_path_for(key, path), path))
    return out


def test_lost_files_come_back_from_search_roots(world, tmp_path: Path) -> None:
    (tid_a, rel_a, _), (tid_b, rel_b, _) = missing_files(world)[:2]
    media = world.root / "media"
    same, other = tmp_path / "old-disk", tmp_path / "phone-export"
    originals = {rel: (media / rel).read_bytes() for rel in (rel_a, rel_b)}
    # A: the same relative path in one root; B: same tweet id and index, another image extension
    (same / rel_a).parent.mkdir(parents=True)
    shutil.move(media / rel_a, same / rel_a)
    renamed = Path(rel_b).with_suffix(".png" if not rel_b.endswith(".png") else ".jpg")
    (other / renamed).parent.mkdir(parents=True)
    shutil.move(media / rel_b, other / renamed)
    for rel in (rel_a, rel_b):  # and the media URLs are gone too
        world.media.set_fault(f"/media/{Path(rel).name}", 404, times=100)
    roots = f"archive.search_roots=[{json.dumps(str(same))}, {json.dumps(str(other))}]"

    dry = run_cli(world, "repair", "--dry-run", "--set", roots)
    assert dry.returncode == 0, dry.stderr
    assert f"{rel_a}: from search root {same}" in dry.stdout
    assert f"{rel_b}: from search root {other}" in dry.stdout
    assert not (media / rel_a).exists()  # a dry run copies nothing

    r = run_cli(world, "repair", "--set", roots)
    assert "Traceback" not in r.stderr
    line_a = next(ln for ln in r.stdout.splitlines() if tid_a in ln)
    line_b = next(ln for ln in r.stdout.splitlines() if tid_b in ln)
    assert "-> ok" in line_a and "-> ok" in line_b, r.stdout
    assert f"{rel_a}: from search root {same}" in r.stdout
    assert f"{rel_b}: from search root {other}" in r.stdout
    for rel, data in originals.items():
        assert (media / rel).read_bytes() == data  # the media root is whole again
    report = json.loads((world.root / "data" / "repair_report.json").read_text())
    assert {(e["tweet_id"], e["from"]) for e in report["recovered"]} >= {
        (tid_a, f"from search root {same}"),
        (tid_b, f"from search root {other}"),
    }
    # the backups decrypt to the recovered bytes: deep compares them with the media root
    deep = run_cli(world, "verify", "--deep", "--json")
    counts = json.loads(deep.stdout)["deep"]["counts"]
    assert counts["differs"] == 0 and counts["decrypt_failed"] == 0, deep.stdout


def test_search_roots_match_kind_tweet_and_index(tmp_path: Path) -> None:
    """Only the same relative path, or the same tweet id and index in the same media type."""
    root = tmp_path / "elsewhere"
    generate_key_file(tmp_path / "k")
    cfg = Config(media_root=tmp_path / "media", key_file=tmp_path / "k", search_roots=(root,), data_dir=tmp_path)
    finder = CopyFinder(cfg, load_codecs(cfg), fetch=False)
    (root / "videos/alice").mkdir(parents=True)
    (root / "images/alice").mkdir(parents=True)
    (root / "videos/alice/111_0.mp4").write_bytes(b"video")  # same tweet and index, other kind
    (root / "images/alice/111_1.jpg").write_bytes(b"image")  # same tweet, other index
    (root / "images/alice/222_0.jpg").write_bytes(b"")  # empty: does not check out
    (root / "images/alice/333_0.webp").write_bytes(b"RIFF")

    def origin(rel: str) -> str | None:
        plan = TweetPlan(rel.split("/")[2].split("_")[0])
        plan.files.append(FilePlan(FileKind.WRONG_PATH, rel, "x/y", "encrypted_images/alice/n", "u"))
        asyncio.run(finder.locate(plan, None))
        return str(plan.files[0].origin) if plan.files[0].origin else None

    assert origin("images/alice/111_0.jpg") is None
    assert origin("images/alice/222_0.jpg") is None
    assert origin("images/alice/333_0.jpg") == f"from search root {root}"
    assert origin("videos/alice/111_0.mov") == f"from search root {root}"
