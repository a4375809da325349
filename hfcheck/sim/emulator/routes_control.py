"""The control API under `/_emulator/`: health, faults, rate limits, stats, users and repos.

Tests, benchmarks and the demo steer the emulator with it; the middleware lets these requests
bypass latency, faults, rate limits and counting (docs/emulator.md).
"""

from __future__ import annotations

from aiohttp import web

from hfcheck.sim.emulator.context import FAULTS, REPO_NAME_RE, STORE, HubError, json_body


async def ctl_health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def ctl_faults(request: web.Request) -> web.Response:
    f = request.app[FAULTS]
    if request.method == "POST":
        return web.json_response(f.update_faults(await json_body(request)))
    return web.json_response(f.fault_settings())


async def ctl_ratelimits(request: web.Request) -> web.Response:
    f = request.app[FAULTS]
    if request.method == "POST":
        return web.json_response(f.update_quotas(await json_body(request)))
    return web.json_response(f.rate_limit_settings())


async def ctl_ratelimits_reset(request: web.Request) -> web.Response:
    request.app[FAULTS].reset_windows()
    return web.json_response(request.app[FAULTS].rate_limit_settings())


async def ctl_stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[FAULTS].stats())


async def ctl_stats_reset(request: web.Request) -> web.Response:
    request.app[FAULTS].reset_stats()
    return web.json_response(request.app[FAULTS].stats())


async def ctl_users(request: web.Request) -> web.Response:
    store = request.app[STORE]
    if request.method == "POST":
        body = await json_body(request)
        name, token = body.get("name"), body.get("token")
        if not isinstance(name, str) or not REPO_NAME_RE.match(name) or not isinstance(token, str) or not token:
            raise HubError('expected {"name": NAME, "token": TOKEN}', status=400)
        store.add_user(name, token)
    return web.json_response({"users": store.users()})


async def ctl_repo(request: web.Request) -> web.Response:
    store = request.app[STORE]
    repo_id = f"{request.match_info['ns']}/{request.match_info['name']}"
    if request.method == "POST":
        body = await json_body(request)
        if store.get_repo(repo_id) is None:
            store.create_repo(repo_id, owner=body.get("owner"), private=bool(body.get("private")))
        gated = body.get("gated")
        if gated not in (None, False, True, "auto", "manual"):
            raise HubError('gated must be false, true, "auto" or "manual"', status=400)
        store.update_repo(repo_id, private=body.get("private"), gated=gated)
    repo = store.get_repo(repo_id)
    if repo is None:
        raise HubError(f"no repo {repo_id}", status=404)
    files, size = store.file_count(repo)
    return web.json_response(
        {
            "repo_id": repo.repo_id,
            "owner": repo.owner,
            "private": repo.private,
            "gated": repo.gated or False,
            "head": repo.head,
            "files": files,
            "bytes": size,
        }
    )
