"""Reading a repo: who am I, repo info, the tree (paged) and paths-info.

The Hub's listing answers as huggingface_hub 2.4 reads them: `X-Repo-Commit` on tree and
paths-info answers, tree pages with a `Link: rel="next"` cursor, paths-info capped at `MAX_PATHS_INFO` paths, and
`xetHash` on files stored over Xet when Xet is on.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from aiohttp import web

from hfcheck.sim.emulator.context import (
    OPTIONS,
    STORE,
    URL_TYPES,
    HubError,
    caller,
    in_reader,
    json_body,
    kind,
    readable_repo,
    repo_not_found,
    require_user,
    resolve,
    writable_repo,
)
from hfcheck.sim.emulator.store import MAIN, Entry, Repo, lfs_pointer

PAGE_SIZE = 1000
PAGE_SIZE_EXPAND = 50
MAX_PATHS_INFO = 1000


@kind("whoami")
async def whoami(request: web.Request) -> web.Response:
    user = require_user(caller(request))
    return web.json_response(
        {
            "type": "user",
            "id": hashlib.sha1(user.encode()).hexdigest()[:24],
            "name": user,
            "fullname": user,
            "isPro": False,
            "canPay": False,
            "orgs": [],
            "auth": {"type": "access_token", "accessToken": {"displayName": "emulator", "role": "write"}},
        }
    )


@kind("repo_info")
async def repo_info(request: web.Request) -> web.Response:
    repo, _ = readable_repo(request)
    store = request.app[STORE]
    view = store.at_revision(repo, request.match_info.get("rev", MAIN))
    sha = view.head
    head = store.commit_info(sha)
    blobs = request.query.get("blobs", "").lower() in ("1", "true")
    siblings = [_sibling(e, blobs) for e in store.iter_entries(view)]
    _, used = store.file_count(view)
    return web.json_response(
        {
            "_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24],
            "id": repo.repo_id,
            "author": repo.owner,
            "sha": sha,
            "lastModified": head["date"],
            "createdAt": repo.created_at,
            "private": repo.private,
            "gated": repo.gated or False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "cardData": {},
            "siblings": siblings,
            "usedStorage": used,
        }
    )


def _sibling(e: Entry, blobs: bool) -> dict:
    out: dict[str, Any] = {"rfilename": e.path}
    if blobs:
        out.update({"size": e.size, "blobId": e.oid})
        if e.lfs:
            out["lfs"] = {"sha256": e.sha256, "size": e.size, "pointerSize": len(lfs_pointer(e.sha256 or "", e.size))}
    return out


@kind("repo_info")
async def auth_check(request: web.Request) -> web.Response:
    """`auth_check`: 200 if the caller may download the repo (`/write`: write it), else the
    error a download (or a write) would get."""
    if request.match_info.get("write"):
        writable_repo(request)
    else:
        readable_repo(request, download=True)
    return web.json_response({})


@kind("repo_info")
async def list_repos(request: web.Request) -> web.Response:
    """`list_models` / `list_datasets`: the repos of that type the caller may see, filtered by
    `author` and `search` (a part of the id, any case), up to `limit`, newest first."""
    c = caller(request)
    repo_type = URL_TYPES[request.match_info["type"]]
    author, search = request.query.get("author"), request.query.get("search", "").lower()
    try:
        limit = int(request.query.get("limit", "1000"))
    except ValueError:
        raise HubError("invalid limit", status=400) from None
    found = [
        r
        for r in request.app[STORE].list_repos()
        if r.type == repo_type
        and (not r.private or c.owns(r))
        and (author is None or r.owner.lower() == author.lower())
        and search in r.repo_id.lower()
    ]
    found.sort(key=lambda r: r.created_at, reverse=True)
    return web.json_response([_listed(r) for r in found[:limit]])


def _listed(repo: Repo) -> dict:
    return {
        "_id": hashlib.sha1(repo.key.encode()).hexdigest()[:24],
        "id": repo.repo_id,
        "author": repo.owner,
        "private": repo.private,
        "gated": repo.gated or False,
        "disabled": False,
        "createdAt": repo.created_at,
        "downloads": 0,
        "likes": 0,
        "tags": [],
    }


@kind("repo_info")
async def no_namespace(request: web.Request) -> web.Response:
    """A repo id without a namespace (`gpt2`): none is ever created here, so none is found."""
    raise repo_not_found(caller(request), request.match_info["name"])


@kind("tree")
async def tree(request: web.Request) -> web.Response:
    repo, _ = readable_repo(request)
    store = request.app[STORE]
    repo = resolve(request, repo)
    commit = repo.head
    prefix = request.match_info.get("path", "").strip("/")
    if prefix:
        e = store.entry(repo, prefix)
        if e is None or not e.is_dir:
            raise HubError(
                f"Entry not found: {prefix}", status=404, code="EntryNotFound", headers={"X-Repo-Commit": commit}
            )
    expand = _flag(request.query.get("expand"))
    limit = PAGE_SIZE_EXPAND if expand else PAGE_SIZE
    after = _decode_cursor(request.query.get("cursor"))
    recursive = _flag(request.query.get("recursive"))
    xet = request.app[OPTIONS].xet
    page = await in_reader(
        request,
        store.tree_json,
        repo,
        prefix,
        recursive=recursive,
        after=after,
        limit=limit + 1,
        expand=expand,
        xet=xet,
    )
    headers = {"X-Repo-Commit": commit}
    if len(page) > limit:
        page = page[:limit]
        query = {**request.query, "cursor": _encode_cursor(page[-1][0])}
        headers["Link"] = f'<{request.url.with_query(query)}>; rel="next"'
    return _json_array([j for _, j in page], headers)


def _json_array(items: list[str], headers: dict[str, str]) -> web.Response:
    """A JSON array of entries already rendered as JSON (by the store)."""
    return web.Response(text=f"[{','.join(items)}]", content_type="application/json", headers=headers)


@kind("paths_info")
async def paths_info(request: web.Request) -> web.Response:
    repo, _ = readable_repo(request)
    store = request.app[STORE]
    repo = resolve(request, repo)
    commit = repo.head
    if request.content_type == "application/json":
        body = await json_body(request)
        paths, expand = list(body.get("paths") or []), bool(body.get("expand"))
    else:
        form = await request.post()
        paths, expand = [str(p) for p in form.getall("paths", [])], _flag(str(form.get("expand", "")))
    if len(paths) > MAX_PATHS_INFO:
        raise HubError(f"Too many paths: {len(paths)} (max {MAX_PATHS_INFO})", status=413)
    found = store.paths_json(repo, list(dict.fromkeys(paths)), expand=expand, xet=request.app[OPTIONS].xet)
    return _json_array(found, {"X-Repo-Commit": commit})


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


def _encode_cursor(path: str) -> str:
    return base64.urlsafe_b64encode(path.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise HubError("invalid cursor", status=400) from None
