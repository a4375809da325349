"""The batched committer and repo placement, end to end against the Hub emulator.

The official client (huggingface_hub) talks real HTTP to the emulator; nothing of the Hub is
mocked. One test has the emulator apply a commit and then cut the connection (its
`lose_commit_answers` fault): the case the landed-check exists for.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import HfApi

from hfcheck.config import Config
from hfcheck.db.state import StateDB
from hfcheck.errors import CommitterStopped, IncompleteError
from hfcheck.model.outcomes import UploadSource
from hfcheck.net.hub import Hub
from hfcheck.sim.emulator.faults import XET_KINDS
from hfcheck.sim.emulator.testing import EmulatorThread, start_emulator
from hfcheck.write.commit import BatchPolicy, Committer, DeleteFailed, Staged, delete_files
from hfcheck.write.placement import RepoPlacement

TOKEN = "tok-alice-secret"
REPO = "alice/media"
FAST = BatchPolicy(
    initial=10, minimum=2, maximum=40, linger_s=0.2, backoff_base_s=0.05, backoff_cap_s=0.2, max_attempts=8
)
# Every kind but the commit POST is spared, so the client's own retries (1 s sleeps) stay out of it.
SPARE_ALL_BUT_COMMIT = [
    "preupload",
    "lfs_batch",
    "lfs_upload",
    "lfs_verify",
    "paths_info",
    "repo_info",
    "tree",
    "whoami",
    *XET_KINDS,
]


@pytest.fixture
def emu(tmp_path: Path) -> Any:
    with start_emulator(tmp_path / "hub", users={"alice": TOKEN}) as emu:
        emu.store.create_repo(REPO, owner="alice")
        yield emu


_HUBS: list[Hub] = []


async def hub_of(cfg: Config) -> Hub:
    """The run's Hub for `cfg` (one per test: the `hubs` fixture closes them)."""
    for hub in _HUBS:
        if hub.cfg is cfg:
            return hub
    hub = await Hub(cfg).__aenter__()
    _HUBS.append(hub)
    return hub


@pytest.fixture(autouse=True)
async def hubs() -> Any:
    yield
    while _HUBS:
        await _HUBS.pop().__aexit__()


def make_cfg(emu: EmulatorThread, tmp_path: Path, repos: tuple[str, ...] = (REPO,), **kw: Any) -> Config:
    return Config(endpoint=emu.url, token=TOKEN, repos=repos, data_dir=tmp_path / "data", **kw)


def stage(
    tmp_path: Path, n: int, repo_id: str = REPO, folder: str = "encrypted_images/alice", start: int = 0
) -> list[Staged]:
    """n staged 'ciphertext' files (random bytes: binary, so they go through LFS)."""
    d = tmp_path / "staged"
    d.mkdir(exist_ok=True)
    out = []
    for i in range(start, start + n):
        data = os.urandom(64 + i % 50)
        f = d / f"{repo_id.replace('/', '_')}_{i}.enc"
        f.write_bytes(data)
        out.append(
            Staged(
                repo_id,
                f"{folder}/f{i:05d}.enc",
                f,
                hashlib.sha256(data).hexdigest(),
                len(data),
                tag=i,
                source=UploadSource.REPAIR,
            )
        )
    return out


class Recorder:
    """The caller's side: what on_committed / on_failed received, in order."""

    def __init__(self) -> None:
        self.committed: list[tuple[list[Staged], str]] = []
        self.failed: list[tuple[list[Staged], str]] = []

    async def on_committed(self, items: list[Staged], commit_oid: str) -> None:
        self.committed.append((list(items), commit_oid))

    async def on_failed(self, items: list[Staged], reason: str) -> None:
        self.failed.append((list(items), reason))

    @property
    def committed_tags(self) -> list[Any]:
        return [i.tag for items, _ in self.committed for i in items]


async def produce(committer: Committer, items: list[Staged], producers: int = 8) -> None:
    """Concurrent producers, as the encrypt tasks are."""

    async def one(part: list[Staged]) -> None:
        for item in part:
            await committer.put(item)
            await asyncio.sleep(0)

    await asyncio.gather(*(one(items[k::producers]) for k in range(producers)))


def remote_lfs(cfg: Config, repo_id: str, paths: list[str]) -> dict[str, tuple[str, int]]:
    """path -> (LFS sha256, size) as the official client sees it."""
    api = HfApi(endpoint=cfg.endpoint, token=cfg.token)
    out = {}
    for k in range(0, len(paths), 500):
        for info in api.get_paths_info(repo_id, paths[k : k + 500], repo_type="dataset"):
            assert info.lfs is not None, info.path
            out[info.path] = (info.lfs.sha256, info.lfs.size)
    return out


