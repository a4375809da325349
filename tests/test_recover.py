"""repair finds a lost file in every copy that still exists (issue 20): other folders the user
names (`archive.search_roots`), the repo's history, then the media URL; each recovered file
says where it came from. End to end against the emulator, the CLI run as users run it."""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import sqlite3
from pathlib import Path

import pytest
from huggingface_hub import HfApi, hf_hub_download

from hfcheck.config import Config
from hfcheck.crypto import generate_key_file, load_codecs, load_key
from hfcheck.model.outcomes import FileKind
from hfcheck.model.paths import BackupURL, local_path_for
from hfcheck.net.hub import Hub
from hfcheck.sim.demo import REPO, TOKEN
from hfcheck.sim.emulator.testing import start_emulator
from hfcheck.write.plan import FilePlan, TweetPlan
from hfcheck.write.recover import CopyFinder
from tests.helpers import db_rows, demo_world, run_cli


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
    finder = CopyFinder(cfg, load_codecs(cfg), fetch=False, hub=Hub(cfg))
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


def lose(world, tid: str) -> tuple[str, str, bytes]:
    """Make the first backup of tweet `tid` a lost file: its local copy deleted, its media URL
    answering 404. (local rel, remote path, the plaintext it had)."""
    row = db_rows(world)[tid]
    url = BackupURL.parse(json.loads(row[2])[0])
    rel = local_path_for(load_key(world.root / "archive.key"), url.path)
    plain = (world.root / "media" / rel).read_bytes()
    (world.root / "media" / rel).unlink()
    world.media.set_fault(f"/media/{Path(json.loads(row[1])[0]).name}", 404, times=100)
    return rel, url.path, plain


def unrelated_commits(api: HfApi, n: int, revision: str = "main", tag: str = "") -> None:
    for i in range(n):
        api.upload_file(
            path_or_fileobj=f"note {tag}{i}\n".encode(),
            path_in_repo=f"notes/{tag}{i}.txt",
            repo_id=REPO,
            repo_type="dataset",
            revision=revision,
        )


@pytest.mark.slow
def test_a_file_deleted_by_a_later_commit_comes_back_from_history(world, tmp_path: Path) -> None:
    api = HfApi(endpoint=world.hub.url, token=TOKEN)
    tid = world.planted["tweets"]["ok"][0]
    rel, path, plain = lose(world, tid)
    unrelated_commits(api, 12, tag="before")
    had_it = api.list_repo_commits(REPO, repo_type="dataset")[0].commit_id
    ciphertext = Path(
        hf_hub_download(
            REPO,
            path,
            repo_type="dataset",
            endpoint=world.hub.url,
            token=TOKEN,
            revision=had_it,
            cache_dir=tmp_path / "c1",
        )
    ).read_bytes()
    api.delete_file(path, repo_id=REPO, repo_type="dataset")
    unrelated_commits(api, 19, tag="after")
    commits = len(api.list_repo_commits(REPO, repo_type="dataset"))
    assert run_cli(world, "verify").returncode == 1

    dry = run_cli(world, "repair", "--dry-run")
    assert f"{rel}: from history @ {had_it[:7]}" in dry.stdout, dry.stdout
    assert not (world.root / "media" / rel).exists()

    world.hub.control.reset_stats()
    r = run_cli(world, "repair")
    assert "Traceback" not in r.stderr
    line = next(ln for ln in r.stdout.splitlines() if tid in ln)
    assert "-> ok" in line, r.stdout
    assert f"{rel}: from history @ {had_it[:7]}" in r.stdout
    kinds = world.hub.control.stats()["kinds"]
    # one commits listing (a page: < 50 commits); paths-info: the history search (about
    # 2·log2(20 commits since the deletion)) and the writer's own existence checks
    assert kinds.get("list_commits") == 1
    assert kinds.get("paths_info", 0) <= 2 * math.ceil(math.log2(commits)) + 4, kinds
    # byte-identical: the same ciphertext at the head, the same plaintext in the media root
    head = hf_hub_download(
        REPO, path, repo_type="dataset", endpoint=world.hub.url, token=TOKEN, cache_dir=tmp_path / "c2"
    )
    assert Path(head).read_bytes() == ciphertext
    assert (world.root / "media" / rel).read_bytes() == plain
    report = json.loads((world.root / "data" / "repair_report.json").read_text())
    assert {"tweet_id": tid, "local": rel, "path": path, "from": f"from history @ {had_it[:7]}"} in report["recovered"]
    assert not (world.root / "data" / "history-copies").exists()
    again = run_cli(world, "verify", "--json")
    assert path not in again.stdout


