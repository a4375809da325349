"""Storage Buckets over HTTP, as huggingface_hub 2.4 speaks them (facts and their sources:
/work/shared/notes/buckets-protocol.md; the storage is `buckets.py`).

Management under `/api/buckets/{ns}[/{name}]`, the tree (cursor pages with an absolute `Link`),
paths-info, the NDJSON `batch` (adds and copies by Xet hash, deletes; per-operation failures in
`failed`, 422 when all failed), Xet tokens without a revision, and `resolve` at
`/buckets/{ns}/{name}/resolve/{path}` (302 to the bridge host, like a Xet file of a repo). A
missing or hidden bucket answers `X-Error-Code: RepoNotFound`, which the client turns into
`BucketNotFoundError` (and `sync` into "empty bucket"). Buckets need Xet: installed with it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from typing import Any

from aiohttp import web

from hfcheck.sim.emulator import bucket_events
from hfcheck.sim.emulator import context as hub
from hfcheck.sim.emulator.buckets import EMPTY_HASH, MAX_BATCH_OPS, Bucket, BucketStore
from hfcheck.sim.emulator.store import StoreError
from hfcheck.sim.emulator.xet import routes as xet

BUCKETS = web.AppKey("buckets", BucketStore)
FEED = web.AppKey("bucket_feed", bucket_events.Feed)
PAGE = 1000  # tree entries a page by default, as the Hub pages (issue huggingface_hub#3995)
MAX_PAGE = 10_000  # what hf-mount asks for
MAX_PATHS = 1000  # paths a paths-info call, what the client sends at most


# -- who may see or write a bucket -------------------------------------------------------------------
def _visible(c: hub.Caller, bucket: Bucket) -> bool:
    return not bucket.private or c.admin or c.user == bucket.owner


def _not_found(c: hub.Caller, bucket_id: str) -> hub.HubError:
    return hub.HubError(f"Bucket not found: {bucket_id}", status=404 if c.sent_token else 401, code="RepoNotFound")


def readable_bucket(request: web.Request) -> tuple[Bucket, hub.Caller]:
    c = hub.caller(request)
    bucket_id = f"{request.match_info['ns']}/{request.match_info['name']}"
    bucket = request.app[BUCKETS].get(bucket_id)
    if bucket is None or not _visible(c, bucket):
        raise _not_found(c, bucket_id)
    return bucket, c


def writable_bucket(request: web.Request) -> Bucket:
    bucket, c = readable_bucket(request)
    hub.require_user(c)
    if not (c.admin or c.user == bucket.owner):
        raise hub.HubError(f"You don't have the rights to write to bucket {bucket.bucket_id}", status=403)
    return bucket


def _new_id(c: hub.Caller, namespace: str, name: str) -> str:
    """The id of a bucket the caller may create: own namespace (`me` means it), or any as admin."""
    user = hub.require_user(c)
    ns = user if namespace == "me" else namespace
    if not (hub.REPO_NAME_RE.match(ns) and hub.REPO_NAME_RE.match(name)):
        raise hub.HubError(f"invalid bucket id: {ns}/{name}", status=400)
    if not (c.admin or ns == user):
        raise hub.HubError(f"You don't have the rights to create a bucket in {ns}", status=403)
    return f"{ns}/{name}"


# -- management ------------------------------------------------------------------------------------
@hub.kind("bucket_create")
async def create_bucket(request: web.Request) -> web.Response:
    c = hub.caller(request)
    bucket_id = _new_id(c, request.match_info["ns"], request.match_info["name"])
    body = await hub.json_body(request) if await request.read() else {}
    private = body.get("private") is True or body.get("visibility") == "private"
    url = f"{hub.base_url(request)}/buckets/{bucket_id}"
    try:
        request.app[BUCKETS].create(bucket_id, bucket_id.split("/")[0], private=private)  # owner: the namespace
    except StoreError as exc:
        if exc.status != 409:
            raise
        msg = f"You already created this bucket: {bucket_id}"  # `url` in the body: exist_ok reads it
        return web.json_response({"error": msg, "url": url}, status=409, headers={"X-Error-Message": msg})
    return web.json_response({"url": url})


@hub.kind("bucket_info")
async def bucket_info(request: web.Request) -> web.Response:
    bucket, _ = readable_bucket(request)
    return web.json_response(request.app[BUCKETS].info_json(bucket))


@hub.kind("bucket_delete")
async def delete_bucket(request: web.Request) -> web.Response:
    request.app[BUCKETS].delete(writable_bucket(request))
    return web.json_response({})


@hub.kind("bucket_list")
async def namespace(request: web.Request) -> web.Response:
    """GET lists a namespace's buckets (the caller's own with `me`); the other methods on a
    one-segment id (a bucket named without its namespace) answer 404, as the Hub does."""
    if request.method != "GET":
        raise hub.HubError("Not Found", status=404)
    c = hub.caller(request)
    ns = hub.require_user(c) if request.match_info["ns"] == "me" else request.match_info["ns"]
    buckets = request.app[BUCKETS]
    found = buckets.in_namespace(ns)
    if not found and ns not in request.app[hub.STORE].users():
        raise hub.HubError(f"Namespace not found: {ns}", status=404)
    search = request.query.get("search", "")
    shown = [b for b in found if _visible(c, b) and search in b.bucket_id.split("/", 1)[1]]
    return web.json_response([buckets.info_json(b) for b in shown])


@hub.kind("bucket_settings")
async def settings(request: web.Request) -> web.Response:
    bucket = writable_bucket(request)
    private = (await hub.json_body(request)).get("private")
    if not isinstance(private, bool):
        raise hub.HubError("settings: `private` must be true or false", status=400)
    request.app[BUCKETS].set_private(bucket, private)
    return web.json_response({})


async def move_bucket(request: web.Request, body: dict[str, Any]) -> web.Response:
    """`POST /api/repos/move` with `type: bucket` (the route is the repos', in routes_commit.py)."""
    if BUCKETS not in request.app:
        raise hub.HubError("buckets are served with Xet only", status=404)
    src, dst = str(body.get("fromRepo", "")), str(body.get("toRepo", ""))
    if src.count("/") != 1 or dst.count("/") != 1:
        raise hub.HubError("fromRepo and toRepo must be namespace/name", status=400)
    c = hub.caller(request)
    buckets = request.app[BUCKETS]
    bucket = buckets.get(src)
    if bucket is None or not _visible(c, bucket):
        raise _not_found(c, src)
    if not (c.admin or c.user == bucket.owner):
        raise hub.HubError(f"You don't have the rights to move bucket {src}", status=403)
    ns, name = dst.split("/")
    new_id = _new_id(c, ns, name)
    buckets.rename(bucket, new_id, ns)
    return web.json_response({"url": f"{hub.base_url(request)}/buckets/{new_id}"})


# -- listing ---------------------------------------------------------------------------------------
@hub.kind("bucket_tree")
async def tree(request: web.Request) -> web.Response:
    """A page of the tree. Without `recursive` every file under the prefix is listed (what the
    official tests expect of the Hub); `recursive=false` lists one level, folders included."""
    bucket, _ = readable_bucket(request)
    prefix = request.match_info.get("prefix", "").strip("/")  # aiohttp has decoded it (`%2F` too)
    recursive = request.query.get("recursive", "true").lower() != "false"
    try:
        limit = min(MAX_PAGE, max(1, int(request.query.get("limit", PAGE))))
    except ValueError:
        raise hub.HubError("limit must be an integer", status=400) from None
    after = _decode_cursor(request.query.get("cursor"))
    page = await hub.in_reader(
        request, request.app[BUCKETS].page, bucket, prefix, recursive=recursive, after=after, limit=limit + 1
    )
    headers = {}
    if len(page) > limit:
        page = page[:limit]
        query = {**request.query, "cursor": _encode_cursor(page[-1].key)}
        headers["Link"] = f'<{request.url.with_query(query)}>; rel="next"'  # absolute, every parameter in it
    return web.json_response([e.json() for e in page], headers=headers)


@hub.kind("bucket_paths_info")
async def paths_info(request: web.Request) -> web.Response:
    bucket, _ = readable_bucket(request)
    paths = (await hub.json_body(request)).get("paths")
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise hub.HubError("`paths` must be a list of strings", status=400)
    if len(paths) > MAX_PATHS:
        raise hub.HubError(f"too many paths: at most {MAX_PATHS} a call", status=413)
    files = await hub.in_reader(request, request.app[BUCKETS].files, bucket, paths)
    return web.json_response([f.json() for f in files])


def _encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"path": key}).encode()).decode()


