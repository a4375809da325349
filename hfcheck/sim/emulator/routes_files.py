"""Moving file contents: resolve, the LFS batch/upload/verify, and the CDN.

A small file is served by `resolve` itself; an LFS file's `resolve` redirects to a signed,
expiring CDN URL on another origin (so the client drops `Authorization` there), or to the Xet
bridge host when the file is stored over Xet. `serve_blob` answers whole files and single
`Range`s, for the CDN here and for the Xet bridge (`xet/routes.py`).
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any, Callable, Iterator

from aiohttp import web

from hfcheck.sim.emulator.context import (
    OPTIONS,
    STORE,
    HubError,
    base_url,
    caller,
    git_name,
    json_body,
    kind,
    readable_repo,
    repo_not_found,
    require_user,
    resolve,
    url_prefix,
)
from hfcheck.sim.emulator.store import Repo


# -- LFS -------------------------------------------------------------------------------------
@kind("lfs_batch")
async def lfs_batch(request: web.Request) -> web.Response:
    body = await json_body(request)
    operation = body.get("operation")
    if operation == "upload":
        repo = uploadable_repo(request, git_name(request))
    else:
        repo, _ = readable_repo(request, git_name(request), download=True)
    objects = [_batch_object(request, repo, o, operation) for o in body.get("objects") or []]
    return web.json_response(
        {"transfer": "basic", "objects": objects, "hash_algo": "sha256"}, content_type="application/vnd.git-lfs+json"
    )


def uploadable_repo(request: web.Request, name: str) -> Repo:
    """Who may upload LFS objects: any signed-in user who may read the repo (a pull request's
    author too); the objects are content-addressed and only a commit, guarded, makes them files."""
    repo, c = readable_repo(request, name)
    require_user(c)
    return repo


@kind("lfs_batch")
async def lfs_duplicate(request: web.Request) -> web.Response:
    """`copy_files` between repos: the source's LFS files made available to the target. Content
    is stored once for all repos here, so this checks access and presence only."""
    readable_repo(request, download=True)
    body = await json_body(request)
    target = body.get("target") or {}
    store = request.app[STORE]
    dest = store.get_repo(str(target.get("name")), str(target.get("type") or "model"))
    c = caller(request)
    if dest is None or not c.owns(dest):
        raise repo_not_found(c, str(target.get("name")))
    failed = [
        {"sha256": str(f.get("sha256")), "error": "not found"}
        for f in body.get("files") or []
        if not store.has_blob(str(f.get("sha256")))
    ]
    return web.json_response({"failed": failed})


def _batch_object(request: web.Request, repo: Repo, obj: dict, operation: Any) -> dict:
    store = request.app[STORE]
    oid, size = obj.get("oid"), obj.get("size")
    if not isinstance(oid, str) or not re.fullmatch(r"[0-9a-f]{64}", oid) or not isinstance(size, int) or size < 0:
        return {
            "oid": str(oid),
            "size": size if isinstance(size, int) else 0,
            "error": {"code": 422, "message": "invalid oid or size"},
        }
    present = store.has_blob(oid, size)
    if operation == "download":
        if not present:
            return {"oid": oid, "size": size, "error": {"code": 404, "message": "Object does not exist"}}
        return {"oid": oid, "size": size, "actions": {"download": {"href": cdn_url(request, oid)}}}
    if present:
        return {"oid": oid, "size": size}
    exp = int(time.time()) + request.app[OPTIONS].url_ttl_s
    sig = store.sign("put", oid, exp)
    base = base_url(request)
    return {
        "oid": oid,
        "size": size,
        "authenticated": True,
        "actions": {
            "upload": {"href": f"{base}/lfs-upload/{oid}?size={size}&exp={exp}&sig={sig}"},
            "verify": {"href": f"{base}/{url_prefix(repo)}{repo.repo_id}.git/info/lfs/objects/verify"},
        },
    }


@kind("lfs_upload")
async def lfs_upload(request: web.Request) -> web.Response:
    store = request.app[STORE]
    oid = request.match_info["oid"]
    q = request.query
    if not store.check_signature("put", oid, q.get("exp", ""), q.get("sig", "")):
        raise HubError("invalid or expired upload URL", status=403)
    writer = store.blob_writer()
    try:
        async for chunk in request.content.iter_chunked(1024 * 1024):
            writer.write(chunk)
    except BaseException:
        writer.abort()
        raise
    size = int(q["size"]) if q.get("size", "").isdigit() else None
    await asyncio.to_thread(writer.finish, expect_sha256=oid, expect_size=size)
    return web.Response(status=200, headers={"ETag": f'"{oid}"'})


@kind("lfs_verify")
async def lfs_verify(request: web.Request) -> web.Response:
    uploadable_repo(request, git_name(request))
    body = await json_body(request)
    if not request.app[STORE].has_blob(str(body.get("oid")), body.get("size")):
        raise HubError("Object not found or wrong size", status=404)
    return web.json_response({"success": True})


# -- downloads -------------------------------------------------------------------------------
@kind("resolve")
async def resolve_file(request: web.Request) -> web.StreamResponse:
    repo, _ = readable_repo(request, download=True)
    store = request.app[STORE]
    repo = resolve(request, repo)
    commit_oid = repo.head
    path = request.match_info["path"]
    e = store.entry(repo, path)
    if e is None or e.is_dir:
        raise HubError(
            f"Entry not found: {path}", status=404, code="EntryNotFound", headers={"X-Repo-Commit": commit_oid}
        )
    headers = {"X-Repo-Commit": commit_oid, "ETag": f'"{e.oid}"', "Accept-Ranges": "bytes"}
    if e.lfs and request.app[OPTIONS].xet:
        from hfcheck.sim.emulator.xet import routes

        xf = routes.xet_file(request, e)
        if xf is not None:
            headers.update(routes.resolve_headers(request, repo, commit_oid, xf))
            return web.Response(status=302, headers=headers)
    if e.lfs:
        assert e.sha256 is not None
        headers.update(
            {"X-Linked-Etag": f'"{e.sha256}"', "X-Linked-Size": str(e.size), "Location": cdn_url(request, e.sha256)}
        )
        return web.Response(status=302, headers=headers)
    return await serve_blob(request, e.sha256 or "", e.size, headers)


def other_host(request: web.Request) -> tuple[str, str]:
    """(host name of the CDN / bridge, the request's port): `--cdn-host`, or 127.0.0.1 <-> localhost."""
    host, _, port = request.host.rpartition(":") if ":" in request.host.split("]")[-1] else (request.host, "", "")
    if request.app[OPTIONS].cdn_host:
        return str(request.app[OPTIONS].cdn_host), port
    return ("localhost" if host in ("127.0.0.1", "[::1]") else "127.0.0.1"), port


def cdn_url(request: web.Request, sha256: str) -> str:
    """A signed, expiring URL on another origin (the client drops Authorization there)."""
    opts = request.app[OPTIONS]
    if opts.cdn_host and ":" in opts.cdn_host.split("]")[-1]:
        netloc = opts.cdn_host  # host:port: another server altogether (tests of the token rule)
    else:
        other, port = other_host(request)
        netloc = f"{other}:{port}" if port else other
    exp = int(time.time()) + opts.url_ttl_s
    sig = request.app[STORE].sign("get", sha256, exp)
    return f"{request.scheme}://{netloc}/cdn/{sha256}?exp={exp}&sig={sig}"


@kind("cdn")
async def cdn(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    sha = request.match_info["sha256"]
    if not store.check_signature("get", sha, request.query.get("exp", ""), request.query.get("sig", "")):
        raise HubError("Request has expired or signature is invalid", status=403)
    blob = store.blob(sha)
    if blob is None:
        raise HubError("blob not found", status=404)
    headers = {"ETag": f'"{sha}"', "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
    return await serve_blob(request, sha, blob.size, headers)


async def serve_blob(
    request: web.Request,
    sha256: str,
    size: int,
    headers: dict[str, str],
    read: Callable[[int, int], Iterator[bytes]] | None = None,
) -> web.StreamResponse:
    """200 or 206 (single `Range`), HEAD without body; 416 for an unsatisfiable range.
    `read(start, end)` replaces the blob reader (the bridge serves xorbs too)."""
    span = parse_range(request.headers.get("Range"), size)
    if span == "invalid":
        raise HubError("Requested range not satisfiable", status=416, headers={"Content-Range": f"bytes */{size}"})
    start, end = span if isinstance(span, tuple) else (0, size)
    status = 206 if isinstance(span, tuple) else 200
    if status == 206:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    resp = web.StreamResponse(status=status, headers=headers)
    resp.content_length = end - start
    await resp.prepare(request)
    if request.method != "HEAD":
        for chunk in (read or (lambda a, b: request.app[STORE].read_blob(sha256, a, b)))(start, end):
            await resp.write(chunk)
    await resp.write_eof()
    return resp


def parse_range(value: str | None, size: int) -> tuple[int, int] | str | None:
    """(start, end exclusive), None to ignore the header, or 'invalid' (answer 416)."""
    if not value:
        return None
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", value)
    if not m or (m.group(1) == "" and m.group(2) == ""):
        return None
    if m.group(1) == "":
        n = int(m.group(2))
        return (max(0, size - n), size) if n > 0 and size > 0 else "invalid"
    start = int(m.group(1))
    end = min(size, int(m.group(2)) + 1) if m.group(2) else size
    if start >= size or end <= start:
        return "invalid"
    return start, end
