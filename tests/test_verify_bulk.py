"""verify's bulk path: listed repos settled a page of rows at a time, repos and their top-level
folders listed concurrently. Same findings, same report and same resume as URL by URL; a folder
listing costs at most one partial page more per folder than one recursive listing."""

from __future__ import annotations

import json
import math
import random
import signal
import sqlite3
import subprocess
import sys
import time
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hfcheck.config import Config, load_config
from hfcheck.errors import Refused
from hfcheck.net.hub import Hub
from hfcheck.net.outcome import HubOutcome
from hfcheck.sim.emulator.testing import EmulatorThread
from hfcheck.verify.checkers import HotSets, PathIndex
from hfcheck.verify.pipeline import VerifyOptions, run_verify
from tests.helpers import demo_world, with_hub

CONTENT = b"\x00bulk\n"


def report_key(progress: Any) -> dict[str, Any]:
    """Everything the report says, problems in a stable order."""
    data = progress.to_json()
    data["problems"] = sorted(data["problems"], key=lambda p: (p["tweet_id"], p.get("index", 0), p["category"]))
    return {k: data[k] for k in ("counts", "problems", "repo_problems", "row_problems", "complete", "position")}


# --------------------------------------------------------------------------------------
# The same report as URL by URL, on the demo archive plus repo-level and unusual URLs
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with demo_world(tmp_path_factory.mktemp("demo"), tweets=90) as w:
        cfg = w.config()  # the demo's database gains rows the demo does not plant
        repo = cfg.repos[0]
        con = sqlite3.connect(cfg.db)
        base = f"{w.hub.url}/datasets"
        present = next(p for p in w.hub.store.list_paths(repo) if p.startswith("encrypted_"))
        extra = {
            "9000000000000000001": [f"{base}/nobody/nothing/resolve/main/encrypted_images/a/x"],  # repo not found
            # recorded at another revision: checked at the configured one (main), where it is missing
            "9000000000000000002": [f"{base}/{repo}/resolve/no-such-branch/encrypted_images/a/x"],
            "9000000000000000003": [f"{base}/{repo}/resolve/main/{present.replace('/', '%2F', 1)}"],  # not a plain path
            "9000000000000000004": [f"{base}/{repo}/resolve/main/{present}", f"{base}/{repo}/resolve/main/elsewhere/x"],
        }
        for tweet_id, urls in extra.items():
            row = {
                "id": tweet_id,
                "username": "bulkuser",
                "media_urls": json.dumps(["https://pbs.twimg.com/media/x.jpg"] * len(urls)),
                "huggingface_urls": json.dumps(urls),
            }
            con.execute(
                f"INSERT INTO tweets ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values())
            )
        con.commit()
        con.close()
        yield w


@pytest.mark.parametrize("method", ["list", "auto"])
async def test_bulk_settle_gives_the_per_url_report(world: Any, method: str, tmp_path: Path) -> None:
    bulk = await with_hub(run_verify, world.config(data_dir=tmp_path / "bulk"), VerifyOptions(method=method))
    per_url = await with_hub(
        run_verify, world.config(data_dir=tmp_path / "per-url"), VerifyOptions(method=method, per_url=True)
    )
    head = await with_hub(run_verify, world.config(data_dir=tmp_path / "head"), VerifyOptions(method="head"))
    assert report_key(bulk.progress) == report_key(per_url.progress) == report_key(head.progress)
    counts = bulk.progress.counts
    assert (
        counts["repo_not_found"] == 1 and counts["missing"] > 0 and counts["wrong_path"] > 0 and counts["malformed"] > 0
    )
    assert {r["detail"] for r in bulk.progress.repo_problems.values()} == {
        "repo not found (or private to another account)"
    }
    other = [p for p in bulk.progress.row_problems if p["code"] == "other_revision"]
    assert [p["tweet_id"] for p in other] == ["9000000000000000002"]
    assert any(f.tweet_id == "9000000000000000002" and f.category.value == "missing" for f in bulk.progress.problems)


async def test_bulk_settle_asks_no_access_check_and_no_head(world: Any, tmp_path: Path) -> None:
    """A listing answers for its repo: no separate access request, and not one HEAD."""
    ctl = world.hub.control
    ctl.reset_stats()
    result = await with_hub(run_verify, world.config(data_dir=tmp_path), VerifyOptions(method="list"))
    kinds = ctl.stats()["kinds"]
    assert kinds.get("tree", 0) == result.stats["requests"] == result.stats["tree_pages"] + 1  # + the refused repo
    assert set(kinds) == {"tree"}


