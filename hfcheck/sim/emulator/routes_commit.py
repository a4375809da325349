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

from hfcheck.sim.emulator import gitrules
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
from hfcheck.sim.emulator.store import Repo, Store, git_blob_sha1, lfs_pointer, validate_repo_path, wants_lfs


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
    existing = store.get_repo(f"{org}/{name}", repo_type, follow_renames=False)
    repo_id = existing.repo_id if existing else f"{org}/{name}"
    url = f"{base_url(request)}/{'' if repo_type == 'model' else 'datasets/'}{repo_id}"
    if existing is not None:
        msg = f"You already created this {repo_type} repo"
        return web.json_response({"error": msg, "url": url}, status=409, headers={"X-Error-Message": msg})
    private = bool(body.get("private")) or body.get("visibility") == "private"
    files = [(".gitattributes", gitrules.default_gitattributes(repo_type).encode())]
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


@kind("update_repo")
async def move_repo(request: web.Request) -> web.Response:
    body = await json_body(request)
    if body.get("type") == "bucket":  # buckets move through the same route
        from hfcheck.sim.emulator import routes_buckets

        return await routes_buckets.move_bucket(request, body)
    c = caller(request)
    require_user(c)
    src, dst, repo_type = str(body.get("fromRepo")), str(body.get("toRepo")), str(body.get("type") or "model")
    store = request.app[STORE]
    repo = store.get_repo(src, repo_type)
    if repo is None or not c.owns(repo):
        raise repo_not_found(c, src)
    ns, _, name = dst.partition("/")
    if not REPO_NAME_RE.match(ns) or not REPO_NAME_RE.match(name):
        raise HubError(f"Invalid repo id: {dst}", status=400)
    if not c.admin and ns != c.user:
        raise HubError(f"You don't have the rights to create a {repo_type} under the namespace {ns}", status=403)
    store.move_repo(repo.repo_id, dst, repo_type)
    return web.json_response({})


@kind("update_repo")
async def repo_settings(request: web.Request) -> web.Response:
    """PUT settings: `visibility` ("private" / "public") or `private`, and `gated` (false, "auto", "manual")."""
    repo = writable_repo(request)
    body = await json_body(request)
    private = body.get("private")
    if body.get("visibility") in ("private", "public"):
        private = body["visibility"] == "private"
    gated = body.get("gated")
    if gated not in (None, False, "auto", "manual"):
        raise HubError('gated must be false, "auto" or "manual"', status=400)
    request.app[STORE].update_repo(repo.key, private=None if private is None else bool(private), gated=gated)
    return web.json_response({})


@kind("preupload")
async def preupload(request: web.Request) -> web.Response:
    repo = resolve(request, writable_repo(request))
    commit = repo.head
    body = await json_body(request)
    store = request.app[STORE]
    attributes = _repo_text(store, repo, ".gitattributes")
    gitignore = body.get("gitIgnore")
    gitignore = gitignore if isinstance(gitignore, str) else _repo_text(store, repo, ".gitignore")
    answers = []
    for f in body.get("files") or []:
        try:
            path, size, sample = str(f["path"]), int(f["size"]), base64.b64decode(f.get("sample") or "")
        except (KeyError, TypeError, ValueError, binascii.Error):
            raise HubError("malformed preupload file entry", status=400) from None
        path = validate_repo_path(path)
        existing = store.entry(repo, path)
        oid = None if existing is None or existing.is_dir else (existing.sha256 if existing.lfs else existing.oid)
        lfs = gitrules.lfs_by_attributes(attributes, path) or wants_lfs(sample, size)
        answers.append(
            {
                "path": path,
                "uploadMode": "lfs" if lfs else "regular",
                "shouldIgnore": gitrules.ignored(gitignore, path),
                "oid": oid,
            }
        )
    return web.json_response({"files": answers, "commitOid": commit})


def _repo_text(store: Store, repo: Repo, path: str) -> str:
    """A small text file of the repo at this revision (`.gitattributes`, `.gitignore`), or ''."""
    e = store.entry(repo, path)
    if e is None or e.is_dir or e.sha256 is None or e.size > 1024 * 1024:
        return ""
    return b"".join(store.read_blob(e.sha256)).decode("utf-8", "replace")


@kind("commit")
async def commit(request: web.Request) -> web.Response:
    repo = writable_repo(request)
    author = require_user(caller(request))
    store = request.app[STORE]
    rev = request.match_info["rev"]
    branch = store.at_revision(repo, rev).branch  # RevisionNotFound for garbage
    if branch is None or rev not in (branch, f"refs/heads/{branch}"):  # commits go on a branch
        raise HubError(f"Invalid rev id: {rev}", status=404, code="RevisionNotFound")
    lines = [json.loads(line) for line in (await request.read()).splitlines() if line.strip()]
    pr_url = None
    if _flag(request.query.get("create_pr")):  # a pull request: a new refs/pr/N from that branch
        number, branch = store.create_pr(repo, start=branch)
        pr_url = f"{base_url(request)}/{url_prefix(repo)}{repo.repo_id}/discussions/{number}"
    oid = await asyncio.to_thread(_apply_ndjson, store, repo, lines, branch, author)
    request.app[FAULTS].note_committed([str(i["value"]["path"]) for i in lines if i.get("key") in ("file", "lfsFile")])
    url = f"{base_url(request)}/{url_prefix(repo)}{repo.repo_id}/commit/{oid}"
    return web.json_response(
        {"commitOid": oid, "commitUrl": url, "success": True, "hookOutput": "", "pullRequestUrl": pr_url}
    )


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true")


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
