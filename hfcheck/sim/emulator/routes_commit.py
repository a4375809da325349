"""Writing a repo: create and delete it, preupload, the NDJSON commit, and YAML validation.

A commit is one atomic store commit; its LFS files must have been uploaded first
(`routes_files.py`: LFS batch and upload), its regular files travel inline in the payload.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json

from aiohttp import web

from hfcheck.sim.emulator.context import (
    FAULTS,
    REPO_NAME_RE,
    STORE,
    HubError,
    base_url,
    caller,
    json_body,
    kind,
    repo_not_found,
    require_user,
    resolve,
    url_prefix,
    writable_repo,
)
from hfcheck.sim.emulator.store import Repo, Store, git_blob_sha1, lfs_pointer, wants_lfs

# The `.gitattributes` the Hub puts in the initial commit of every new model or dataset repo.
DEFAULT_GITATTRIBUTES = """\
*.7z filter=lfs diff=lfs merge=lfs -text
*.arrow filter=lfs diff=lfs merge=lfs -text
*.bin filter=lfs diff=lfs merge=lfs -text
*.bz2 filter=lfs diff=lfs merge=lfs -text
*.ckpt filter=lfs diff=lfs merge=lfs -text
*.ftz filter=lfs diff=lfs merge=lfs -text
*.gz filter=lfs diff=lfs merge=lfs -text
*.h5 filter=lfs diff=lfs merge=lfs -text
*.joblib filter=lfs diff=lfs merge=lfs -text
*.lfs.* filter=lfs diff=lfs merge=lfs -text
*.mlmodel filter=lfs diff=lfs merge=lfs -text
*.model filter=lfs diff=lfs merge=lfs -text
*.msgpack filter=lfs diff=lfs merge=lfs -text
*.npy filter=lfs diff=lfs merge=lfs -text
*.npz filter=lfs diff=lfs merge=lfs -text
*.onnx filter=lfs diff=lfs merge=lfs -text
*.ot filter=lfs diff=lfs merge=lfs -text
*.parquet filter=lfs diff=lfs merge=lfs -text
*.pb filter=lfs diff=lfs merge=lfs -text
*.pickle filter=lfs diff=lfs merge=lfs -text
*.pkl filter=lfs diff=lfs merge=lfs -text
*.pt filter=lfs diff=lfs merge=lfs -text
*.pth filter=lfs diff=lfs merge=lfs -text
*.rar filter=lfs diff=lfs merge=lfs -text
*.safetensors filter=lfs diff=lfs merge=lfs -text
saved_model/**/* filter=lfs diff=lfs merge=lfs -text
*.tar.* filter=lfs diff=lfs merge=lfs -text
*.tar filter=lfs diff=lfs merge=lfs -text
*.tflite filter=lfs diff=lfs merge=lfs -text
*.tgz filter=lfs diff=lfs merge=lfs -text
*.wasm filter=lfs diff=lfs merge=lfs -text
*.xz filter=lfs diff=lfs merge=lfs -text
*.zip filter=lfs diff=lfs merge=lfs -text
*.zst filter=lfs diff=lfs merge=lfs -text
*tfevents* filter=lfs diff=lfs merge=lfs -text
"""


@kind("create_repo")
async def create_repo(request: web.Request) -> web.Response:
    body = await json_body(request)
    c = caller(request)
    user = require_user(c)
    repo_type = body.get("type") or "model"
    if repo_type not in ("model", "dataset"):
        raise HubError(f"{repo_type} repos are not emulated", status=400)
    name, org = body.get("name"), body.get("organization") or user
    if not isinstance(name, str) or not REPO_NAME_RE.match(name) or not REPO_NAME_RE.match(org):
        raise HubError("invalid repo name", status=400)
    if not c.admin and org != c.user:
        raise HubError(f"You don't have the rights to create a {repo_type} under the namespace {org}", status=403)
    store = request.app[STORE]
    existing = store.get_repo(f"{org}/{name}", repo_type)
    repo_id = existing.repo_id if existing else f"{org}/{name}"
    url = f"{base_url(request)}/{'' if repo_type == 'model' else 'datasets/'}{repo_id}"
    if existing is not None:
        msg = f"You already created this {repo_type} repo"
        return web.json_response({"error": msg, "url": url}, status=409, headers={"X-Error-Message": msg})
    private = bool(body.get("private")) or body.get("visibility") == "private"
    files: list[tuple[str, bytes]] = []  # TODO(c): [(".gitattributes", DEFAULT_GITATTRIBUTES.encode())]
    store.create_repo(repo_id, owner=org, private=private, repo_type=repo_type, author=user, files=files)
    return web.json_response({"url": url, "name": repo_id, "id": repo_id})


@kind("delete_repo")
async def delete_repo(request: web.Request) -> web.Response:
    body = await json_body(request)
    c = caller(request)
    repo_id = f"{body.get('organization') or c.user}/{body.get('name')}"
    repo = request.app[STORE].get_repo(repo_id, body.get("type") or "model")
    if repo is None or not c.owns(repo):
        raise repo_not_found(c, repo_id)
    request.app[STORE].delete_repo(repo.key)
    return web.json_response({})


@kind("preupload")
async def preupload(request: web.Request) -> web.Response:
    repo = resolve(request, writable_repo(request))
    commit = repo.head
    body = await json_body(request)
    store = request.app[STORE]
    answers = []
    for f in body.get("files") or []:
        try:
            path, size, sample = str(f["path"]), int(f["size"]), base64.b64decode(f.get("sample") or "")
        except (KeyError, TypeError, ValueError, binascii.Error):
            raise HubError("malformed preupload file entry", status=400) from None
        existing = store.entry(repo, path)
        oid = None if existing is None or existing.is_dir else (existing.sha256 if existing.lfs else existing.oid)
        mode = "lfs" if wants_lfs(sample, size) else "regular"
        answers.append({"path": path, "uploadMode": mode, "shouldIgnore": False, "oid": oid})
    return web.json_response({"files": answers, "commitOid": commit})


@kind("commit")
async def commit(request: web.Request) -> web.Response:
    repo = writable_repo(request)
    author = require_user(caller(request))
    if request.query.get("create_pr"):
        raise HubError("pull requests are not emulated", status=400)
    rev = request.match_info["rev"]
    branch = request.app[STORE].at_revision(repo, rev).branch  # RevisionNotFound for garbage
    if branch is None or rev not in (branch, f"refs/heads/{branch}"):
        raise HubError(f"Invalid rev id: {rev} is not a branch", status=400)
    lines = [json.loads(line) for line in (await request.read()).splitlines() if line.strip()]
    oid = await asyncio.to_thread(_apply_ndjson, request.app[STORE], repo, lines, branch, author)
    request.app[FAULTS].note_committed([str(i["value"]["path"]) for i in lines if i.get("key") in ("file", "lfsFile")])
    url = f"{base_url(request)}/{url_prefix(repo)}{repo.repo_id}/commit/{oid}"
    return web.json_response(
        {"commitOid": oid, "commitUrl": url, "success": True, "hookOutput": "", "pullRequestUrl": None}
    )


def _apply_ndjson(store: Store, repo: Repo, lines: list[dict], branch: str, author: str) -> str:
    """Turn the client's NDJSON commit payload into one atomic store commit."""
    header: dict = {}
    files: list[tuple[str, str, int, bool, str]] = []
    deletions: list[str] = []
    folders: list[str] = []
    blobs: list[bytes] = []
    for item in lines:
        key, value = item.get("key"), item.get("value") or {}
        if key == "header":
            header = value
        elif key == "file":
            data = (
                base64.b64decode(value["content"])
                if value.get("encoding") == "base64"
                else str(value["content"]).encode()
            )
            blobs.append(data)
            files.append((value["path"], hashlib.sha256(data).hexdigest(), len(data), False, git_blob_sha1(data)))
        elif key == "lfsFile":
            blob = store.blob(str(value.get("oid")))
            if blob is None:
                raise HubError(f"LFS object {value.get('oid')} for {value.get('path')} was not uploaded", status=422)
            pointer_oid = git_blob_sha1(lfs_pointer(blob.sha256, blob.size))
            files.append((value["path"], blob.sha256, blob.size, True, pointer_oid))
        elif key == "deletedFile":
            deletions.append(value["path"])
        elif key == "deletedFolder":
            folders.append(value["path"])
        else:
            raise HubError(f"unsupported commit operation {key!r}", status=400)
    for data in blobs:
        store.put_blob_bytes(data)
    return store.apply_commit(
        repo.key,
        files,
        deletions,
        title=str(header.get("summary") or "commit"),
        description=str(header.get("description") or ""),
        parent_commit=header.get("parentCommit"),
        deleted_folders=folders,
        branch=branch,
        author=author,
    )


@kind("validate_yaml")
async def validate_yaml(request: web.Request) -> web.Response:
    return web.json_response({"errors": [], "warnings": []})
