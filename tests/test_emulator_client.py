"""The Hub emulator, driven only by the official huggingface_hub client (2.4).

conftest.py leaves Xet on (binary files go over Xet) and clears HF_TOKEN before the client is imported;
every call passes `endpoint=` / `token=` explicitly. The only hfcheck code used here is the
start helper (and the seeding API in the test that is about it).
"""

from __future__ import annotations

import hashlib
import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

import pytest
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationDelete,
    HfApi,
    get_hf_file_metadata,
    hf_hub_download,
    hf_hub_url,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.file_download import http_get
from huggingface_hub.hf_api import RepoFile, RepoFolder
from huggingface_hub.utils import http_backoff, parse_ratelimit_headers

from hfcheck.sim.emulator.testing import EmulatorProcess, EmulatorThread, start_emulator

ALICE, BOB, ADMIN = "tok-alice", "tok-bob", "tok-admin"
USERS = {"alice": ALICE, "bob": BOB}
# The client itself passes file objects as `data=` (httpx2 deprecation, not ours).
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")
REPO = "alice/media"
N_SMALL = 2_050  # > 2 pages of 1,000
DS = {"repo_type": "dataset"}
GA = ".gitattributes"  # a repo created over HTTP starts with the Hub's default one


def small_files() -> dict[str, bytes]:
    return {f"meta/{i % 3}/item-{i:05d}.json": f'{{"id": {i}}}\n'.encode() for i in range(N_SMALL)}


def lfs_files() -> dict[str, bytes]:
    rnd = hashlib.sha256(b"seed").digest()
    return {f"images/{i:02d}.enc": b"\x00\x01" + (rnd * (40 + i * 7)) for i in range(6)}


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorThread]:
    with start_emulator(tmp_path_factory.mktemp("hub"), users=USERS, admin_token=ADMIN) as e:
        yield e


@pytest.fixture(scope="module")
def api(emu: EmulatorThread) -> HfApi:
    return HfApi(endpoint=emu.url, token=ALICE)


