"""aiohttp app speaking the subset of the Hub API that huggingface_hub 2.4 uses (dataset repos).

This module assembles the app: options, middleware, error answers, the route table and the
listening server. The handlers live by area: `routes_repo` (reading a repo), `routes_commit`
(writing one), `routes_files` (resolve, LFS, CDN), `routes_control` (the control API) and
`xet/routes` (Xet, unless off); what they share is in `context`.

One middleware applies latency, random faults and rate limits, counts requests and turns
`StoreError`s into the Hub's error answers (`X-Error-Code`, `X-Error-Message`, JSON `error`).
Control requests under `/_emulator/` bypass all of it. See docs/emulator.md.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import NoReturn

from aiohttp import web

from hfcheck.sim.emulator import routes_refs
from hfcheck.sim.emulator.context import API_REPO, EXTRA_HEADERS, FAULTS, OPTIONS, READER, STORE, Handler
from hfcheck.sim.emulator.faults import KIND_BUCKET, FaultConfig, Faults
from hfcheck.sim.emulator.routes_commit import (
    commit,
    create_repo,
    delete_repo,
    move_repo,
    preupload,
    repo_settings,
    validate_yaml,
)
from hfcheck.sim.emulator.routes_control import (
    ctl_faults,
    ctl_health,
    ctl_ratelimits,
    ctl_ratelimits_reset,
    ctl_repo,
    ctl_stats,
    ctl_stats_reset,
    ctl_users,
)
from hfcheck.sim.emulator.routes_files import cdn, lfs_batch, lfs_duplicate, lfs_upload, lfs_verify, resolve_file
from hfcheck.sim.emulator.routes_repo import auth_check, list_repos, no_namespace, paths_info, repo_info, tree, whoami
from hfcheck.sim.emulator.store import Store, StoreError

CONTROL_PREFIX = "/_emulator/"


@dataclass
class ServerOptions:
    """Everything `hub serve` can set; `users` maps user name -> token."""

    host: str = "127.0.0.1"
    port: int = 0
    users: dict[str, str] = field(default_factory=dict)
    admin_token: str | None = None
    cdn_host: str | None = None  # host (or host:port) the LFS redirects point to (default: 127.0.0.1 <-> localhost)
    url_ttl_s: int = 3600  # lifetime of signed CDN / upload URLs
    faults: FaultConfig = field(default_factory=FaultConfig)
    window_s: float = 300
    quotas: dict[str, int | None] = field(default_factory=dict)
    xet: bool = True  # speak Xet (tokens, CAS, bridge host); False = the LFS-only Hub of old


def request_kind(request: web.Request) -> str:
    base = getattr(request.match_info.handler, "kind", "other")
    if base in ("resolve", "cdn", "bridge"):
        return f"{base}_{'head' if request.method == 'HEAD' else 'get'}"
    return base


# -- errors ----------------------------------------------------------------------------------
def error_response(exc: StoreError) -> web.Response:
    message = " ".join(str(exc).split())
    headers = {"X-Error-Message": message.encode("ascii", "replace").decode()}
    if exc.code:
        headers["X-Error-Code"] = exc.code
    headers.update(getattr(exc, "headers", {}))
    return web.json_response({"error": message}, status=exc.status, headers=headers)


# -- app -------------------------------------------------------------------------------------
@web.middleware
async def hub_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(CONTROL_PREFIX):
        try:
            return await handler(request)
        except (StoreError, ValueError) as exc:
            err = exc if isinstance(exc, StoreError) else StoreError(str(exc), status=400)
            return error_response(err)
    faults = request.app[FAULTS]
    k = request_kind(request)
    faults.begin(k)
    try:
        return await _handle(request, handler, faults, k)
    finally:
        faults.end(k)


async def _handle(request: web.Request, handler: Handler, faults: Faults, k: str) -> web.StreamResponse:
    delay = faults.delay_s(k)
    if delay:
        await asyncio.sleep(delay)
    early = _injected_fault(request, faults, k)
    if early is not None:
        return early
    decision = faults.take(KIND_BUCKET.get(k))
    request[EXTRA_HEADERS] = decision.headers
    if not decision.allowed:
        faults.note_fault("rate_limited")
        faults.record(k, 429)
        msg = "You have exceeded our hourly quotas for action. Retry later."
        return web.json_response({"error": msg}, status=429, headers={"X-Error-Message": msg, **decision.headers})
    try:
        resp = await handler(request)
    except StoreError as exc:
        resp = error_response(exc)
    except web.HTTPException as exc:
        faults.record(k, exc.status)
        raise
    if k == "commit" and resp.status == 200 and faults.lose_commit_answer():
        _lose_answer(request, faults, k, "lost_answer")  # the commit landed; the client never hears
    faults.record(k, resp.status)
    return resp


def _lose_answer(request: web.Request, faults: Faults, k: str, name: str) -> NoReturn:
    """Close the connection without an answer: the client sees a reset."""
    faults.note_fault(name)
    faults.record(k, name)
    if request.transport is not None:
        request.transport.abort()
    raise asyncio.CancelledError()


def _injected_fault(request: web.Request, faults: Faults, k: str) -> web.StreamResponse | None:
    """A random 5xx answer, or a connection closed without any answer (client sees a reset)."""
    fault = faults.pick_fault(k)
    if fault is None:
        return None
    if fault == "reset":
        _lose_answer(request, faults, k, "reset")
    status = faults.error_status()
    faults.note_fault("5xx")
    faults.record(k, status)
    msg = "Emulated server error"
    return web.json_response({"error": msg}, status=status, headers={"X-Error-Message": msg})


async def _add_extra_headers(request: web.Request, response: web.StreamResponse) -> None:
    for key, value in (request.get(EXTRA_HEADERS) or {}).items():
        response.headers[key] = value
    # Every Hub answer names its request (the client quotes it in error messages): the trace id
    # the client sent, else a fresh one.
    trace = request.headers.get("X-Amzn-Trace-Id") or request.headers.get("X-Request-Id")
    response.headers["X-Request-Id"] = trace or f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}"


async def _stop_reader(app: web.Application) -> None:
    """Close the reader thread's connection to the store, then the thread."""
    reader = app[READER]
    await asyncio.get_running_loop().run_in_executor(reader, app[STORE].close)
    reader.shutdown(wait=False)