async def test_private_repo_is_one_no_access_problem_in_bulk(world: Any, tmp_path: Path) -> None:
    cfg = world.config(data_dir=tmp_path)
    world.hub.control.set_repo(cfg.repos[0], private=True)
    try:
        anonymous = load_config(
            world.root / "hfcheck.toml", {"lang": "en", "data_dir": tmp_path}, env={"HF_ENDPOINT": world.hub.url}
        )
        result = await with_hub(run_verify, anonymous, VerifyOptions(method="list"))
    finally:
        world.hub.control.set_repo(cfg.repos[0], private=False)
    problems = {k: v["category"] for k, v in result.progress.repo_problems.items()}
    assert problems[f"{cfg.repos[0]}@main"] == "no_access"
    assert result.progress.counts["present"] == 0 and result.progress.counts["missing"] == 0


# --------------------------------------------------------------------------------------
# Concurrent folder listing
# --------------------------------------------------------------------------------------

LAYOUTS = {
    # top-level folder -> files in it (some in subfolders); plus files at the root
    "uneven": ({"big": 2_345, "mid": 1_000, "small": 3, "one": 1}, 7),
    "single": ({"encrypted_images": 2_100}, 0),
    "flat": ({}, 1_200),
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorThread]:
    emu = EmulatorThread(tmp_path_factory.mktemp("hub")).start()
    rng = random.Random(5)
    for name, (folders, root_files) in LAYOUTS.items():
        files = [(f"root{i}.bin", CONTENT) for i in range(root_files)]
        for folder, n in folders.items():
            files += [(f"{folder}/sub{rng.randrange(3)}/f{i:05d}.bin", CONTENT) for i in range(n)]
        emu.store.create_repo(f"t/{name}", owner="t", exist_ok=True)
        emu.store.commit(f"t/{name}", files, message="seed", lfs=True)
    try:
        yield emu
    finally:
        emu.stop()


def hub_config(hub: EmulatorThread, tmp: Path) -> Config:
    (tmp / "db.sqlite").touch()
    return load_config(None, {"db": tmp / "db.sqlite", "data_dir": tmp}, env={"HF_ENDPOINT": hub.url})


def tree_requests(hub: EmulatorThread) -> int:
    return int(hub.control.stats()["kinds"].get("tree", 0))


def expected_chain(paths: list[str]) -> tuple[int, int]:
    """(top-level folders, pages of the root listing + pages of the largest folder's listing)."""
    top: dict[str, set[str]] = {}
    root_entries = 0
    for p in paths:
        parts = p.split("/")
        if len(parts) == 1:
            root_entries += 1
        else:  # a folder's listing has its files and its subfolders
            top.setdefault(parts[0], set()).update({p, *("/".join(parts[:i]) for i in range(2, len(parts)))})
    root_pages = math.ceil((root_entries + len(top)) / 1000)
    return len(top), root_pages + max((math.ceil(len(e) / 1000) for e in top.values()), default=0)


class WatchedHub(Hub):
    """The real client, noting how many API requests were in flight at once."""

    in_flight = 0
    most = 0

    async def request(self, method: str, url: str, bucket: str, **kw: Any) -> Any:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            return await super().request(method, url, bucket, **kw)
        finally:
            self.in_flight -= 1


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
async def test_folder_listing_same_index_and_request_bound(hub: EmulatorThread, layout: str, tmp_path: Path) -> None:
    repo = f"t/{layout}"
    paths = hub.store.list_paths(repo)
    async with Hub(hub_config(hub, tmp_path)) as http:
        hub.control.reset_stats()
        sequential = await PathIndex.build(http, repo, "main", None, HotSets(), folders=False)
        seq_requests = tree_requests(hub)
        hub.control.reset_stats()
        folders = await PathIndex.build(http, repo, "main", None, HotSets(), folders=True)
        folder_requests = tree_requests(hub)
    assert sequential is not None and folders is not None
    assert len(folders) == len(sequential) == len(paths)
    assert all(p in folders for p in paths) and all(p in sequential for p in paths)
    assert "nope/x" not in folders and "nope/x" not in sequential
    n_folders, chain = expected_chain(paths)
    assert seq_requests == sequential.pages == sequential.chain
    assert folder_requests == folders.pages <= seq_requests + n_folders  # at most one partial page per folder
    assert folders.chain == chain


async def test_folders_are_listed_at_the_same_time(hub: EmulatorThread, tmp_path: Path) -> None:
    hub.control.set_faults(latency_ms=50)  # so that requests overlap if they are sent together
    try:
        async with WatchedHub(hub_config(hub, tmp_path)) as http:
            sequential = await PathIndex.build(http, "t/uneven", "main", None, HotSets(), folders=False)
            assert http.most == 1
            folders = await PathIndex.build(http, "t/uneven", "main", None, HotSets(), folders=True)
    finally:
        hub.control.clear_faults()
    assert sequential is not None and folders is not None
    assert http.most == len(LAYOUTS["uneven"][0])  # every top-level folder at once
    assert folders.chain < folders.pages