@pytest.mark.slow
def test_a_history_copy_that_does_not_decrypt_is_never_used(world, tmp_path: Path) -> None:
    """Overwritten with junk, then deleted: the junk is passed over for the older good version.
    Deleted, junk uploaded, deleted again: nothing authenticates, the tweet is an error naming
    the history copy, and nothing is written."""
    api = HfApi(endpoint=world.hub.url, token=TOKEN)
    junk = b"\x00not a backup" * 100
    tid_a, tid_b = world.planted["tweets"]["ok"][1:3]
    rel_a, path_a, plain_a = lose(world, tid_a)
    good = api.list_repo_commits(REPO, repo_type="dataset")[0].commit_id
    api.upload_file(path_or_fileobj=junk, path_in_repo=path_a, repo_id=REPO, repo_type="dataset")
    junk_commit = api.list_repo_commits(REPO, repo_type="dataset")[0].commit_id
    api.delete_file(path_a, repo_id=REPO, repo_type="dataset")
    rel_b, path_b, _ = lose(world, tid_b)
    api.delete_file(path_b, repo_id=REPO, repo_type="dataset")
    api.upload_file(path_or_fileobj=junk, path_in_repo=path_b, repo_id=REPO, repo_type="dataset")
    junk_b = api.list_repo_commits(REPO, repo_type="dataset")[0].commit_id
    api.delete_file(path_b, repo_id=REPO, repo_type="dataset")
    assert run_cli(world, "verify").returncode == 1

    r = run_cli(world, "repair")
    line_a = next(ln for ln in r.stdout.splitlines() if tid_a in ln)
    assert "-> ok" in line_a and f"{rel_a}: from history @ {good[:7]}" in r.stdout, r.stdout
    assert junk_commit[:7] not in r.stdout
    assert (world.root / "media" / rel_a).read_bytes() == plain_a
    line_b = next(ln for ln in r.stdout.splitlines() if tid_b in ln)
    assert "-> error" in line_b and f"history @ {junk_b[:7]} does not decrypt" in line_b, line_b
    assert not (world.root / "media" / rel_b).exists()
    files = api.list_repo_files(REPO, repo_type="dataset")
    assert path_a in files and path_b not in files


@pytest.mark.slow
def test_recovered_at_a_branch(world, tmp_path: Path) -> None:
    """The archive lives on branch `backup`: its history is searched and the file committed
    there again; `main` is not touched."""
    api = HfApi(endpoint=world.hub.url, token=TOKEN)
    api.create_branch(REPO, branch="backup", repo_type="dataset")
    con = sqlite3.connect(world.root / "archive.db")
    con.execute("UPDATE tweets SET huggingface_urls = replace(huggingface_urls, '/resolve/main/', '/resolve/backup/')")
    con.commit()
    con.close()
    tid = world.planted["tweets"]["ok"][2]
    rel, path, plain = lose(world, tid)
    unrelated_commits(api, 3, revision="backup", tag="b")
    had_it = api.list_repo_commits(REPO, repo_type="dataset", revision="backup")[0].commit_id
    api.delete_file(path, repo_id=REPO, repo_type="dataset", revision="backup")
    unrelated_commits(api, 5, revision="backup", tag="c")
    main_before = api.list_repo_commits(REPO, repo_type="dataset")[0].commit_id
    assert run_cli(world, "verify", "--revision", "backup").returncode == 1
    r = run_cli(world, "repair", "--revision", "backup")
    line = next(ln for ln in r.stdout.splitlines() if tid in ln)
    assert "-> ok" in line, r.stdout
    assert f"{rel}: from history @ {had_it[:7]}" in r.stdout
    assert path in api.list_repo_files(REPO, repo_type="dataset", revision="backup")
    assert api.list_repo_commits(REPO, repo_type="dataset")[0].commit_id == main_before
    assert (world.root / "media" / rel).read_bytes() == plain