def _decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        path = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["path"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise hub.HubError("invalid cursor", status=400) from None
    if not isinstance(path, str):
        raise hub.HubError("invalid cursor", status=400)
    return path


# -- writing ---------------------------------------------------------------------------------------
@hub.kind("bucket_batch")
async def batch(request: web.Request) -> web.Response:
    """NDJSON operations, applied one by one: 200 with the failures listed, 422 if all failed."""
    bucket = writable_bucket(request)
    ops: list[Any] = []
    for n, line in enumerate((await request.text()).splitlines(), 1):
        if line.strip():
            try:
                ops.append(json.loads(line))
            except json.JSONDecodeError:
                raise hub.HubError(f"line {n} of the batch is not JSON", status=400) from None
    if len(ops) > MAX_BATCH_OPS:
        raise hub.HubError(f"too many operations: at most {MAX_BATCH_OPS} a batch", status=400)
    c = hub.caller(request)
    writes = [op for op in ops if isinstance(op, dict) and op.get("type") in ("addFile", "copyFile")]
    refused = writes[: request.app[hub.FAULTS].refuse_bucket_ops(len(writes))]  # the fault switch
    ops = [op for op in ops if not any(op is r for r in refused)]
    result = await asyncio.to_thread(
        request.app[BUCKETS].apply, bucket, ops, lambda kind, repo, h: _may_copy(request, c, kind, repo, h)
    )
    await request.app[FEED].publish(bucket.bucket_id, result.changes)
    failed = result.failed + [{"path": str(op.get("path")), "error": "refused (fault)"} for op in refused]
    ops += refused
    body = {"success": not failed, "processed": len(ops), "succeeded": result.succeeded, "failed": failed}
    return web.json_response(body, status=422 if failed and not result.succeeded else 200)


def _may_copy(request: web.Request, c: hub.Caller, kind: Any, source: Any, xet_hash: str) -> bool:
    """Whether `xet_hash` is a file of `source` (a bucket, or a repo at any of its commits) that
    the caller may read."""
    buckets = request.app[BUCKETS]
    if kind == "bucket":
        bucket = buckets.get(str(source))
        return bucket is not None and _visible(c, bucket) and buckets.holds_hash(bucket, xet_hash)
    if kind not in hub.URL_TYPES.values() or xet_hash == EMPTY_HASH:
        return False
    repo = request.app[hub.STORE].get_repo(str(source), kind)
    if repo is None or ((repo.private or repo.gated) and not c.owns(repo)):
        return False
    return buckets.repo_holds(repo, xet_hash)


@hub.kind("bucket_events")
async def events(request: web.Request) -> web.StreamResponse:
    bucket, _ = readable_bucket(request)
    return await bucket_events.stream(request, request.app[FEED], bucket.bucket_id)


@hub.kind("xet_token")
async def write_token(request: web.Request) -> web.Response:
    writable_bucket(request)
    return xet.token_answer(request, "w")


@hub.kind("xet_token")
async def read_token(request: web.Request) -> web.Response:
    readable_bucket(request)
    return xet.token_answer(request, "r")


# -- downloads -------------------------------------------------------------------------------------
@hub.kind("resolve")
async def resolve(request: web.Request) -> web.StreamResponse:
    """A file's Xet headers, then a 302 to the bridge host (bytes, `Range`, no Authorization);
    the empty file, which has no CAS object, is answered here."""
    bucket, _ = readable_bucket(request)
    path = request.match_info["path"]  # decoded by aiohttp, `%2F` included
    f = request.app[BUCKETS].file(bucket, path)
    if f is None:
        raise hub.HubError(f"Entry not found: {path}", status=404, code="EntryNotFound")
    base = hub.base_url(request)
    headers = {
        "X-Xet-Hash": f.xet_hash,
        "X-Linked-Size": str(f.size),
        "ETag": f'"{f.xet_hash}"',
        "Link": f'<{base}/api/buckets/{bucket.bucket_id}/xet-read-token>; rel="xet-auth"',
        "Accept-Ranges": "bytes",
    }
    if f.content_type:
        headers["Content-Type"] = f.content_type
    xf = request.app[BUCKETS].cas.file_by_hash(f.xet_hash)
    if xf is None:
        return web.Response(body=b"", headers=headers)
    headers["Location"] = xet.bridge_url(request, "files", xf.sha256)
    return web.Response(status=302, headers=headers)


def install(app: web.Application) -> None:
    """Add the bucket routes (after the Xet routes: buckets live in the Xet CAS)."""
    app[BUCKETS] = BucketStore(app[hub.STORE], app[xet.XET].cas)
    app[FEED] = bucket_events.Feed()
    app.on_shutdown.append(_close_feed)
    r = app.router
    api = "/api/buckets/{ns}/{name}"
    r.add_route("*", "/api/buckets/{ns}", namespace)
    r.add_post(api, create_bucket)
    r.add_get(api, bucket_info)
    r.add_delete(api, delete_bucket)
    r.add_put(api + "/settings", settings)
    r.add_get(api + "/tree", tree)
    r.add_get(api + "/tree/{prefix:.+}", tree)
    r.add_post(api + "/paths-info", paths_info)
    r.add_post(api + "/batch", batch)
    r.add_get(api + "/events", events)
    r.add_get(api + "/xet-write-token", write_token)
    r.add_get(api + "/xet-read-token", read_token)
    r.add_get("/buckets/{ns}/{name}/resolve/{path:.+}", resolve)


async def _close_feed(app: web.Application) -> None:
    await app[FEED].close()


__all__ = ["BUCKETS", "install"]
