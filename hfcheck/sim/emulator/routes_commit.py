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
    writable_repo,
)
from hfcheck.sim.emulator.store import MAIN, Repo, Store, git_blob_sha1, lfs_pointer, wants_lfs


@kind("create_repo")
async def create_repo(request: web.Request) -> web.Response:
    body = await json_body(request)
    c = caller(request)
    user = require_user(c)
    if body.get("type", "model") != "dataset":
        raise HubError("only dataset repos are emulated", status=400)
    name, org = body.get("name"), body.get("organization") or user
    if not isinstance(name, str) or not REPO_NAME_RE.match(name) or not REPO_NAME_RE.match(org):
        raise HubError("invalid repo name", status=400)
    if not c.admin and org != c.user:
        raise HubError(f"You don't have the rights to create a dataset under the namespace {org}", status=403)
    repo_id = f"{org}/{name}"
    url = f"{base_url(request)}/datasets/{repo_id}"
    private = bool(body.get("private")) or body.get("visibility") == "private"
    store = request.app[STORE]
    if store.get_repo(repo_id) is not None:
        return web.json_response(
            {"error": "You already created this dataset repo", "url": url},
            status=409,
            headers={"X-Error-Message": "You already created this dataset repo"},
        )
    store.create_repo(repo_id, owner=org, private=private)
    return web.json_response({"url": url, "name": repo_id, "id": repo_id})


@kind("delete_repo")
async def delete_repo(request: web.Request) -> web.Response:
    body = await json_body(request)
    c = caller(request)
    repo_id = f"{body.get('organization') or c.user}/{body.get('name')}"
    repo = request.app[STORE].get_repo(repo_id)
    if repo is None or not c.owns(repo):
        raise repo_not_found(c, repo_id)
    request.app[STORE].delete_repo(repo_id)
    return web.json_response({})


@kind("preupload")
async def preupload(request: web.Request) -> web.Response:
    repo = writable_repo(request)
    commit = resolve(request, repo)
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
    if request.query.get("create_pr"):
        raise HubError("pull requests are not emulated", status=400)
    rev = request.match_info["rev"]
    if rev != MAIN:
        request.app[STORE].resolve_revision(repo, rev)  # RevisionNotFound for garbage
        raise HubError(f"Can only commit to branch {MAIN}", status=400)
    lines = [json.loads(line) for line in (await request.read()).splitlines() if line.strip()]
    oid = await asyncio.to_thread(_apply_ndjson, request.app[STORE], repo, lines)
    request.app[FAULTS].note_committed([str(i["value"]["path"]) for i in lines if i.get("key") in ("file", "lfsFile")])
    url = f"{base_url(request)}/datasets/{repo.repo_id}/commit/{oid}"
    return web.json_response(
        {"commitOid": oid, "commitUrl": url, "success": True, "hookOutput": "", "pullRequestUrl": None}
    )


def _apply_ndjson(store: Store, repo: Repo, lines: list[dict]) -> str:
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
        repo.repo_id,
        files,
        deletions,
        title=str(header.get("summary") or "commit"),
        description=str(header.get("description") or ""),
        parent_commit=header.get("parentCommit"),
        deleted_folders=folders,
    )


@kind("validate_yaml")
async def validate_yaml(request: web.Request) -> web.Response:
    return web.json_response({"errors": [], "warnings": []})