async def test_folder_listing_gives_up_past_max_pages(hub: EmulatorThread, tmp_path: Path) -> None:
    async with Hub(hub_config(hub, tmp_path)) as http:
        hub.control.reset_stats()
        assert await PathIndex.build(http, "t/uneven", "main", 1, HotSets(), folders=True) is None
        # the root, the pages up to the one that went over, and at most one in flight per other folder
        assert tree_requests(hub) <= 1 + 2 + len(LAYOUTS["uneven"][0])
        with pytest.raises(Refused) as refused:
            await PathIndex.build(http, "t/missing", "main", None, HotSets(), folders=True)
    assert refused.value.access is HubOutcome.NO_ACCESS and "HF_TOKEN" in refused.value.why  # no token: maybe private


# --------------------------------------------------------------------------------------
# kill -9 during a bulk run, then --resume: the same report
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorThread, Path]]:
    """30,000 one-URL tweets in one repo, 1% missing, a wrong path per 5,000."""
    root = tmp_path_factory.mktemp("big")
    emu = EmulatorThread(root / "hub").start()
    rng = random.Random(11)
    rows, files = [], []
    for i in range(30_000):
        tweet_id, user = str(1_700_000_000_000_000_000 + i * 13), f"u{rng.randrange(20)}"
        if i % 5_000 == 2_500:
            path = f"images/{user}/{tweet_id}_0.jpg"
        else:
            path = f"encrypted_images/{user}/{rng.randbytes(12).hex()}"
            if rng.random() > 0.01:
                files.append((path, CONTENT))
        rows.append((tweet_id, user, "[]", json.dumps([f"{emu.url}/datasets/t/big/resolve/main/{path}"])))
    emu.store.create_repo("t/big", owner="t", exist_ok=True)
    emu.store.commit("t/big", files, message="seed", lfs=True)
    con = sqlite3.connect(root / "archive.db")
    con.execute("CREATE TABLE tweets (id TEXT PRIMARY KEY, username TEXT, media_urls TEXT, huggingface_urls TEXT)")
    con.executemany("INSERT INTO tweets VALUES (?,?,?,?)", rows)
    con.commit()
    con.close()
    (root / "hfcheck.toml").write_text(
        f'[archive]\ndb = "{root / "archive.db"}"\n\n[hub]\nendpoint = "{emu.url}"\n', encoding="utf-8"
    )
    try:
        yield emu, root
    finally:
        emu.stop()


def verify_cli(root: Path, data: Path, *args: str) -> subprocess.Popen[str]:
    cmd = [
        sys.executable,
        "-m",
        "hfcheck",
        "verify",
        "--method",
        "list",
        "--config",
        str(root / "hfcheck.toml"),
        "--data-dir",
        str(data),
        *args,
    ]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_sigkill_during_bulk_settle_then_resume_gives_the_same_report(
    big: tuple[EmulatorThread, Path], tmp_path: Path
) -> None:
    emu, root = big
    full = verify_cli(root, tmp_path / "full", "--json")
    out, err = full.communicate(timeout=300)
    assert full.returncode == 1, err
    expected = json.loads(out)
    assert expected["counts"]["wrong_path"] == 6 and expected["counts"]["missing"] > 0

    data = tmp_path / "killed"
    emu.control.set_faults(latency_ms=20)
    try:
        proc = verify_cli(root, data, "--checkpoint-interval", "0.1")
        progress = data / "hf_url_check_progress.json"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:  # kill once some rows are settled
            if progress.exists() and json.loads(progress.read_text())["counts"]["total"] > 0:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    finally:
        emu.control.clear_faults()
    saved = json.loads(progress.read_text())
    assert not saved["complete"] and 0 < saved["counts"]["total"] < expected["counts"]["total"]

    resumed = verify_cli(root, data, "--resume", "--json")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 1, err
    got = json.loads(out)
    assert got["counts"] == expected["counts"]
    key = lambda p: sorted((x["category"], x["tweet_id"], x["url"]) for x in p)  # noqa: E731
    assert key(got["problems"]) == key(expected["problems"])


def test_hot_sets_keep_a_few_and_answer_the_same_after_eviction() -> None:
    """Lookups go through a set per index, at most `keep` of them at once; an evicted index is
    rebuilt from its hashes and answers as before."""
    hot = HotSets(keep=2)
    names = [[f"encrypted_images/u{r}/{i}" for i in range(50)] for r in range(3)]
    indexes = [PathIndex(array("q", map(hash, paths)), hot) for paths in names]
    for _ in range(2):  # the second round finds every set evicted at least once
        for r, index in enumerate(indexes):
            assert index.contains_all(names[r] + ["encrypted_images/u9/0"]) == [True] * 50 + [False]
            assert names[r][7] in index and names[(r + 1) % 3][7] not in index
            assert len(hot._sets) <= 2
