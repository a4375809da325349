"""The Hub's rules the emulator applies beyond moving bytes: the initial `.gitattributes` and its
LFS patterns, `.gitignore` at preupload, invalid paths (422), folder deletes by path,
`X-Request-Id`, repo settings and renames, pull-request refs. Driven by the official client,
and by raw HTTP where the client would refuse to send the request."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from hfcheck.sim.emulator import gitrules
from hfcheck.sim.emulator.testing import EmulatorThread
from tests.helpers import ALICE_TOKEN

AUTH = {"Authorization": f"Bearer {ALICE_TOKEN}"}
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


def _preupload(emu: EmulatorThread, repo: str, files: dict[str, bytes], **extra: str) -> dict[str, dict]:
    body = {
        "files": [{"path": p, "size": len(d), "sample": base64.b64encode(d[:512]).decode()} for p, d in files.items()]
    }
    answer = httpx.post(f"{emu.url}/api/models/{repo}/preupload/main", json=body | extra, headers=AUTH)
    answer.raise_for_status()
    return {f["path"]: f for f in answer.json()["files"]}


def test_new_repo_starts_with_the_hubs_gitattributes_whose_patterns_choose_lfs(api: HfApi, emu: EmulatorThread) -> None:
    api.create_repo("alice/attrs")
    path = api.hf_hub_download("alice/attrs", ".gitattributes", cache_dir=emu.store.data_dir.parent / "c1")
    assert Path(path).read_text() == gitrules.default_gitattributes("model")
    modes = _preupload(emu, "alice/attrs", {"w.bin": b"text, yet *.bin", "notes.txt": b"text", "blob": b"\x00\x01"})
    assert {p: f["uploadMode"] for p, f in modes.items()} == {"w.bin": "lfs", "notes.txt": "regular", "blob": "lfs"}
    # the repo's own rules, once committed, are the ones applied
    api.upload_file(
        path_or_fileobj=b"*.txt filter=lfs diff=lfs merge=lfs -text\n",
        path_in_repo=".gitattributes",
        repo_id="alice/attrs",
    )
    modes = _preupload(emu, "alice/attrs", {"w.bin": b"text", "notes.txt": b"text"})
    assert {p: f["uploadMode"] for p, f in modes.items()} == {"w.bin": "regular", "notes.txt": "lfs"}
    api.upload_file(path_or_fileobj=b"small text", path_in_repo="doc.txt", repo_id="alice/attrs")
    (info,) = api.get_paths_info("alice/attrs", ["doc.txt"])
    assert info.lfs is not None and info.lfs.size == len(b"small text")


def test_gitignore_is_applied_at_preupload(api: HfApi, emu: EmulatorThread, tmp_path: Path) -> None:
    api.create_repo("alice/ignore")
    modes = _preupload(emu, "alice/ignore", {"a.log": b"x", "keep.txt": b"x"}, gitIgnore="*.log\n")
    assert {p: f["shouldIgnore"] for p, f in modes.items()} == {"a.log": True, "keep.txt": False}
    # a .gitignore uploaded with the files: the client leaves the ignored ones out
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "run.log").write_text("log")
    (tmp_path / "data.txt").write_text("data")
    (tmp_path / ".gitignore").write_text("logs/\n")
    api.upload_folder(folder_path=tmp_path, repo_id="alice/ignore")
    assert api.list_repo_files("alice/ignore") == [".gitattributes", ".gitignore", "data.txt"]
    # and the repo's own .gitignore for later uploads
    modes = _preupload(emu, "alice/ignore", {"logs/new.log": b"x", "new.txt": b"x"})
    assert {p: f["shouldIgnore"] for p, f in modes.items()} == {"logs/new.log": True, "new.txt": False}


@pytest.mark.parametrize("path", ["..\\x", "../x", "a/../x", "a//b", ".git/config", "./x", "a/."])
def test_invalid_paths_are_422(api: HfApi, emu: EmulatorThread, path: str) -> None:
    api.create_repo("alice/paths", exist_ok=True)
    lines = [
        {"key": "header", "value": {"summary": "bad"}},
        {"key": "file", "value": {"path": path, "content": base64.b64encode(b"x").decode(), "encoding": "base64"}},
    ]
    payload = "\n".join(json.dumps(line) for line in lines)
    answer = httpx.post(f"{emu.url}/api/models/alice/paths/commit/main", content=payload, headers=AUTH)
    assert answer.status_code == 422, answer.text
    assert _preupload_status(emu, path) == 422


@pytest.mark.parametrize("path", ["folder/..\\..\\file", "a b/ü.txt", "x..y/.z"])
def test_odd_but_valid_names_are_accepted(api: HfApi, emu: EmulatorThread, path: str) -> None:
    api.create_repo("alice/names", exist_ok=True)
    api.upload_file(path_or_fileobj=b"ok", path_in_repo=path, repo_id="alice/names")
    assert path in api.list_repo_files("alice/names")


def _preupload_status(emu: EmulatorThread, path: str) -> int:
    body = {"files": [{"path": path, "size": 1, "sample": ""}]}
    return httpx.post(f"{emu.url}/api/models/alice/paths/preupload/main", json=body, headers=AUTH).status_code


def test_deleting_a_folder_by_its_path_deletes_what_is_under_it(api: HfApi) -> None:
    api.create_repo("alice/folders")
    ops = [CommitOperationAdd(p, b"x") for p in ("d/a.txt", "d/e/b.txt", "dd.txt")]
    api.create_commit("alice/folders", ops, commit_message="seed")
    api.create_commit("alice/folders", [CommitOperationDelete("d")], commit_message="rm d")
    assert api.list_repo_files("alice/folders") == [".gitattributes", "dd.txt"]


def test_every_answer_has_a_request_id(api: HfApi, emu: EmulatorThread) -> None:
    ok = httpx.get(f"{emu.url}/api/models/alice/nothing-here")
    assert ok.status_code == 401 and ok.headers["X-Request-Id"]
    traced = httpx.get(f"{emu.url}/api/whoami-v2", headers={**AUTH, "X-Amzn-Trace-Id": "Root=1-abc"})
    assert traced.headers["X-Request-Id"] == "Root=1-abc"
    with pytest.raises(RepositoryNotFoundError) as exc:
        api.model_info("alice/missing")
    assert f"(Request ID: {exc.value.response.headers['X-Request-Id']})" in str(exc.value)


def test_repo_ids_without_a_namespace_are_not_found(api: HfApi) -> None:
    assert not api.repo_exists("gpt2")
    assert not api.file_exists("gpt2", "config.json")


def test_settings_and_renames(api: HfApi) -> None:
    api.create_repo("alice/settle", repo_type="dataset")
    api.update_repo_settings("alice/settle", repo_type="dataset", gated="auto", private=True)
    info = api.dataset_info("alice/settle")
    assert (info.gated, info.private) == ("auto", True)
    api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="alice/settle", repo_type="dataset")
    api.move_repo("alice/settle", "alice/settled", repo_type="dataset")
    # the old name still leads to the repo, as the Hub redirects it
    assert api.dataset_info("alice/settle").id == "alice/settled"
    assert api.list_repo_files("alice/settled", repo_type="dataset") == [".gitattributes", "x.txt"]
    api.create_repo("alice/taken", repo_type="dataset")
    with pytest.raises(HfHubHTTPError, match="A dataset repository called alice/taken already exists"):
        api.move_repo("alice/settled", "alice/taken", repo_type="dataset")


def test_create_pr_commits_to_a_new_pr_ref(api: HfApi) -> None:
    api.create_repo("alice/prs")
    info = api.create_commit("alice/prs", [CommitOperationAdd("p.txt", b"p")], commit_message="pr", create_pr=True)
    assert (info.pr_num, info.pr_revision) == (1, "refs/pr/1")
    assert api.list_repo_files("alice/prs") == [".gitattributes"]
    assert api.list_repo_files("alice/prs", revision="refs/pr/1") == [".gitattributes", "p.txt"]
    refs = api.list_repo_refs("alice/prs", include_pull_requests=True)
    assert [(r.ref, r.target_commit) for r in refs.pull_requests or []] == [("refs/pr/1", info.oid)]
    assert api.list_repo_refs("alice/prs").pull_requests is None
    second = api.create_commit("alice/prs", [CommitOperationAdd("q.txt", b"q")], commit_message="q", create_pr=True)
    assert second.pr_num == 2
