"""The emulator's history and refs, as the Hub keeps them: every commit, branches and tags, reads
at any revision, model repos beside dataset repos. Driven by the official client (2.4) except
where the store itself is the subject (the history model, the upgrade of an older store)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError, RevisionNotFoundError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hfcheck.sim.emulator import store as store_mod
from hfcheck.sim.emulator.store import Store, StoreError
from hfcheck.sim.emulator.testing import EmulatorThread
from tests.helpers import ALICE_TOKEN

GA = ".gitattributes"  # every repo starts with the Hub's default one
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


def _upload(api: HfApi, repo: str, path: str, data: bytes, **kw: str) -> str:
    info = api.upload_file(path_or_fileobj=data, path_in_repo=path, repo_id=repo, **kw)
    return str(info.oid)


@pytest.mark.parametrize("repo_type", ["model", "dataset"])
def test_every_commit_is_kept_and_old_files_stay_readable(
    api: HfApi, emu: EmulatorThread, tmp_path: Path, repo_type: str
) -> None:
    repo = f"alice/history-{repo_type}"
    api.create_repo(repo, repo_type=repo_type)
    c1 = _upload(api, repo, "a/x.txt", b"one", repo_type=repo_type)
    c2 = _upload(api, repo, "a/x.txt", b"two", repo_type=repo_type)
    api.delete_file("a/x.txt", repo_id=repo, repo_type=repo_type)

    commits = api.list_repo_commits(repo, repo_type=repo_type)
    assert [c.title for c in commits][1:] == [
        "Upload a/x.txt with huggingface_hub",
        "Upload a/x.txt with huggingface_hub",
        "initial commit",
    ]
    assert [c.commit_id for c in commits[1:3]] == [c2, c1]
    assert all(c.authors == ["alice"] for c in commits)
    assert commits[0].created_at >= commits[-1].created_at
    assert api.list_repo_files(repo, repo_type=repo_type) == [GA]

    for commit, want in ((c1, b"one"), (c2, b"two")):
        path = hf_hub_download(
            repo,
            "a/x.txt",
            repo_type=repo_type,
            revision=commit,
            endpoint=emu.url,
            cache_dir=tmp_path,
            token=ALICE_TOKEN,
        )
        assert Path(path).read_bytes() == want
        (info,) = api.get_paths_info(repo, ["a/x.txt"], revision=commit, repo_type=repo_type, expand=True)
        assert info.last_commit is not None and info.last_commit.oid == commit
        assert api.list_repo_files(repo, repo_type=repo_type, revision=commit) == [GA, "a/x.txt"]
    # the answer names the commit asked for, not the head
    prefix = "" if repo_type == "model" else "datasets/"
    answer = httpx.head(f"{emu.url}/{prefix}{repo}/resolve/{c1}/a/x.txt")
    assert answer.headers["X-Repo-Commit"] == c1


def test_commits_are_paged_with_link_headers(api: HfApi, emu: EmulatorThread) -> None:
    repo = "alice/many-commits"
    api.create_repo(repo)
    for i in range(store_mod.COMMITS_PAGE + 5):
        _upload(api, repo, "n.txt", str(i).encode())
    emu.control.reset_stats()
    commits = api.list_repo_commits(repo)
    assert len(commits) == store_mod.COMMITS_PAGE + 6
    assert emu.control.stats()["kinds"]["list_commits"] == 2
    assert len({c.commit_id for c in commits}) == len(commits)
    first = httpx.get(f"{emu.url}/api/models/{repo}/commits/main")
    assert 'rel="next"' in first.headers["Link"] and len(first.json()) == store_mod.COMMITS_PAGE
    assert first.json()[1]["parents"] == [first.json()[2]["id"]]


def test_branches_and_tags(api: HfApi, emu: EmulatorThread) -> None:
    repo = "alice/refs"
    api.create_repo(repo, repo_type="dataset")
    c1 = _upload(api, repo, "f.txt", b"v1", repo_type="dataset")
    _upload(api, repo, "f.txt", b"v2", repo_type="dataset")

    api.create_branch(repo, branch="dev", revision=c1, repo_type="dataset")
    api.create_tag(repo, tag="v1.0", revision=c1, repo_type="dataset", tag_message="first")
    with pytest.raises(HfHubHTTPError) as exc:
        api.create_branch(repo, branch="dev", repo_type="dataset")
    assert exc.value.response.status_code == 409
    api.create_branch(repo, branch="dev", repo_type="dataset", exist_ok=True)
    with pytest.raises(HfHubHTTPError) as exc:
        api.create_branch(repo, branch="refs/pr/5", repo_type="dataset")
    assert exc.value.response.status_code == 400

    on_dev = api.create_commit(
        repo,
        [CommitOperationAdd("dev.txt", b"dev"), CommitOperationDelete("f.txt")],
        commit_message="on dev",
        revision="dev",
        repo_type="dataset",
    ).oid
    assert api.list_repo_files(repo, repo_type="dataset", revision="dev") == [GA, "dev.txt"]
    assert api.list_repo_files(repo, repo_type="dataset") == [GA, "f.txt"]
    assert api.list_repo_files(repo, repo_type="dataset", revision="v1.0") == [GA, "f.txt"]
    assert [c.title for c in api.list_repo_commits(repo, repo_type="dataset", revision="dev")][:2] == [
        "on dev",
        "Upload f.txt with huggingface_hub",
    ]

    refs = api.list_repo_refs(repo, repo_type="dataset")
    assert {(b.name, b.ref, b.target_commit) for b in refs.branches} == {
        ("main", "refs/heads/main", api.repo_info(repo, repo_type="dataset").sha),
        ("dev", "refs/heads/dev", on_dev),
    }
    assert [(t.name, t.ref, t.target_commit) for t in refs.tags] == [("v1.0", "refs/tags/v1.0", c1)]
    assert api.repo_info(repo, repo_type="dataset", revision="v1.0").sha == c1

    api.delete_branch(repo, branch="dev", repo_type="dataset")
    api.delete_tag(repo, tag="v1.0", repo_type="dataset")
    refs = api.list_repo_refs(repo, repo_type="dataset")
    assert [b.name for b in refs.branches] == ["main"] and refs.tags == []
    with pytest.raises(RevisionNotFoundError):
        api.list_repo_files(repo, repo_type="dataset", revision="dev")
    # the commit stays readable by its id after its branch is gone
    assert api.list_repo_files(repo, repo_type="dataset", revision=on_dev) == [GA, "dev.txt"]


def test_unknown_revision_is_revision_not_found_everywhere(api: HfApi, emu: EmulatorThread) -> None:
    repo = "alice/norev"
    api.create_repo(repo)
    for path in ("/api/models/{r}/tree/nope", "/api/models/{r}/commits/nope", "/{r}/resolve/nope/x.txt"):
        answer = httpx.get(emu.url + path.format(r=repo))
        assert (answer.status_code, answer.headers.get("X-Error-Code")) == (404, "RevisionNotFound"), path
    with pytest.raises(RevisionNotFoundError):
        api.list_repo_commits(repo, revision="0" * 40)
    with pytest.raises(RevisionNotFoundError):
        api.create_commit(repo, [CommitOperationAdd("x", b"x")], commit_message="m", revision="nope")


def test_model_and_dataset_of_one_id_are_two_repos_matched_in_any_case(api: HfApi) -> None:
    api.create_repo("alice/Twin")
    api.create_repo("alice/Twin", repo_type="dataset")
    _upload(api, "alice/twin", "model.txt", b"m")
    _upload(api, "ALICE/TWIN", "data.txt", b"d", repo_type="dataset")
    assert api.list_repo_files("alice/twin") == [GA, "model.txt"]
    assert api.list_repo_files("alice/twin", repo_type="dataset") == [GA, "data.txt"]
    assert api.repo_info("alice/twin").id == "alice/Twin"
    assert api.repo_exists("Alice/TWIN", repo_type="dataset")


# -- the store's history model ------------------------------------------------------------------
OPS = st.lists(
    st.lists(st.tuples(st.sampled_from(["a", "b/c", "b/d", "e/f/g"]), st.binary(max_size=3) | st.none()), max_size=4),
    min_size=1,
    max_size=8,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=OPS)
def test_tree_at_every_commit_matches_a_replay(tmp_path_factory: pytest.TempPathFactory, history: list) -> None:
    """Whatever the sequence of writes and deletes, the files at each commit are those a replay
    of the commits up to it gives, also once older snapshots have been dropped."""
    store = Store(tmp_path_factory.mktemp("s"))
    store.create_repo("alice/r")
    state: dict[str, bytes] = {}
    seen: list[tuple[str, dict[str, bytes]]] = []
    for ops in history:
        adds = {p: d for p, d in ops if d is not None}
        dels = sorted({p for p, d in ops if d is None and p in state and p not in adds})
        state = {p: d for p, d in state.items() if p not in dels} | adds
        oid = store.commit("alice/r", list(adds.items()), dels)
        seen.append((oid, dict(state)))
    repo = store.get_repo("alice/r")
    assert repo is not None
    for _ in range(2):  # the second round rebuilds snapshots dropped past SNAPSHOTS_KEPT
        for oid, files in seen:
            view = store.at_revision(repo, oid)
            got = {e.path: b"".join(store.read_blob(e.sha256 or "")) for e in store.iter_entries(view)}
            assert got == files
            dirs = {e.path for e in store.iter_entries(view, files_only=False) if e.is_dir}
            assert dirs == {"/".join(p.split("/")[:i]) for p in files for i in range(1, p.count("/") + 1)}


def test_an_older_store_gets_its_heads_as_history(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.create_repo("alice/r")
    head = store.commit("alice/r", [("x.txt", b"x")])
    store.close()
    with sqlite3.connect(tmp_path / "hub.sqlite3") as conn:  # as an emulator before history made it
        conn.execute("DROP TABLE changes")
        conn.execute("ALTER TABLE commits DROP COLUMN author")
    store = Store(tmp_path)
    repo = store.get_repo("alice/r")
    assert repo is not None
    store.create_branch(repo, "b", start=head)
    store.commit("alice/r", [], ["x.txt"])
    assert [e.path for e in store.iter_entries(store.at_revision(repo, head))] == ["x.txt"]
    assert store.commits(store.at_revision(repo, "b"))[0]["author"] == "system"


def test_ref_names_are_checked(tmp_path: Path) -> None:
    store = Store(tmp_path)
    repo = store.create_repo("alice/r")
    for bad in ("refs/heads/x", "a..b", "x.lock", "a b", "-x", ""):
        with pytest.raises(StoreError):
            store.create_branch(repo, bad)
    store.create_branch(repo, "feature/one")
    assert store.at_revision(repo, "feature/one").branch == "feature/one"
