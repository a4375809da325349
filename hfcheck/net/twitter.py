"""Recover a tweet's media list with twscrape (for tweets backed up with an empty `media_urls`).

The twscrape plumbing: the account pool, the lookup and the offline transport. `TweetSource`
asks with `tweet_details_raw`, not `tweet_details`, and leaves the answer to
`net/x_answers.py` (twscrape's parsed tweet cannot tell deleted, protected and missing apart).

twscrape waits forever by default when no account is free. Here the pool raises
(`raise_when_no_account=True`) after a finite `wait_timeout`, every call is wrapped in
`asyncio.timeout`, and "no usable account" / "twscrape outdated" stop the run with one
`IncompleteError` line instead of a hang.

Tests and the demo run twscrape's real code with no network through an injected httpx
transport: `TweetSource(..., transport=...)`, or for a whole process `stand_in_for_x` (how the
emulator's canned answers, hfcheck/sim/x_canned.py, reach a `hfcheck repair` child process; no
setting leads there). The hook is a ContextVar read by a one-time wrapper around twscrape's
client factory: it only changes the calls made inside a `lookup` of a source that was given a
transport; everything else in the process is untouched.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from pathlib import Path
from typing import Any

import httpx

from hfcheck.errors import IncompleteError
from hfcheck.model.paths import TWEET_ID_RE
from hfcheck.net.x_answers import MediaLookup, classify_raw, twscrape_telemetry_off
from hfcheck.report.catalog import msg

twscrape_telemetry_off()

import twscrape.account  # noqa: E402
import twscrape.queue_client  # noqa: E402
from twscrape import API, AccountsPool, GqlFeaturesOutdatedError, NoAccountError  # noqa: E402
from twscrape.http import HttpxClient, _resolve_browser  # noqa: E402
from twscrape.logger import set_log_level  # noqa: E402

set_log_level("WARNING")  # twscrape logs every migration and cookie update at INFO

QUEUE = "TweetDetail"  # twscrape's lock queue for tweet_details_raw
ADD_ACCOUNT_HINT = (
    "add one with: twscrape --db {db} add_cookie NAME  (paste 'auth_token=...; ct0=...' "
    "from a logged-in browser on stdin)"
)


# --- transport hook ------------------------------------------------------------------------

_TRANSPORT: contextvars.ContextVar[httpx.AsyncBaseTransport | None] = contextvars.ContextVar(
    "hfcheck_twscrape_transport", default=None
)
_hooks_installed = False
_stand_in: httpx.AsyncBaseTransport | None = None


def stand_in_for_x(transport: httpx.AsyncBaseTransport) -> None:
    """Send the lookups of every `TweetSource` made later in this process (without a transport
    of its own) through `transport` instead of X: the demo's and the tests' canned answers."""
    global _stand_in
    _stand_in = transport


class _StubClIdGen:
    """Stands in for twscrape's x-client-transaction-id generator when a transport is injected.

    The real one fetches x.com pages and JS to derive keys: no such pages exist offline, and
    the id is only a header value X checks, which our transport does not."""

    def calc(self, method: str, path: str) -> str:
        return "hfcheck-offline-clid"


class _TransportHttpxClient(HttpxClient):
    """twscrape's httpx client, but sending through the given transport (no proxy, no retries:
    the transport is the whole network).

    What `HttpxClient.__init__` does (its user agent per account seed, its headers and cookies),
    without building its TLS transport first: that loaded the CA bundle (~60 ms) for a client
    that was thrown away at once, once per account and run."""

    _client: httpx.AsyncClient
    _httpx: Any

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        *,
        headers: dict[str, str] | None = None,
        cookies: dict[str, str] | None = None,
        seed: int | None = None,
    ) -> None:
        resolved = dict(headers or {})
        resolved["user-agent"], _ = _resolve_browser(resolved.get("user-agent"), seed=seed)
        self._httpx = httpx
        self._client = httpx.AsyncClient(
            transport=transport, follow_redirects=True, headers=resolved, cookies=cookies or {}
        )


def _install_hooks() -> None:
    """Wrap twscrape's client factory and XClIdGenStore.get once; both defer to the originals
    unless the current context carries a transport (pinned to twscrape 0.20.x internals)."""
    global _hooks_installed
    if _hooks_installed:
        return
    original_factory = twscrape.account._make_http_client
    original_get = twscrape.queue_client.XClIdGenStore.get

    def make_http_client(backend: str | None = None, **kwargs: Any) -> Any:
        transport = _TRANSPORT.get()
        if transport is None:
            return original_factory(backend, **kwargs)
        return _TransportHttpxClient(
            transport, headers=kwargs.get("headers"), cookies=kwargs.get("cookies"), seed=kwargs.get("seed")
        )

    async def get(cls: type, username: str, proxy: str | None = None, cookies: Any = None, fresh: bool = False) -> Any:
        if _TRANSPORT.get() is not None:
            return _StubClIdGen()
        return await original_get(username, proxy=proxy, cookies=cookies, fresh=fresh)

    twscrape.account._make_http_client = make_http_client
    twscrape.queue_client.XClIdGenStore.get = classmethod(get)
    _hooks_installed = True


# --- accounts ------------------------------------------------------------------------------


async def add_cookie_account(accounts_db: Path | str, name: str, cookies: str) -> None:
    """Register (or refresh) a twscrape account from browser cookies (`auth_token`, `ct0`).

    The cookie string is a secret: it is passed straight to twscrape and never logged here."""
    pool = AccountsPool(str(accounts_db))
    try:
        await pool.add_account_cookies(name, cookies)
    except ValueError:
        raise IncompleteError(msg("err_twscrape_cookies", name=name)) from None


# --- the source ----------------------------------------------------------------------------


class TweetSource:
    """Looks tweets up through a twscrape account pool, never waiting forever.

    Concurrency is capped at the number of active accounts (more would only queue inside
    twscrape, holding account locks for up to 15 minutes if cancelled)."""

    def __init__(
        self,
        accounts_db: Path | str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        wait_timeout: float = 30.0,
        wait_interval: float = 1.0,
        call_timeout: float = 60.0,
        max_concurrency: int | None = None,
    ) -> None:
        self.accounts_db = Path(accounts_db)
        self.transport = transport if transport is not None else _stand_in
        self.call_timeout = call_timeout
        self.max_concurrency = max_concurrency
        self.api = API(
            str(self.accounts_db),
            raise_when_no_account=True,
            wait_timeout=wait_timeout,
            wait_interval=wait_interval,
        )
        self._sem: asyncio.Semaphore | None = None
        self._init_lock = asyncio.Lock()
        if self.transport is not None:
            _install_hooks()

    async def active_accounts(self) -> int:
        """How many accounts twscrape may use (active = has a session and is not banned)."""
        if not self.accounts_db.is_file():
            return 0
        return sum(1 for acc in await self.api.pool.get_all() if acc.active)

    async def _semaphore(self) -> asyncio.Semaphore:
        async with self._init_lock:
            if self._sem is None:
                active = await self.active_accounts()
                if active == 0:
                    raise self._no_active_error()
                limit = min(active, self.max_concurrency or active)
                self._sem = asyncio.Semaphore(limit)
            return self._sem

    def _no_active_error(self) -> IncompleteError:
        return IncompleteError(
            f"no active twscrape account in {self.accounts_db}: " + ADD_ACCOUNT_HINT.format(db=self.accounts_db)
        )

    async def _no_account_error(self) -> IncompleteError:
        """NoAccountError means either none is active or all are locked (rate limit)."""
        when = await self.api.pool.next_available_at(QUEUE) if self.accounts_db.is_file() else None
        if when is None:
            return self._no_active_error()
        return IncompleteError(
            f"every twscrape account is rate-limited for {QUEUE} (next one free at {when}); "
            "run again later or add accounts"
        )

    async def lookup(self, tweet_id: str) -> MediaLookup:
        """Fetch one tweet and say what became of it and its media.

        Raises IncompleteError when no account can be used or twscrape is outdated: no later
        lookup could succeed either, so the run must stop (and say why)."""
        tweet_id = str(tweet_id).strip()
        if not TWEET_ID_RE.match(tweet_id):
            return MediaLookup(tweet_id, "error", reason="not a tweet id (decimal digits)")
        sem = await self._semaphore()
        async with sem:
            token = _TRANSPORT.set(self.transport)
            try:
                async with asyncio.timeout(self.call_timeout):  # same task: a cancelled run leaves no orphan
                    rep = await self.api.tweet_details_raw(int(tweet_id))
            except NoAccountError:
                raise await self._no_account_error() from None
            except GqlFeaturesOutdatedError:
                raise IncompleteError(msg("err_twscrape_outdated")) from None
            except asyncio.TimeoutError:
                return MediaLookup(tweet_id, "error", reason=f"no answer within {self.call_timeout:g} s")
            finally:
                _TRANSPORT.reset(token)
        return self._classify_response(rep, tweet_id)

    @staticmethod
    def _classify_response(rep: Any, tweet_id: str) -> MediaLookup:
        if rep is None:
            return MediaLookup(
                tweet_id,
                "error",
                reason="twscrape got no usable answer (HTML/Cloudflare block, repeated 404s or a "
                "transaction-id failure; see its log)",
            )
        try:
            raw = rep.json()
        except (ValueError, json.JSONDecodeError):
            return MediaLookup(tweet_id, "error", reason=f"HTTP {rep.status_code}: answer is not JSON")
        return classify_raw(raw, tweet_id)