@pytest.fixture(scope="module")
def seeded(api: HfApi, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """One official-client commit of 2,050 small text files and 6 binary (LFS) files by path."""
    src = tmp_path_factory.mktemp("src")
    expected = {**small_files(), **lfs_files()}
    ops = []
    for path, data in expected.items():
        local = src / path.replace("/", "__")
        local.write_bytes(data)
        ops.append(CommitOperationAdd(path_in_repo=path, path_or_fileobj=str(local)))
    api.create_repo(REPO, exist_ok=True, **DS)
    api.create_commit(REPO, ops, commit_message="seed", **DS)
    return expected


def test_create_repo_exist_ok_and_whoami(api: HfApi, emu: EmulatorThread) -> None:
    url = api.create_repo("alice/fresh", **DS)
    assert url.repo_id == "alice/fresh"
    again = api.create_repo("alice/fresh", exist_ok=True, **DS)  # reads the 409 body
    assert again.repo_id == "alice/fresh"
    with pytest.raises(HfHubHTTPError) as err:
        api.create_repo("alice/fresh", **DS)
    assert err.value.response.status_code == 409
    with pytest.raises(HfHubHTTPError) as err:
        HfApi(endpoint=emu.url, token=BOB).create_repo("alice/other", **DS)
    assert err.value.response.status_code == 403
    assert api.whoami()["name"] == "alice"
    with pytest.raises(HfHubHTTPError):
        HfApi(endpoint=emu.url, token="nope").whoami()


def test_tree_paginates_with_sizes_and_lfs(api: HfApi, emu: EmulatorThread, seeded: dict[str, bytes]) -> None:
    emu.control.reset_stats()
    entries = list(api.list_repo_tree(REPO, recursive=True, **DS))
    assert emu.control.stats()["kinds"]["tree"] == 3  # 2,060 entries -> 3 pages via Link
    files = {e.path: e for e in entries if isinstance(e, RepoFile)}
    folders = {e.path for e in entries if isinstance(e, RepoFolder)}
    assert {p: f.size for p, f in files.items()} == {p: len(d) for p, d in seeded.items()} | {GA: files[GA].size}
    assert folders == {"meta", "meta/0", "meta/1", "meta/2", "images"}
    for path, data in lfs_files().items():
        sha = hashlib.sha256(data).hexdigest()
        assert files[path].lfs is not None and files[path].lfs.sha256 == sha
        pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {len(data)}\n"  # git-lfs spec
        assert files[path].lfs.pointer_size == len(pointer) and files[path].lfs.size == len(data)
    some = "meta/0/item-00000.json"
    assert files[some].lfs is None
    assert files[some].blob_id == hashlib.sha1(b"blob %d\0" % len(seeded[some]) + seeded[some]).hexdigest()
    assert sorted(api.list_repo_files(REPO, **DS)) == sorted([*seeded, GA])


def test_tree_of_folder_non_recursive_and_expand(api: HfApi, emu: EmulatorThread, seeded: dict[str, bytes]) -> None:
    top = {e.path for e in api.list_repo_tree(REPO, **DS)}
    assert top == {"meta", "images", GA}
    emu.control.reset_stats()
    expanded = list(api.list_repo_tree(REPO, path_in_repo="images", expand=True, **DS))
    assert len(expanded) == 6 and all(e.last_commit is not None for e in expanded)
    for e in expanded:  # the commit that last touched the file, with its title and date (as the client parses them)
        c = e.last_commit
        assert len(c.oid) == 40 and c.title and c.date.year >= 2024
    sub = list(api.list_repo_tree(REPO, path_in_repo="meta/1", expand=True, **DS))
    assert len(sub) == len([p for p in seeded if p.startswith("meta/1/")])
    assert emu.control.stats()["kinds"]["tree"] == 1 + -(-len(sub) // 50)  # 50 a page with expand
    with pytest.raises(EntryNotFoundError):
        list(api.list_repo_tree(REPO, path_in_repo="no/such/dir", **DS))


def test_paths_info(api: HfApi, seeded: dict[str, bytes]) -> None:
    got = api.get_paths_info(REPO, ["images/00.enc", "meta", "missing.bin"], **DS)
    by_path = {e.path: e for e in got}
    assert set(by_path) == {"images/00.enc", "meta"}  # missing paths are omitted
    assert isinstance(by_path["meta"], RepoFolder)
    assert by_path["images/00.enc"].lfs.sha256 == hashlib.sha256(seeded["images/00.enc"]).hexdigest()
    assert by_path["images/00.enc"].xet_hash and by_path["images/00.enc"].last_commit is None
    (expanded,) = api.get_paths_info(REPO, ["images/00.enc"], expand=True, **DS)
    assert expanded.last_commit is not None and len(expanded.last_commit.oid) == 40 and expanded.last_commit.title
    assert len(api.get_paths_info(REPO, list(seeded)[:1000], **DS)) == 1000
    with pytest.raises(HfHubHTTPError) as err:
        api.get_paths_info(REPO, [f"x/{i}" for i in range(1001)], **DS)
    assert err.value.response.status_code == 413
    assert "Too many paths" in err.value.response.headers["X-Error-Message"]


def test_file_exists(api: HfApi, emu: EmulatorThread, seeded: dict[str, bytes]) -> None:
    assert api.file_exists(REPO, "images/03.enc", **DS)
    assert api.file_exists(REPO, "meta/2/item-00002.json", **DS)
    assert not api.file_exists(REPO, "images/99.enc", **DS)
    assert not api.file_exists("alice/nothing-here", "a.txt", **DS)
    assert not api.file_exists(REPO, "images/03.enc", revision="not-a-branch", **DS)


def test_download_regular_lfs_and_range(
    api: HfApi, emu: EmulatorThread, seeded: dict[str, bytes], tmp_path: Path
) -> None:
    for path in ("meta/1/item-00001.json", "images/05.enc"):
        local = hf_hub_download(REPO, path, endpoint=emu.url, token=ALICE, cache_dir=tmp_path / "cache", **DS)
        assert Path(local).read_bytes() == seeded[path]
    head = api.repo_info(REPO, **DS).sha
    url = hf_hub_url(REPO, "images/05.enc", endpoint=emu.url, **DS)
    meta = get_hf_file_metadata(url, token=ALICE)
    assert meta.commit_hash == head
    assert meta.etag == hashlib.sha256(seeded["images/05.enc"]).hexdigest()
    assert meta.size == len(seeded["images/05.enc"])
    assert urlparse(meta.location).hostname != urlparse(emu.url).hostname  # CDN on another origin
    with open(tmp_path / "part", "wb") as fh:  # resume from byte 100: Range -> 206
        fh.write(seeded["images/05.enc"][:100])
        http_get(meta.location, fh, resume_size=100, expected_size=meta.size)
    assert (tmp_path / "part").read_bytes() == seeded["images/05.enc"]
    by_sha = hf_hub_download(
        REPO, "images/00.enc", revision=head, endpoint=emu.url, token=ALICE, cache_dir=tmp_path / "c2", **DS
    )
    assert Path(by_sha).read_bytes() == seeded["images/00.enc"]


def test_error_classes(api: HfApi, emu: EmulatorThread, seeded: dict[str, bytes], tmp_path: Path) -> None:
    kw = {"endpoint": emu.url, "token": ALICE, "cache_dir": tmp_path, **DS}
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("alice/absent", "a.txt", **kw)
    with pytest.raises(RepositoryNotFoundError):
        api.repo_info("alice/absent", **DS)
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(REPO, "images/00.enc", revision="v9", **kw)
    with pytest.raises(RevisionNotFoundError):
        list(api.list_repo_tree(REPO, revision="0" * 40, **DS))
    with pytest.raises(RemoteEntryNotFoundError) as err:
        hf_hub_download(REPO, "images/absent.enc", **kw)
    assert isinstance(err.value, EntryNotFoundError)


def test_private_and_gated(api: HfApi, emu: EmulatorThread, tmp_path: Path) -> None:
    api.create_repo("alice/secret", private=True, **DS)
    api.upload_file(path_or_fileobj=b"top secret\n", path_in_repo="s.txt", repo_id="alice/secret", **DS)
    assert api.file_exists("alice/secret", "s.txt", **DS)
    for token, status in ((None, 401), (BOB, 404)):
        with pytest.raises(RepositoryNotFoundError) as err:
            HfApi(endpoint=emu.url, token=token).repo_info("alice/secret", **DS)
        assert err.value.response.status_code == status
        with pytest.raises(RepositoryNotFoundError):
            hf_hub_download("alice/secret", "s.txt", endpoint=emu.url, token=token or False, cache_dir=tmp_path, **DS)
    assert HfApi(endpoint=emu.url, token=ADMIN).file_exists("alice/secret", "s.txt", **DS)

    api.create_repo("alice/gated", **DS)
    api.upload_file(path_or_fileobj=b"gated\n", path_in_repo="g.txt", repo_id="alice/gated", **DS)
    emu.control.set_repo("alice/gated", gated="auto")
    for token, status in ((None, 401), (BOB, 403)):
        with pytest.raises(GatedRepoError) as gerr:
            HfApi(endpoint=emu.url, token=token).file_exists("alice/gated", "g.txt", **DS)
        assert gerr.value.response.status_code == status
    assert api.file_exists("alice/gated", "g.txt", **DS)  # the owner passes


def test_upload_file_and_deletions(api: HfApi, emu: EmulatorThread, tmp_path: Path) -> None:
    api.create_repo("alice/churn", **DS)
    big = tmp_path / "video.bin"
    big.write_bytes(os.urandom(300_000))
    api.upload_file(path_or_fileobj=str(big), path_in_repo="v/video.bin", repo_id="alice/churn", **DS)
    api.upload_file(path_or_fileobj=b"notes\n", path_in_repo="v/notes.txt", repo_id="alice/churn", **DS)
    info = api.get_paths_info("alice/churn", ["v/video.bin", "v/notes.txt"], **DS)
    assert {e.path: e.lfs is not None for e in info} == {"v/video.bin": True, "v/notes.txt": False}
    api.create_commit("alice/churn", [CommitOperationDelete("v/video.bin")], commit_message="rm", **DS)
    assert api.list_repo_files("alice/churn", **DS) == [GA, "v/notes.txt"]
    with pytest.raises(HfHubHTTPError):  # Bob may read but not write
        HfApi(endpoint=emu.url, token=BOB).upload_file(
            path_or_fileobj=b"x", path_in_repo="x", repo_id="alice/churn", **DS
        )


def test_client_retries_through_faults(
    api: HfApi, emu: EmulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """5% 5xx and 2% resets on every endpoint the client retries; the commit POST is exempt.
    File objects make the client take the LFS path (Xet kinds are spared by default anyway).

    The client's own retry loop (`http_backoff`) waits 1 s before a first retry, 2 s before a
    second: ~27 faults over 8 upload threads made this test 8 s of sleeping. The retries, not
    their pacing, are under test: its first wait is cut to 20 ms here (same faults, same seed)."""
    monkeypatch.setitem(http_backoff.__kwdefaults__, "base_wait_time", 0.02)
    api.create_repo("alice/flaky", **DS)
    ops = []
    for i in range(240):
        data = (b"\x00bin" if i % 2 else b"text ") + str(i).encode() * 50
        ops.append(CommitOperationAdd(f"f/{i:03d}.{'bin' if i % 2 else 'txt'}", io.BytesIO(data)))
    emu.control.reset_stats()
    emu.control.set_faults(error_rate=0.05, reset_rate=0.02, seed=1234)
    try:
        api.create_commit("alice/flaky", ops, commit_message="through faults", **DS)
    finally:
        emu.control.clear_faults()
    stats = emu.control.stats()
    assert stats["faults"].get("5xx", 0) + stats["faults"].get("reset", 0) > 0
    assert stats["by_kind"]["commit"] == {"200": 1}
    assert len(api.list_repo_files("alice/flaky", **DS)) == 240 + 1  # and GA


def test_resolver_rate_limit_and_concurrent_heads(api: HfApi, emu: EmulatorThread, seeded: dict[str, bytes]) -> None:
    paths = [p for p in seeded if p.startswith("meta/0/")][:64]
    with ThreadPoolExecutor(64) as pool:  # 64 concurrent HEADs
        assert all(pool.map(lambda p: api.file_exists(REPO, p, **DS), paths))
    emu.control.set_rate_limits(window_s=300, resolvers=100)
    try:
        for p in paths + paths[:36]:
            assert api.file_exists(REPO, p, **DS)
        with pytest.raises(HfHubHTTPError) as err:
            api.file_exists(REPO, paths[0], **DS)  # the 101st HEAD
        assert err.value.response.status_code == 429
        info = parse_ratelimit_headers(err.value.response.headers)
        assert info is not None and info.resource_type == "resolvers"
        assert info.remaining == 0 and info.reset_in_seconds > 0
        assert (info.limit, info.window_seconds) == (100, 300)
        assert int(err.value.response.headers["Retry-After"]) > 0
        assert api.list_repo_files(REPO, **DS)  # other buckets are unaffected
    finally:
        emu.control.set_rate_limits(resolvers=None)


def test_restart_keeps_state(tmp_path: Path) -> None:
    data = tmp_path / "hub"
    with start_emulator(data, users=USERS) as first:
        api = HfApi(endpoint=first.url, token=ALICE)
        api.create_repo("alice/keep", **DS)
        api.upload_file(path_or_fileobj=b"\x00persist" * 100, path_in_repo="k.bin", repo_id="alice/keep", **DS)
        sha = api.repo_info("alice/keep", **DS).sha
    with EmulatorProcess(data) as second:  # the CLI server on the same directory; users persisted
        api = HfApi(endpoint=second.url, token=ALICE)
        assert api.repo_info("alice/keep", **DS).sha == sha
        local = hf_hub_download("alice/keep", "k.bin", endpoint=second.url, token=ALICE, cache_dir=tmp_path / "c", **DS)
        assert Path(local).read_bytes() == b"\x00persist" * 100
        api.upload_file(path_or_fileobj=b"more\n", path_in_repo="more.txt", repo_id="alice/keep", **DS)
    assert second.proc is not None and second.proc.returncode == 0
    with start_emulator(data) as third:
        assert sorted(HfApi(endpoint=third.url, token=ALICE).list_repo_files("alice/keep", **DS)) == [
            GA,
            "k.bin",
            "more.txt",
        ]


def test_seeding_api_is_served(tmp_path: Path) -> None:
    with start_emulator(tmp_path / "hub", users=USERS) as emu:
        emu.store.create_repo("alice/seeded", owner="alice")
        blob = tmp_path / "photo.jpg"
        blob.write_bytes(b"\xff\xd8\xff" + os.urandom(1000))
        emu.store.commit(
            "alice/seeded", [(f"d/{i}.txt", b"%d\n" % i) for i in range(1500)] + [("p/photo.jpg", blob)], message="seed"
        )
        api = HfApi(endpoint=emu.url, token=ALICE)
        files = {e.path: e for e in api.list_repo_tree("alice/seeded", recursive=True, **DS) if isinstance(e, RepoFile)}
        assert len(files) == 1501
        assert files["p/photo.jpg"].lfs is not None and files["d/7.txt"].lfs is None
        assert emu.store.list_paths("alice/seeded")[:2] == ["d/0.txt", "d/1.txt"]
        local = hf_hub_download(
            "alice/seeded", "p/photo.jpg", endpoint=emu.url, token=ALICE, cache_dir=tmp_path / "c", **DS
        )
        assert Path(local).read_bytes() == blob.read_bytes()


def test_lost_commit_answer_from_the_cli_flag(tmp_path: Path) -> None:
    """`hub serve --lose-commit-answers 1`: the official client's commit raises, yet it landed;
    the next commit is answered normally."""
    data = tmp_path / "hub"
    with start_emulator(data, users=USERS):
        pass  # creates the store with its users
    with EmulatorProcess(data, "--lose-commit-answers", "1") as emu:
        assert emu.control.faults()["lose_commit_answers"] == 1
        api = HfApi(endpoint=emu.url, token=ALICE)
        api.create_repo("alice/lost", **DS)
        with pytest.raises(Exception) as err:
            api.upload_file(path_or_fileobj=b"landed\n", path_in_repo="a.txt", repo_id="alice/lost", **DS)
        assert not isinstance(err.value, HfHubHTTPError)  # no answer at all, not an HTTP error
        assert api.file_exists("alice/lost", "a.txt", **DS)  # ...but the commit was applied
        api.upload_file(path_or_fileobj=b"next\n", path_in_repo="b.txt", repo_id="alice/lost", **DS)
        assert emu.control.stats()["faults"] == {"lost_answer": 1}


def test_stored_entry_json_equals_the_json_rendered_when_listed(emu: EmulatorThread, seeded: dict[str, bytes]) -> None:
    """The tree reads each entry's JSON stored with it; a store made before that column existed
    renders it when listed, from the same SQL: both give the same pages."""
    store = emu.store
    repo = store.get_repo(REPO)
    assert repo is not None
    pages = {}
    for stored in (True, False):
        store._stored_json = stored
        try:
            pages[stored] = store.tree_json(repo, "", recursive=True, after=None, limit=5000, expand=False, xet=True)
        finally:
            store._stored_json = True
    assert len(pages[True]) == len(seeded) + 5 + 1 and pages[True] == pages[False]  # + 5 folders, GA