@pytest.mark.slow
def test_an_unreadable_backup_comes_back_from_the_version_before_it(world, tmp_path: Path) -> None:
    """Junk committed over a backup (a read-back finds it does not decrypt), the local copy and
    the media URL gone: the version before the junk is committed again."""
    api = HfApi(endpoint=world.hub.url, token=TOKEN)
    tid = world.planted["tweets"]["ok"][3]
    rel, path, plain = lose(world, tid)
    good = api.list_repo_commits(REPO, repo_type="dataset")[0].commit_id
    original = Path(
        hf_hub_download(REPO, path, repo_type="dataset", endpoint=world.hub.url, token=TOKEN, cache_dir=tmp_path / "a")
    ).read_bytes()
    tampered = bytearray(original)
    tampered[len(tampered) // 2] ^= 0x01  # still hfcheck-v1 by its header; fails authentication
    api.upload_file(path_or_fileobj=bytes(tampered), path_in_repo=path, repo_id=REPO, repo_type="dataset")
    unrelated_commits(api, 6)
    deep = run_cli(world, "verify", "--sample", "all", "--json")
    assert json.loads(deep.stdout)["deep"]["counts"]["decrypt_failed"] == 1
    r = run_cli(world, "repair")
    line = next(ln for ln in r.stdout.splitlines() if tid in ln)
    assert "unreadable" in line and "-> ok" in line, r.stdout
    assert f"{rel}: from history @ {good[:7]}" in r.stdout
    head = hf_hub_download(
        REPO, path, repo_type="dataset", endpoint=world.hub.url, token=TOKEN, cache_dir=tmp_path / "b"
    )
    assert Path(head).read_bytes() == original
    assert (world.root / "media" / rel).read_bytes() == plain


@pytest.mark.slow
def test_the_recorded_upload_commit_bounds_the_search(world, tmp_path: Path) -> None:
    """A file hfcheck uploaded itself: state.db knows its commit, the search starts there."""
    api = HfApi(endpoint=world.hub.url, token=TOKEN)
    before = db_rows(world)
    assert run_cli(world, "backup", "--limit", "1").returncode == 0
    tid = next(t for t, row in db_rows(world).items() if row != before[t])
    rel, path, plain = lose(world, tid)
    con = sqlite3.connect(world.root / "data" / "state.db")
    (uploaded,) = con.execute("SELECT commit_oid FROM uploads WHERE path = ?", (path,)).fetchone()
    con.close()
    unrelated_commits(api, 24)
    had_it = api.list_repo_commits(REPO, repo_type="dataset")[0].commit_id
    api.delete_file(path, repo_id=REPO, repo_type="dataset")
    unrelated_commits(api, 3, tag="x")
    assert run_cli(world, "verify").returncode == 1
    world.hub.control.reset_stats()
    r = run_cli(world, "repair")
    line = next(ln for ln in r.stdout.splitlines() if tid in ln)
    assert "-> ok" in line and f"{rel}: from history @ {had_it[:7]}" in r.stdout, r.stdout
    assert uploaded != had_it  # found between the upload and the deletion, not at the upload
    # 29 commits back to the upload: 1 probe there, then log2(29) bisecting; +1 the writer's own check
    assert world.hub.control.stats()["kinds"]["paths_info"] <= 1 + math.ceil(math.log2(29)) + 1
    assert (world.root / "media" / rel).read_bytes() == plain


def test_an_unreadable_history_is_said_and_never_a_traceback(tmp_path: Path) -> None:
    """No such repo (or a bucket, which has no commits): the file's error names the repo; with
    a media URL the writer goes on to it."""
    with start_emulator(tmp_path / "hub", users={"alice": "tok"}) as emu:
        generate_key_file(tmp_path / "k")
        cfg = Config(
            media_root=tmp_path / "media", key_file=tmp_path / "k", data_dir=tmp_path, endpoint=emu.url, token="tok"
        )
        finder = CopyFinder(cfg, load_codecs(cfg), fetch=True, hub=Hub(cfg))
        plan = TweetPlan("111")
        plan.files += [
            FilePlan(FileKind.MISSING, "images/alice/111_0.jpg", "alice/none", "encrypted_images/alice/n0", "u0"),
            FilePlan(
                FileKind.MISSING,
                "images/alice/111_1.jpg",
                "alice/none",
                "encrypted_images/alice/n1",
                "u1",
                media_url="https://pbs.twimg.com/media/x.jpg",
            ),
        ]
        asyncio.run(finder.locate(plan, None))
        (error,) = [str(e) for e in plan.errors]
        assert error == (
            "local file not found, and the history of alice/none cannot be read: "
            "alice/none@main: repo not found (or private to another account)"
        )
        assert "tok" not in str(plan.errors[0])
        assert plan.files[1].origin is not None and str(plan.files[1].origin) == "from its media URL"
        assert plan.files[1].unusable  # said if the media URL fails too