def commit_200s(emu: EmulatorThread) -> int:
    return int(emu.control.stats()["by_kind"].get("commit", {}).get("200", 0))


async def test_concurrent_producers_commit_in_few_batches(emu: EmulatorThread, tmp_path: Path) -> None:
    cfg = make_cfg(emu, tmp_path)
    items = stage(tmp_path, 150)
    rec = Recorder()
    with StateDB.in_data_dir(cfg.data_dir) as state:
        async with Committer(
            await hub_of(cfg), state, on_committed=rec.on_committed, on_failed=rec.on_failed, policy=FAST, queue_size=16
        ) as c:
            await produce(c, items)
        stats = c.stats
        # 10, 20, 40, 40, 40 -> the batch size doubled after each quick full batch
        assert stats.commits == commit_200s(emu) <= 6
        assert stats.files_committed == 150 and stats.files_failed == 0
        assert stats.bytes_uploaded == sum(i.size for i in items)
        assert sorted(rec.committed_tags) == list(range(150))  # each exactly once
        assert rec.failed == []
        remote = remote_lfs(cfg, REPO, [i.path_in_repo for i in items])
        assert remote == {i.path_in_repo: (i.sha256, i.size) for i in items}
        for batch, oid in rec.committed:
            for item in batch:
                row = state.get_upload(REPO, item.path_in_repo)
                assert row is not None and (row.sha256, row.size, row.commit_oid) == (item.sha256, item.size, oid)
                assert emu.store.file_info(REPO, item.path_in_repo).last_commit == oid
        assert state.count_uploads(REPO) == 150
    assert not any(i.file.exists() for i in items)  # staged files deleted once confirmed


async def test_small_run_commits_after_linger(emu: EmulatorThread, tmp_path: Path) -> None:
    cfg = make_cfg(emu, tmp_path)
    items = stage(tmp_path, 3)
    rec = Recorder()
    with StateDB.in_data_dir(cfg.data_dir) as state:
        c = Committer(await hub_of(cfg), state, on_committed=rec.on_committed, on_failed=rec.on_failed, policy=FAST)
        c.start()
        await produce(c, items, producers=3)
        started = time.monotonic()
        while not rec.committed and time.monotonic() - started < 5:  # no close(): the linger alone commits
            await asyncio.sleep(0.05)
        assert sorted(rec.committed_tags) == [0, 1, 2]
        await c.close()
    assert commit_200s(emu) == 1


@pytest.mark.slow
async def test_commit_5xx_is_retried_and_nothing_is_committed_twice(emu: EmulatorThread, tmp_path: Path) -> None:
    cfg = make_cfg(emu, tmp_path)
    emu.control.set_faults(error_rate=0.5, exempt=SPARE_ALL_BUT_COMMIT, seed=7)
    items = stage(tmp_path, 60)
    rec = Recorder()
    with StateDB.in_data_dir(cfg.data_dir) as state:
        async with Committer(
            await hub_of(cfg), state, on_committed=rec.on_committed, on_failed=rec.on_failed, policy=FAST
        ) as c:
            await produce(c, items)
    stats = emu.control.stats()
    assert stats["faults"].get("5xx", 0) > 0 and c.stats.retries > 0
    assert rec.failed == [] and sorted(rec.committed_tags) == list(range(60))
    assert (
        c.stats.commits == commit_200s(emu) == emu.store.commit_count(emu.store.get_repo(REPO)) - 1
    )  # - the initial commit
    assert remote_lfs(cfg, REPO, [i.path_in_repo for i in items]) == {i.path_in_repo: (i.sha256, i.size) for i in items}


async def test_commit_that_landed_despite_an_error_is_not_uploaded_again(emu: EmulatorThread, tmp_path: Path) -> None:
    cfg = make_cfg(emu, tmp_path)
    emu.control.set_faults(lose_commit_answers=1)  # the emulator applies the commit, then resets
    items = stage(tmp_path, 30)
    rec = Recorder()
    policy = BatchPolicy(initial=10, minimum=10, maximum=10, linger_s=0.2, backoff_base_s=0.05)
    with StateDB.in_data_dir(cfg.data_dir) as state:
        async with Committer(
            await hub_of(cfg), state, on_committed=rec.on_committed, on_failed=rec.on_failed, policy=policy
        ) as c:
            for item in items:
                await c.put(item)
        stats = emu.control.stats()
        assert stats["faults"].get("lost_answer") == 1
        assert stats["kinds"]["commit"] == 3  # the lost commit was found by the lookup, not retried
        assert c.stats.files_found_landed == 10 and c.stats.files_committed == 30 and c.stats.retries == 0
        assert emu.store.commit_count(emu.store.get_repo(REPO)) == 1 + 3  # the initial commit + ours
        assert sorted(rec.committed_tags) == list(range(30)) and rec.failed == []
        first_batch, oid = rec.committed[0]
        assert all(emu.store.file_info(REPO, i.path_in_repo).last_commit == oid for i in first_batch)
        assert state.get_upload(REPO, first_batch[0].path_in_repo).commit_oid == oid  # type: ignore[union-attr]