def build_app(store: Store, options: ServerOptions | None = None) -> web.Application:
    """The emulator as an aiohttp Application (no socket yet)."""
    options = options or ServerOptions()
    # Form fields are capped by us (413 past MAX_PATHS_INFO paths, with the Hub's error shape).
    app = web.Application(middlewares=[hub_middleware], client_max_size=8 * 1024**3, client_max_fields=100_000)
    app[STORE] = store
    app[OPTIONS] = options
    app[FAULTS] = Faults(options.faults, window_s=options.window_s, quotas=options.quotas)
    app[READER] = ThreadPoolExecutor(1, thread_name_prefix="hub-reader")
    app.on_cleanup.append(_stop_reader)
    for name, token in options.users.items():
        store.add_user(name, token)
    app.on_response_prepare.append(_add_extra_headers)
    _add_routes(app.router)
    if options.xet:
        from hfcheck.sim.emulator.xet import routes

        routes.install(app, store)
        from hfcheck.sim.emulator import routes_buckets

        routes_buckets.install(app)  # Storage Buckets live in the Xet CAS
    return app


def _add_routes(r: web.UrlDispatcher) -> None:
    api = API_REPO
    r.add_get("/api/whoami-v2", whoami)
    r.add_post("/api/repos/create", create_repo)
    r.add_delete("/api/repos/delete", delete_repo)
    r.add_post("/api/validate-yaml", validate_yaml)
    r.add_post("/api/repos/move", move_repo)
    r.add_get(api, repo_info)
    r.add_put(api + "/settings", repo_settings)
    r.add_get(api + "/auth-check", auth_check)
    r.add_post(api + "/lfs-files/duplicate", lfs_duplicate)
    r.add_get(api + "/auth-check/{write:write}", auth_check)
    r.add_get(api + "/revision/{rev}", repo_info)
    r.add_get(api + "/tree/{rev}", tree)
    r.add_get(api + "/tree/{rev}/{path:.+}", tree)
    r.add_post(api + "/paths-info/{rev}", paths_info)
    r.add_post(api + "/preupload/{rev}", preupload)
    r.add_post(api + "/commit/{rev}", commit)
    routes_refs.add_routes(r, api)
    for prefix in ("/{type:datasets}", ""):  # a model's git and file URLs have no type prefix
        r.add_post(prefix + "/{ns}/{namegit}/info/lfs/objects/batch", lfs_batch)
        r.add_post(prefix + "/{ns}/{namegit}/info/lfs/objects/verify", lfs_verify)
        r.add_get(prefix + "/{ns}/{name}/resolve/{rev}/{path:.+}", resolve_file)
    r.add_put("/lfs-upload/{oid}", lfs_upload)
    r.add_get("/api/{type:models|datasets}", list_repos)
    r.add_get("/api/{type:models|datasets}/{name}", no_namespace)
    r.add_get("/api/{type:models|datasets}/{name}/revision/{rev}", no_namespace)
    r.add_get("/api/{type:models|datasets}/{name}/commits/{rev}", no_namespace)
    r.add_get("/{name}/resolve/{rev}/{path:.+}", no_namespace)
    r.add_get("/cdn/{sha256}", cdn)
    c = CONTROL_PREFIX
    r.add_get(c + "health", ctl_health)
    r.add_route("*", c + "faults", ctl_faults)
    r.add_route("*", c + "ratelimits", ctl_ratelimits)
    r.add_post(c + "ratelimits/reset", ctl_ratelimits_reset)
    r.add_get(c + "stats", ctl_stats)
    r.add_post(c + "stats/reset", ctl_stats_reset)
    r.add_route("*", c + "users", ctl_users)
    r.add_route("*", c + "repos/{ns}/{name}", ctl_repo)


async def start_server(store: Store, options: ServerOptions) -> tuple[web.AppRunner, str]:
    """Listen on options.host:port (0 = any free port); returns the runner and the base URL."""
    app = build_app(store, options)
    if options.xet:
        from hfcheck.sim.emulator.xet import routes

        await routes.start_bridge(app, options.host)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, options.host, options.port, reuse_address=True)
    await site.start()
    port = runner.addresses[0][1]
    host = "127.0.0.1" if options.host in ("", "0.0.0.0") else options.host
    host = f"[{host}]" if ":" in host else host
    return runner, f"http://{host}:{port}"


__all__ = ["ServerOptions", "build_app", "start_server"]
