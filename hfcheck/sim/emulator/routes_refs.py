"""A repo's history and refs: list the commits, list the refs, create and delete branches and tags.

As the Hub answers huggingface_hub 2.4: commits newest first, `COMMITS_PAGE` a page with an
absolute `Link: <...?p=N>; rel="next"`; refs as `{"branches", "tags", "converts",
"pullRequests"}`; a branch or tag that exists → 409, one that does not → 404 `RevisionNotFound`.
"""

from __future__ import annotations

import html
from urllib.parse import unquote

from aiohttp import web

from hfcheck.sim.emulator.context import STORE, HubError, json_body, kind, readable_repo, resolve, writable_repo
from hfcheck.sim.emulator.store import COMMITS_PAGE, MAIN


@kind("list_commits")
async def list_commits(request: web.Request) -> web.Response:
    repo, _ = readable_repo(request)
    view = resolve(request, repo)
    try:
        page = max(0, int(request.query.get("p", "0")))
    except ValueError:
        raise HubError("invalid page number", status=400) from None
    rows = request.app[STORE].commits(view, offset=page * COMMITS_PAGE, limit=COMMITS_PAGE + 1)
    headers = {}
    if len(rows) > COMMITS_PAGE:
        rows = rows[:COMMITS_PAGE]
        headers["Link"] = f'<{request.url.update_query(p=str(page + 1))}>; rel="next"'
    formatted = "formatted" in request.query.getall("expand[]", [])
    items = [_commit_json(r, formatted) for r in rows]
    return web.json_response(items, headers=headers)


def _commit_json(row: dict, formatted: bool) -> dict:
    out = {
        "id": row["id"],
        "parents": row["parents"],
        "title": row["title"],
        "message": row["message"],
        "authors": [{"user": row["author"]}],
        "date": row["date"],
    }
    if formatted:  # `expand[]=formatted`: title and message as HTML
        out["formatted"] = {"title": html.escape(row["title"]), "message": html.escape(row["message"])}
    return out


@kind("refs")
async def list_refs(request: web.Request) -> web.Response:
    repo, _ = readable_repo(request)
    refs = request.app[STORE].refs(repo)
    body: dict[str, list[dict]] = {
        "branches": [{"name": n, "ref": f"refs/heads/{n}", "targetCommit": t} for n, t in refs["branch"]],
        "tags": [{"name": n, "ref": f"refs/tags/{n}", "targetCommit": t} for n, t in refs["tag"]],
        "converts": [],
    }
    if request.query.get("include_prs"):
        body["pullRequests"] = [{"name": n, "ref": n, "targetCommit": t} for n, t in refs["pr"]]
    return web.json_response(body)


@kind("refs")
async def branch(request: web.Request) -> web.Response:
    repo = writable_repo(request)
    store = request.app[STORE]
    name = unquote(request.match_info["ref"])
    if request.method == "DELETE":
        store.delete_branch(repo, name)
        return web.json_response({})
    body = await json_body(request) if request.can_read_body else {}
    if body.get("emptyBranch"):
        raise HubError("empty branches are not emulated", status=400)
    store.create_branch(repo, name, start=str(body.get("startingPoint") or MAIN))
    return web.json_response({})


@kind("refs")
async def tag(request: web.Request) -> web.Response:
    repo = writable_repo(request)
    store = request.app[STORE]
    if request.method == "DELETE":
        store.delete_tag(repo, unquote(request.match_info["ref"]))
        return web.json_response({})
    body = await json_body(request)
    name = body.get("tag")
    if not isinstance(name, str):
        raise HubError('expected {"tag": NAME}', status=400)
    store.create_tag(repo, name, revision=unquote(request.match_info["ref"]), message=str(body.get("message") or ""))
    return web.json_response({})


def add_routes(r: web.UrlDispatcher, api: str) -> None:
    r.add_get(api + "/commits/{rev}", list_commits)
    r.add_get(api + "/refs", list_refs)
    r.add_route("POST", api + "/branch/{ref}", branch)
    r.add_route("DELETE", api + "/branch/{ref}", branch)
    r.add_route("POST", api + "/tag/{ref}", tag)
    r.add_route("DELETE", api + "/tag/{ref}", tag)