@pytest.mark.slow
async def test_commit_quota_429_is_waited_out(emu: EmulatorThread, tmp_path: Path) -> None:
    cfg = make_cfg(emu, tmp_path)
    emu.control.set_rate_limits(window_s=2, commits=2)
    items = stage(tmp_path, 40)
    rec = Recorder()
    policy = BatchPolicy(initial=10, minimum=10, maximum=10, linger_s=0.1)
    with StateDB.in_data_dir(cfg.data_dir) as state:
        async with Committer(
            await hub_of(cfg), state, on_committed=rec.on_committed, on_failed=rec.on_failed, policy=policy
        ) as c:
            await produce(c, items)
    assert emu.control.stats()["faults"].get("rate_limited", 0) >= 1
    assert c.stats.rate_limited >= 1 and c.stats.files_failed == 0 and c.stats.retries == 0
    assert sorted(rec.committed_tags) == list(range(40))


async def test_missing_repo_fails_items_with_a_clear_reason(emu: EmulatorThread, tmp_path: Path) -> None:
    cfg = make_cfg(emu, tmp_path, repos=("alice/nope",))
    items = stage(tmp_path, 5, repo_id="alice/nope")
    rec = Recorder()
    with StateDB.in_data_dir(cfg.data_dir) as state:
        async with Committer(
            await hub_of(cfg), state, on_committed=rec.on_committed, on_failed=rec.on_failed, policy=FAST
        ) as c:
            await produce(c, items, producers=2)
        assert state.count_uploads() == 0
    assert rec.committed == []
    assert sorted(i.tag for batch, _ in rec.failed for i in batch) == list(range(5))
    reason = rec.failed[0][1]
    assert "not found" in reason and TOKEN not in reason
    assert c.stats.files_failed == 5 and c.stats.retries == 0
    assert all(i.file.exists() for i in items)  # left for the caller


async def test_a_failing_callback_stops_the_committer(emu: EmulatorThread, tmp_path: Path) -> None:
    cfg = make_cfg(emu, tmp_path)

    async def broken(items: list[Staged], oid: str) -> None:
        raise RuntimeError("users' database is locked")

    rec = Recorder()
    with StateDB.in_data_dir(cfg.data_dir) as state:
        c = Committer(await hub_of(cfg), state, on_committed=broken, on_failed=rec.on_failed, policy=FAST)
        c.start()
        for item in stage(tmp_path, 3):
            await c.put(item)
        with pytest.raises(RuntimeError, match="locked"):
            await c.close()
        with pytest.raises(CommitterStopped):
            await c.put(stage(tmp_path, 1, start=99)[0])


# -- placement -------------------------------------------------------------------------------
async def test_placement_spreads_over_repos_and_commits_there(emu: EmulatorThread, tmp_path: Path) -> None:
    emu.store.create_repo("alice/media2", owner="alice")
    emu.store.commit(
        REPO, [("encrypted_images/bob/old1.enc", os.urandom(80)), ("encrypted_images/bob/old2.enc", os.urandom(80))]
    )
    cfg = make_cfg(emu, tmp_path, repos=(REPO, "alice/media2"), max_files_per_repo=5, max_files_per_folder=3)
    placement = await RepoPlacement.load(await hub_of(cfg))
    assert placement.file_count(REPO) == 2 and placement.find_existing("encrypted_images/bob/old1.enc") == REPO
    assert placement.place("encrypted_images/bob/old2.enc") == REPO  # existing paths stay put

    staged = stage(tmp_path, 5, repo_id="-", folder="encrypted_images/bob")
    # bob/ in the first repo holds 2 files: room for 1 more (folder limit 3); then the second repo
    placed = [
        Staged(placement.place(s.path_in_repo), s.path_in_repo, s.file, s.sha256, s.size, s.tag, source=s.source)
        for s in staged[:4]
    ]
    assert [p.repo_id for p in placed] == [REPO, "alice/media2", "alice/media2", "alice/media2"]
    with pytest.raises(IncompleteError, match="add a repo to hub.repos"):
        placement.place(staged[4].path_in_repo)
    rec = Recorder()
    with StateDB.in_data_dir(cfg.data_dir) as state:
        async with Committer(
            await hub_of(cfg), state, on_committed=rec.on_committed, on_failed=rec.on_failed, policy=FAST
        ) as c:
            for p in placed:
                await c.put(p)
    assert rec.failed == [] and len(rec.committed) == 2  # one commit per repo
    assert sorted(emu.store.list_paths("alice/media2")) == sorted(p.path_in_repo for p in placed[1:])
    # a fresh listing sees what this run placed
    again = await RepoPlacement.load(await hub_of(cfg))
    assert again.file_count(REPO) == 3 and again.folder_entries("alice/media2", "encrypted_images/bob") == 3


