"""aiohttp app speaking the subset of the Hub API that huggingface_hub 2.4 uses (dataset repos).

One middleware applies latency, random faults and rate limits, counts requests and turns
`StoreError`s into the Hub's error answers (`X-Error-Code`, `X-Error-Message`, JSON `error`).
Control requests under `/_emulator/` bypass all of it. See docs/emulator.md.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterator, NoReturn

from aiohttp import web

from hfcheck.sim.emulator.faults import KIND_BUCKET, FaultConfig, Faults
from hfcheck.sim.emulator.store import (
    MAIN,
    Entry,
    Repo,
    Store,
    StoreError,
    git_blob_sha1,
    lfs_pointer,
    wants_lfs,
)

PAGE_SIZE = 1000
PAGE_SIZE_EXPAND = 50
MAX_PATHS_INFO = 1000
CONTROL_PREFIX = "/_emulator/"
REPO_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
ADMIN_NAME = "admin"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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


STORE = web.AppKey("store", Store)
FAULTS = web.AppKey("faults", Faults)
OPTIONS = web.AppKey("options", ServerOptions)
EXTRA_HEADERS = web.RequestKey("extra_headers", dict)


class HubError(StoreError):
    """A StoreError with extra headers (e.g. X-Repo-Commit on a missing file)."""

    def __init__(
        self, message: str, *, status: int, code: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.headers = headers or {}


def kind(name: str) -> Callable[[Handler], Handler]:
    """Tag a handler with its endpoint kind (stats, rate-limit bucket, fault exemptions)."""

    def deco(fn: Handler) -> Handler:
        fn.kind = name  # type: ignore[attr-defined]  # a tag read back with getattr(handler, "kind")
        return fn

    return deco


def request_kind(request: web.Request) -> str:
    base = getattr(request.match_info.handler, "kind", "other")
    if base in ("resolve", "cdn", "bridge"):
        return f"{base}_{'head' if request.method == 'HEAD' else 'get'}"
    return base


# -- errors and auth -------------------------------------------------------------------------
def error_response(exc: StoreError) -> web.Response:
    message = " ".join(str(exc).split())
    headers = {"X-Error-Message": message.encode("ascii", "replace").decode()}
    if exc.code:
        headers["X-Error-Code"] = exc.code
    headers.update(getattr(exc, "headers", {}))
    return web.json_response({"error": message}, status=exc.status, headers=headers)


@dataclass(frozen=True)
class Caller:
    user: str | None
    admin: bool
    sent_token: bool

    def owns(self, repo: Repo) -> bool:
        return self.admin or (self.user is not None and self.user == repo.owner)


def caller(request: web.Request) -> Caller:
    auth = request.headers.get("Authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    if not token:
        return Caller(None, False, False)
    opts = request.app[OPTIONS]
    if opts.admin_token and token == opts.admin_token:
        return Caller(ADMIN_NAME, True, True)
    return Caller(request.app[STORE].user_for_token(token), False, True)


def repo_not_found(c: Caller, repo_id: str) -> HubError:
    status = 404 if c.sent_token else 401
    return HubError(f"Repository Not Found for url: {repo_id}", status=status, code="RepoNotFound")


def readable_repo(request: web.Request, name: str | None = None, *, download: bool = False) -> tuple[Repo, Caller]:
    """The repo of the URL if the caller may see it (private: owner only; gated: downloads)."""
    c = caller(request)
    repo_id = f"{request.match_info['ns']}/{name or request.match_info['name']}"
    repo = request.app[STORE].get_repo(repo_id)
    if repo is None or (repo.private and not c.owns(repo)):
        raise repo_not_found(c, repo_id)
    if download and repo.gated and not c.owns(repo):
        status = 403 if c.sent_token else 401
        raise HubError(
            f"Access to dataset {repo_id} is restricted. You must have access to it.", status=status, code="GatedRepo"
        )
    return repo, c


def writable_repo(request: web.Request, name: str | None = None) -> Repo:
    repo, c = readable_repo(request, name)
    if c.user is None:
        raise HubError("Invalid credentials in Authorization header", status=401)
    if not c.owns(repo):
        raise HubError(f"You don't have the rights to write to {repo.repo_id}", status=403)
    return repo


def resolve(request: web.Request, repo: Repo) -> str:
    return request.app[STORE].resolve_revision(repo, request.match_info["rev"])


def base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def git_name(request: web.Request) -> str:
    name = request.match_info["namegit"]
    if not name.endswith(".git"):
        raise HubError("Not Found", status=404)
    return name[:-4]


# -- Hub API ---------------------------------------------------------------------------------
@kind("whoami")
async def whoami(request: web.Request) -> web.Response:
    c = caller(request)
    if c.user is None:
        raise HubError("Invalid credentials in Authorization header", status=401)
    return web.json_response(
        {
            "type": "user",
            "id": hashlib.sha1(c.user.encode()).hexdigest()[:24],
            "name": c.user,
            "fullname": c.user,
            "isPro": False,
            "canPay": False,
            "orgs": [],
            "auth": {"type": "access_token", "accessToken": {"displayName": "emulator", "role": "write"}},
        }
    )


@kind("create_repo")
async def create_repo(request: web.Request) -> web.Response:
    body = await _json(request)
    c = caller(request)
    if c.user is None:
        raise HubError("Invalid credentials in Authorization header", status=401)
    if body.get("type", "model") != "dataset":
        raise HubError("only dataset repos are emulated", status=400)
    name, org = body.get("name"), body.get("organization") or c.user
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
    body = await _json(request)
    c = caller(request)
    repo_id = f"{body.get('organization') or c.user}/{body.get('name')}"
    repo = request.app[STORE].get_repo(repo_id)
    if repo is None or not c.owns(repo):
        raise repo_not_found(c, repo_id)
    request.app[STORE].delete_repo(repo_id)
    return web.json_response({})


@kind("repo_info")
async def repo_info(request: web.Request) -> web.Response:
    repo, _ = readable_repo(request)
    store = request.app[STORE]
    sha = store.resolve_revision(repo, request.match_info.get("rev", MAIN))
    head = store.commit_info(sha)
    blobs = request.query.get("blobs", "").lower() in ("1", "true")
    siblings = [_sibling(e, blobs) for e in store.iter_entries(repo)]
    _, used = store.file_count(repo)
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


@kind("tree")
async def tree(request: web.Request) -> web.Response:
    repo, _ = readable_repo(request)
    store = request.app[STORE]
    commit = resolve(request, repo)
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
    page = store.list_page(repo, prefix, recursive=_flag(request.query.get("recursive")), after=after, limit=limit + 1)
    headers = {"X-Repo-Commit": commit}
    if len(page) > limit:
        page = page[:limit]
        query = {**request.query, "cursor": _encode_cursor(page[-1].path)}
        headers["Link"] = f'<{request.url.with_query(query)}>; rel="next"'
    out = _entries_json(store, page, expand)
    _xet_annotate(request, page, out)
    return web.json_response(out, headers=headers)


def _entries_json(store: Store, entries: list[Entry], expand: bool) -> list[dict]:
    commits: dict[str, dict] = {}
    out = []
    for e in entries:
        commit = None
        if expand:
            commit = commits.get(e.last_commit) or commits.setdefault(e.last_commit, store.commit_info(e.last_commit))
        out.append(e.to_json(commit))
    return out


@kind("paths_info")
async def paths_info(request: web.Request) -> web.Response:
    repo, _ = readable_repo(request)
    store = request.app[STORE]
    commit = resolve(request, repo)
    if request.content_type == "application/json":
        body = await _json(request)
        paths, expand = list(body.get("paths") or []), bool(body.get("expand"))
    else:
        form = await request.post()
        paths, expand = [str(p) for p in form.getall("paths", [])], _flag(str(form.get("expand", "")))
    if len(paths) > MAX_PATHS_INFO:
        raise HubError(f"Too many paths: {len(paths)} (max {MAX_PATHS_INFO})", status=413)
    found = [e for e in (store.entry(repo, p) for p in dict.fromkeys(paths)) if e is not None]
    out = _entries_json(store, found, expand)
    _xet_annotate(request, found, out)
    return web.json_response(out, headers={"X-Repo-Commit": commit})


def _xet_annotate(request: web.Request, entries: list[Entry], out: list[dict]) -> None:
    if request.app[OPTIONS].xet:
        from hfcheck.sim.emulator.xet import routes

        routes.annotate(request, entries, out)


@kind("preupload")
async def preupload(request: web.Request) -> web.Response:
    repo = writable_repo(request)
    commit = resolve(request, repo)
    body = await _json(request)
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


@kind("lfs_batch")
async def lfs_batch(request: web.Request) -> web.Response:
    body = await _json(request)
    operation = body.get("operation")
    if operation == "upload":
        repo = writable_repo(request, git_name(request))
    else:
        repo, _ = readable_repo(request, git_name(request), download=True)
    objects = [_batch_object(request, repo, o, operation) for o in body.get("objects") or []]
    return web.json_response(
        {"transfer": "basic", "objects": objects, "hash_algo": "sha256"}, content_type="application/vnd.git-lfs+json"
    )


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
            "verify": {"href": f"{base}/datasets/{repo.repo_id}.git/info/lfs/objects/verify"},
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
    writable_repo(request, git_name(request))
    body = await _json(request)
    if not request.app[STORE].has_blob(str(body.get("oid")), body.get("size")):
        raise HubError("Object not found or wrong size", status=404)
    return web.json_response({"success": True})


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


# -- downloads -------------------------------------------------------------------------------
@kind("resolve")
async def resolve_file(request: web.Request) -> web.StreamResponse:
    repo, _ = readable_repo(request, download=True)
    store = request.app[STORE]
    commit_oid = resolve(request, repo)
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
    span = _parse_range(request.headers.get("Range"), size)
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


def _parse_range(value: str | None, size: int) -> tuple[int, int] | str | None:
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


# -- control endpoint ------------------------------------------------------------------------
async def ctl_health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def ctl_faults(request: web.Request) -> web.Response:
    f = request.app[FAULTS]
    if request.method == "POST":
        return web.json_response(f.update_faults(await _json(request)))
    return web.json_response(f.fault_settings())


async def ctl_ratelimits(request: web.Request) -> web.Response:
    f = request.app[FAULTS]
    if request.method == "POST":
        return web.json_response(f.update_quotas(await _json(request)))
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
        body = await _json(request)
        name, token = body.get("name"), body.get("token")
        if not isinstance(name, str) or not REPO_NAME_RE.match(name) or not isinstance(token, str) or not token:
            raise HubError('expected {"name": NAME, "token": TOKEN}', status=400)
        store.add_user(name, token)
    return web.json_response({"users": store.users()})


async def ctl_repo(request: web.Request) -> web.Response:
    store = request.app[STORE]
    repo_id = f"{request.match_info['ns']}/{request.match_info['name']}"
    if request.method == "POST":
        body = await _json(request)
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


def build_app(store: Store, options: ServerOptions | None = None) -> web.Application:
    """The emulator as an aiohttp Application (no socket yet)."""
    options = options or ServerOptions()
    # Form fields are capped by us (413 past MAX_PATHS_INFO paths, with the Hub's error shape).
    app = web.Application(middlewares=[hub_middleware], client_max_size=8 * 1024**3, client_max_fields=100_000)
    app[STORE] = store
    app[OPTIONS] = options
    app[FAULTS] = Faults(options.faults, window_s=options.window_s, quotas=options.quotas)
    for name, token in options.users.items():
        store.add_user(name, token)
    app.on_response_prepare.append(_add_extra_headers)
    _add_routes(app.router)
    if options.xet:
        from hfcheck.sim.emulator.xet import routes

        routes.install(app, store)
    return app


def _add_routes(r: web.UrlDispatcher) -> None:
    api = "/api/datasets/{ns}/{name}"
    r.add_get("/api/whoami-v2", whoami)
    r.add_post("/api/repos/create", create_repo)
    r.add_delete("/api/repos/delete", delete_repo)
    r.add_post("/api/validate-yaml", validate_yaml)
    r.add_get(api, repo_info)
    r.add_get(api + "/revision/{rev}", repo_info)
    r.add_get(api + "/tree/{rev}", tree)
    r.add_get(api + "/tree/{rev}/{path:.+}", tree)
    r.add_post(api + "/paths-info/{rev}", paths_info)
    r.add_post(api + "/preupload/{rev}", preupload)
    r.add_post(api + "/commit/{rev}", commit)
    r.add_post("/datasets/{ns}/{namegit}/info/lfs/objects/batch", lfs_batch)
    r.add_post("/datasets/{ns}/{namegit}/info/lfs/objects/verify", lfs_verify)
    r.add_put("/lfs-upload/{oid}", lfs_upload)
    r.add_get("/datasets/{ns}/{name}/resolve/{rev}/{path:.+}", resolve_file)
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


# -- helpers ---------------------------------------------------------------------------------
async def _json(request: web.Request) -> dict:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise HubError("request body is not valid JSON", status=400) from None
    if not isinstance(body, dict):
        raise HubError("expected a JSON object", status=400)
    return body


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


__all__ = ["ServerOptions", "build_app", "start_server"]
