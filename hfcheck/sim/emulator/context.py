"""What every route handler of the emulator shares, apart from the app that routes to them.

The app's keys (store, faults, options, the reader thread), the Hub's error with its headers, the endpoint-kind
tag the middleware reads, who is calling and which repo they may read or write, and the JSON
body. The Hub routes (`routes_*.py`) and the Xet routes (`xet/routes.py`) import it; `server.py`
assembles them into the app.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable, TypeVar

from aiohttp import web

from hfcheck.sim.emulator.faults import Faults
from hfcheck.sim.emulator.store import Repo, Store, StoreError

if TYPE_CHECKING:
    from hfcheck.sim.emulator.server import ServerOptions

# A namespace or repo name as the Hub takes them (the suite's users include `__DUMMY_HUB_USER__`).
REPO_NAME_RE = re.compile(r"^(?!.*(--|\.\.))[A-Za-z0-9_][A-Za-z0-9_.-]{0,95}\Z")
ADMIN_NAME = "admin"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


STORE = web.AppKey("store", Store)
FAULTS = web.AppKey("faults", Faults)
OPTIONS: web.AppKey[ServerOptions] = web.AppKey("options")  # typed here: server.py imports this module
EXTRA_HEADERS = web.RequestKey("extra_headers", dict)
READER = web.AppKey("reader", ThreadPoolExecutor)

T = TypeVar("T")


async def in_reader(request: web.Request, read: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a store read in the app's reader thread, so that the event loop goes on serving the
    other requests meanwhile (SQLite lets go of the GIL), as the Hub serves listings side by
    side: a tree page is ~2.5 ms of SQLite, and ten listings at once waited ~25 ms a round for
    each other. One thread, so the emulator takes at most about one more core."""
    return await asyncio.get_running_loop().run_in_executor(
        request.app[READER], functools.partial(read, *args, **kwargs)
    )


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


# -- auth ------------------------------------------------------------------------------------
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
    user = request.app[STORE].user_for_token(token)
    if user is None:  # as the Hub: a token it does not know is refused on every route, public repos too
        raise HubError("Invalid credentials in Authorization header", status=401)
    return Caller(user, False, True)


# The URL's `{type}` (models / datasets / spaces); routes without one (a model's resolve) are models'.
URL_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
API_REPO = "/api/{type:models|datasets}/{ns}/{name}"  # the API's repo routes (models and datasets)


def url_repo_type(request: web.Request) -> str:
    return URL_TYPES[request.match_info.get("type", "models")]


def url_prefix(repo: Repo) -> str:
    """The path prefix of a repo's pages and git URLs: none for a model, `datasets/`, `spaces/`."""
    return "" if repo.type == "model" else f"{repo.type}s/"


def repo_not_found(c: Caller, repo_id: str) -> HubError:
    status = 404 if c.sent_token else 401
    # the Hub's text (the client prints it after its own "Repository Not Found for url: ...")
    return HubError("Repository not found", status=status, code="RepoNotFound")


def readable_repo(request: web.Request, name: str | None = None, *, download: bool = False) -> tuple[Repo, Caller]:
    """The repo of the URL if the caller may see it (private: owner only; gated: downloads)."""
    c = caller(request)
    repo_id = f"{request.match_info['ns']}/{name or request.match_info['name']}"
    repo = request.app[STORE].get_repo(repo_id, url_repo_type(request))
    if repo is None or (repo.private and not c.owns(repo)):
        raise repo_not_found(c, repo_id)
    if download and repo.gated and not c.owns(repo):
        status = 403 if c.sent_token else 401
        raise HubError(
            f"Access to {repo.type} {repo.repo_id} is restricted and you are not in the authorized list. "
            f"Visit {base_url(request)}/{url_prefix(repo)}{repo.repo_id} to ask for access.",
            status=status,
            code="GatedRepo",
        )
    return repo, c


def require_user(c: Caller) -> str:
    """The caller's user name; 401 when no token of a known user was sent."""
    if c.user is None:
        raise HubError("Invalid credentials in Authorization header", status=401)
    return c.user


def writable_repo(request: web.Request, name: str | None = None) -> Repo:
    """The URL's repo if the caller may write it: its owner, or anyone who may read it when the
    request opens a pull request (`create_pr=1`), as on the Hub."""
    repo, c = readable_repo(request, name)
    require_user(c)
    if not c.owns(repo) and request.query.get("create_pr") not in ("1", "true"):
        raise HubError(f"You don't have the rights to write to {repo.repo_id}", status=403)
    return repo


def resolve(request: web.Request, repo: Repo) -> Repo:
    """The repo at the URL's revision (`head` is the commit served): see `Store.at_revision`."""
    return request.app[STORE].at_revision(repo, request.match_info["rev"])


def base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def git_name(request: web.Request) -> str:
    name = request.match_info["namegit"]
    if not name.endswith(".git"):
        raise HubError("Not Found", status=404)
    return name[:-4]


# -- request bodies --------------------------------------------------------------------------
async def json_body(request: web.Request) -> dict:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise HubError("request body is not valid JSON", status=400) from None
    if not isinstance(body, dict):
        raise HubError("expected a JSON object", status=400)
    return body