def test_placement_counts_folders_and_repos() -> None:
    p = RepoPlacement(["a/one", "a/two"], max_files_per_repo=4, max_files_per_folder=2)
    assert [p.choose("x/u1") for _ in range(3)] == ["a/one", "a/one", "a/two"]  # folder limit
    assert p.choose("x/u2") == "a/one"  # x/ holds u1, u2 now: 2 entries
    assert p.choose("x/u3") == "a/two"  # x/ in a/one is full (a new folder is one more entry)
    assert p.folder_entries("a/one", "x") == 2 and p.file_count("a/one") == 3


def test_all_repos_full_is_a_clear_error() -> None:
    p = RepoPlacement(["a/one", "a/two"], max_files_per_repo=1, max_files_per_folder=10)
    p.add_existing("a/one", ["encrypted_images/u/1.enc"])
    assert p.choose("encrypted_images/u") == "a/two"
    with pytest.raises(IncompleteError, match="add a repo to hub.repos"):
        p.choose("encrypted_images/u")


async def test_placement_on_a_missing_repo_names_it(emu: EmulatorThread, tmp_path: Path) -> None:
    cfg = make_cfg(emu, tmp_path, repos=(REPO, "alice/absent"))
    with pytest.raises(IncompleteError, match="alice/absent"):
        await RepoPlacement.load(await hub_of(cfg))


async def test_files_already_on_the_hub_are_not_committed_again(emu: EmulatorThread, tmp_path: Path) -> None:
    cfg = make_cfg(emu, tmp_path)
    items = stage(tmp_path, 12)
    copies = [tmp_path / f"copy{i}.enc" for i in range(12)]
    for item, copy in zip(items, copies, strict=True):
        copy.write_bytes(item.file.read_bytes())
    rec = Recorder()
    with StateDB.in_data_dir(cfg.data_dir) as state:
        async with Committer(
            await hub_of(cfg), state, on_committed=rec.on_committed, on_failed=rec.on_failed, policy=FAST
        ) as c:
            for item in items:
                await c.put(item)
        first = commit_200s(emu)
        again = [
            Staged(i.repo_id, i.path_in_repo, copy, i.sha256, i.size, i.tag, source=i.source)
            for i, copy in zip(items, copies, strict=True)
        ]
        rec2 = Recorder()
        async with Committer(
            await hub_of(cfg), state, on_committed=rec2.on_committed, on_failed=rec2.on_failed, policy=FAST
        ) as c2:
            for item in again:
                await c2.put(item)
    assert commit_200s(emu) == first  # the second run made no commit
    assert c2.stats.commits == 0 and c2.stats.files_already_present == 12
    assert sorted(rec2.committed_tags) == list(range(12))
    assert {oid for _, oid in rec2.committed} == {emu.store.get_repo(REPO).head}


async def test_a_deletion_that_landed_despite_a_lost_answer_is_not_sent_again(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    cfg = make_cfg(emu, tmp_path)
    items = stage(tmp_path, 3)
    rec = Recorder()
    with StateDB.in_data_dir(cfg.data_dir) as state:
        async with Committer(
            await hub_of(cfg), state, on_committed=rec.on_committed, on_failed=rec.on_failed, policy=FAST
        ) as c:
            await produce(c, items, producers=1)
    paths = [i.path_in_repo for i in items]
    before = emu.control.stats()["kinds"]["commit"]
    emu.control.set_faults(lose_commit_answers=1)  # the deletion is applied, its answer lost
    policy = BatchPolicy(backoff_base_s=0.05)
    oid = await delete_files(await hub_of(cfg), REPO, paths, message="delete", policy=policy)
    assert emu.control.stats()["kinds"]["commit"] == before + 1  # found by the lookup, not sent twice
    assert all(emu.store.file_info(REPO, p) is None for p in paths)
    assert oid == emu.store.get_repo(REPO).head  # the head the lookup found


async def test_a_deletion_in_a_missing_repo_is_one_clear_failure(emu: EmulatorThread, tmp_path: Path) -> None:
    cfg = make_cfg(emu, tmp_path, repos=("alice/nope",))
    with pytest.raises(DeleteFailed) as err:
        await delete_files(await hub_of(cfg), "alice/nope", ["a.bin"], message="delete", policy=FAST)
    assert "not found" in str(err.value) and TOKEN not in str(err.value)
