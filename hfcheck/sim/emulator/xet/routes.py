"""Xet over HTTP: tokens on the Hub API, the CAS, resolve headers and the bridge host.

The CAS lives on the Hub's port under `/cas/{id}` (a per-data-directory id, see `XetCAS`).
Only what the client falls back to is routed: `xorb-grants`, `/v2/shards` and
`/v2/reconstructions` are absent, so aiohttp answers them 404 (a path that exists for another
method would answer 405, which the client treats as a failure). The bridge host is a second
aiohttp site on its own port, hence another origin: it serves reconstructed files and xorb
ranges to signed URLs and refuses any request that carries `Authorization`, as a presigned
storage URL does (so a client that leaks the Hub token there fails visibly).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from hfcheck.sim.emulator import context as hub
from hfcheck.sim.emulator import routes_files, server
from hfcheck.sim.emulator.store import Entry, Repo
from hfcheck.sim.emulator.xet.cas import XetCAS, XetFile, check_hex


@dataclass
class XetState:
    cas: XetCAS
    bridge_port: int = 0
    bridge_runner: web.AppRunner | None = None


XET = web.AppKey("xet", XetState)


# -- tokens ------------------------------------------------------------------------------------
def _token(request: web.Request, mode: str) -> tuple[str, int]:
    exp = int(time.time()) + request.app[hub.OPTIONS].url_ttl_s
    return f"xet{mode}.{exp}.{request.app[hub.STORE].sign('xet-' + mode, 'cas', exp)}", exp


def token_answer(request: web.Request, mode: str) -> web.Response:
    token, exp = _token(request, mode)
    cas_url = f"{hub.base_url(request)}/cas/{request.app[XET].cas.cas_id}"
    headers = {"X-Xet-Cas-Url": cas_url, "X-Xet-Access-Token": token, "X-Xet-Token-Expiration": str(exp)}
    return web.json_response({"accessToken": token, "exp": exp, "casUrl": cas_url}, headers=headers)


@hub.kind("xet_token")
async def write_token(request: web.Request) -> web.Response:
    repo = hub.writable_repo(request)
    if request.query.get("create_pr") not in ("1", "true"):
        hub.resolve(request, repo)
    # else a token for the pull request about to be opened: its ref does not exist yet (and the
    # client may name no base revision at all, e.g. `None`), so none is resolved, as on the Hub
    return token_answer(request, "w")


@hub.kind("xet_token")
async def read_token(request: web.Request) -> web.Response:
    repo, _ = hub.readable_repo(request, download=True)
    hub.resolve(request, repo)
    return token_answer(request, "r")


def _cas(request: web.Request, *, write: bool) -> XetCAS:
    """The CAS if the path's id is ours and the Bearer token is a valid CAS token."""
    state = request.app[XET]
    if request.match_info["cid"] != state.cas.cas_id:
        raise hub.HubError("Not Found", status=404)
    auth = request.headers.get("Authorization", "")
    parts = (auth[7:].strip() if auth.lower().startswith("bearer ") else "").split(".")
    if len(parts) != 3 or parts[0] not in ("xetw", "xetr"):
        raise hub.HubError("missing or malformed CAS token", status=401)
    mode = parts[0][3]
    if not request.app[hub.STORE].check_signature("xet-" + mode, "cas", parts[1], parts[2]):
        raise hub.HubError("CAS token expired or invalid", status=401)
    if write and mode != "w":
        raise hub.HubError("a read token cannot write", status=403)
    return state.cas


# -- CAS ---------------------------------------------------------------------------------------
@hub.kind("cas_xorb")
async def upload_xorb(request: web.Request) -> web.Response:
    cas = _cas(request, write=True)
    if request.match_info["prefix"] != "default":
        raise hub.HubError("unknown xorb prefix", status=400)
    xorb = check_hex(request.match_info["hash"], "xorb")
    data = await request.read()
    inserted = await asyncio.to_thread(cas.put_xorb, xorb, data)
    return web.json_response({"was_inserted": inserted})


@hub.kind("cas_shard")
async def upload_shard(request: web.Request) -> web.Response:
    cas = _cas(request, write=True)
    data = await request.read()
    return web.json_response({"result": await asyncio.to_thread(cas.put_shard, data)})


@hub.kind("cas_chunk")
async def query_chunk(request: web.Request) -> web.Response:
    """Global dedupe: the emulator tracks none, which the client takes as 'upload it'."""
    _cas(request, write=False)
    check_hex(request.match_info["hash"], "chunk")
    raise hub.HubError("chunk not tracked", status=404)


@hub.kind("cas_reconstruction")
async def reconstruction(request: web.Request) -> web.Response:
    cas = _cas(request, write=False)
    f = cas.file_by_hash(check_hex(request.match_info["hash"], "file"))
    if f is None:
        raise hub.HubError("file not found", status=404)
    span = routes_files.parse_range(request.headers.get("Range"), f.size)
    if span == "invalid" or (f.size == 0 and span is not None):
        raise hub.HubError(
            "Requested range not satisfiable", status=416, headers={"Content-Range": f"bytes */{f.size}"}
        )
    first, last = (span[0], span[1] - 1) if isinstance(span, tuple) else (0, f.size - 1)
    body = await asyncio.to_thread(cas.reconstruction, f, first, last, lambda x: bridge_url(request, "xorbs", x))
    return web.json_response(body)


# -- the Hub side: resolve and listings ------------------------------------------------------------
def xet_file(request: web.Request, e: Entry) -> XetFile | None:
    state = request.app.get(XET)
    if state is None or not e.lfs or not e.sha256:
        return None
    return state.cas.file_by_sha256(e.sha256)


def resolve_headers(request: web.Request, repo: Repo, commit_oid: str, f: XetFile) -> dict[str, str]:
    """What the real Hub adds on `resolve` of a Xet file (the 302 goes to the bridge host)."""
    base = hub.base_url(request)
    cas_url = f"{base}/cas/{request.app[XET].cas.cas_id}"
    link = (
        f'<{base}/api/{repo.type}s/{repo.repo_id}/xet-read-token/{commit_oid}>; rel="xet-auth", '
        f'<{cas_url}/v1/reconstructions/{f.xet_hash}>; rel="xet-reconstruction-info"'
    )
    return {
        "X-Xet-Hash": f.xet_hash,
        "Link": link,
        "X-Linked-Etag": f'"{f.sha256}"',
        "X-Linked-Size": str(f.size),
        "Location": bridge_url(request, "files", f.sha256),
    }


# -- the bridge host ---------------------------------------------------------------------------
def bridge_url(request: web.Request, what: str, oid: str) -> str:
    """A signed, expiring URL on the bridge host: the CDN's host name, the bridge's own port."""
    name, _ = routes_files.other_host(request)
    exp = int(time.time()) + request.app[hub.OPTIONS].url_ttl_s
    sig = request.app[hub.STORE].sign(f"bridge-{what}", oid, exp)
    return f"{request.scheme}://{name}:{request.app[XET].bridge_port}/{what}/{oid}?exp={exp}&sig={sig}"


def _signed(request: web.Request, what: str, oid: str) -> None:
    if "Authorization" in request.headers:  # a presigned URL admits no second credential
        raise hub.HubError("Only one auth mechanism allowed; the signed URL carries the credentials", status=400)
    if not request.app[hub.STORE].check_signature(
        f"bridge-{what}", oid, request.query.get("exp", ""), request.query.get("sig", "")
    ):
        raise hub.HubError("Request has expired or signature is invalid", status=403)


@hub.kind("bridge")
async def bridge_file(request: web.Request) -> web.StreamResponse:
    sha = request.match_info["oid"]
    _signed(request, "files", sha)
    blob = request.app[hub.STORE].blob(sha)
    if blob is None:
        raise hub.HubError("blob not found", status=404)
    headers = {"ETag": f'"{sha}"', "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
    return await routes_files.serve_blob(request, sha, blob.size, headers)


@hub.kind("xorb_get")
async def bridge_xorb(request: web.Request) -> web.StreamResponse:
    xorb = request.match_info["oid"]
    _signed(request, "xorbs", xorb)
    cas = request.app[XET].cas
    size = cas.xorb_size(xorb)
    if size is None:
        raise hub.HubError("xorb not found", status=404)
    headers = {"Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
    return await routes_files.serve_blob(request, xorb, size, headers, read=lambda a, b: cas.read_xorb(xorb, a, b))


def install(app: web.Application, store: Any) -> None:
    """Add the Xet routes to the Hub app (called by `server.build_app` unless `xet` is off)."""
    app[XET] = XetState(XetCAS(store))
    r = app.router
    api = hub.API_REPO
    r.add_get(api + "/xet-write-token/{rev}", write_token)
    r.add_get(api + "/xet-read-token/{rev}", read_token)
    cas = "/cas/{cid}"
    r.add_post(cas + "/v1/xorbs/{prefix}/{hash}", upload_xorb)
    r.add_post(cas + "/v1/shards", upload_shard)
    r.add_get(cas + "/v1/chunks/{prefix}/{hash}", query_chunk)
    r.add_get(cas + "/v1/reconstructions/{hash}", reconstruction)
    app.on_cleanup.append(_stop_bridge)


async def start_bridge(app: web.Application, host: str) -> None:
    """Serve the bridge host on its own port (same interface as the Hub)."""
    state = app[XET]
    bridge = web.Application(middlewares=[server.hub_middleware])
    bridge[hub.STORE] = app[hub.STORE]
    bridge[hub.OPTIONS] = app[hub.OPTIONS]
    bridge[hub.FAULTS] = app[hub.FAULTS]
    bridge[XET] = state
    bridge.on_response_prepare.append(server._add_extra_headers)
    bridge.router.add_get("/files/{oid}", bridge_file)
    bridge.router.add_get("/xorbs/{oid}", bridge_xorb)
    runner = web.AppRunner(bridge, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, 0, reuse_address=True)
    await site.start()
    state.bridge_runner, state.bridge_port = runner, runner.addresses[0][1]


async def _stop_bridge(app: web.Application) -> None:
    state = app[XET]
    if state.bridge_runner is not None:
        await state.bridge_runner.cleanup()
        state.bridge_runner = None


__all__ = ["XET", "XetState", "bridge_url", "install", "resolve_headers", "start_bridge", "token_answer", "xet_file"]
