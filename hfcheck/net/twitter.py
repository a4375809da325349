"""Recover a tweet's media list with twscrape (for tweets backed up with an empty `media_urls`).

Why `tweet_details_raw` and not `tweet_details`: twscrape returns None for a deleted, protected,
tombstoned or missing tweet alike, and repair must tell them apart (a deleted tweet's media are
gone for good; a protected one may come back with another account). So we read `__typename` and
`errors` of the raw GraphQL answer ourselves, then let `parse_tweet` (with an *int* id: a str
never matches) turn the tweet into media.

twscrape waits forever by default when no account is free. Here the pool raises
(`raise_when_no_account=True`) after a finite `wait_timeout`, every call is wrapped in
`asyncio.timeout`, and "no usable account" / "twscrape outdated" stop the run with one
`IncompleteError` line instead of a hang.

Tests and the demo run twscrape's real code with no network through an injected httpx
transport (`TweetSource(..., transport=...)`, `FixtureTransport`). The hook is a ContextVar read
by a one-time wrapper around twscrape's client factory: it only changes the calls made inside a
`lookup` of a source that was given a transport; everything else in the process is untouched.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Mapping

import httpx

from hfcheck.errors import IncompleteError
from hfcheck.net.download import original_photo_url

# twscrape counts telemetry events at import-time call sites; it only sends them from its own
# CLI, but there is no reason to even count them for hfcheck.
os.environ.setdefault("TWS_TELEMETRY", "0")

import twscrape.account  # noqa: E402
import twscrape.queue_client  # noqa: E402
from twscrape import API, AccountsPool, GqlFeaturesOutdatedError, NoAccountError  # noqa: E402
from twscrape.http import HttpxClient  # noqa: E402
from twscrape.logger import set_log_level  # noqa: E402
from twscrape.models import Tweet, parse_tweet  # noqa: E402
from twscrape.utils import to_old_rep  # noqa: E402

set_log_level("WARNING")  # twscrape logs every migration and cookie update at INFO

Status = Literal["ok", "deleted", "protected", "unavailable", "not_found", "error"]
MediaKind = Literal["photo", "video", "gif"]

QUEUE = "TweetDetail"  # twscrape's lock queue for tweet_details_raw
TWEET_ID_RE = re.compile(r"^[0-9]{1,20}$")
ADD_ACCOUNT_HINT = (
    "add one with: twscrape --db {db} add_cookie NAME  (paste 'auth_token=...; ct0=...' "
    "from a logged-in browser on stdin)"
)

# TweetUnavailable.reason values (X's GraphQL enum) that mean the tweet is gone for good / private.
_DELETED_REASONS = frozenset({"Deleted", "BounceDeleted", "Missing", "Deactivated"})
_PROTECTED_REASONS = frozenset({"Protected", "Limited"})
# Legacy error codes seen in a TweetDetail `errors` list without data.
_NOT_FOUND_CODES = frozenset({144, 8})
_PROTECTED_CODES = frozenset({179})
_UNAVAILABLE_CODES = frozenset({63, 421, 422})


@dataclass(frozen=True)
class MediaItem:
    """One medium in media order. `url` is "" when X offers no downloadable file for it
    (e.g. a video with only an HLS playlist): the slot is kept so that indices stay aligned
    with the archive's `{tweet_id}_{index}` names; callers skip and report it."""

    kind: MediaKind
    url: str


@dataclass
class MediaLookup:
    """What a lookup found: a status, the media (only for "ok") and a human-readable reason."""

    tweet_id: str
    status: Status
    media: list[MediaItem] = field(default_factory=list)
    reason: str = ""


# --- transport hook ------------------------------------------------------------------------

_TRANSPORT: contextvars.ContextVar[httpx.AsyncBaseTransport | None] = contextvars.ContextVar(
    "hfcheck_twscrape_transport", default=None
)
_hooks_installed = False


class _StubClIdGen:
    """Stands in for twscrape's x-client-transaction-id generator when a transport is injected.

    The real one fetches x.com pages and JS to derive keys: no such pages exist offline, and
    the id is only a header value X checks, which our transport does not."""

    def calc(self, method: str, path: str) -> str:
        return "hfcheck-offline-clid"


class _TransportHttpxClient(HttpxClient):
    """twscrape's httpx client, but sending through the given transport (no proxy, no retries:
    the transport is the whole network)."""

    _client: httpx.AsyncClient  # set by twscrape's constructor (which carries no annotations)

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        *,
        headers: dict[str, str] | None = None,
        cookies: dict[str, str] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(headers=headers, cookies=cookies, seed=seed)
        base = self._client  # never used for I/O: it holds no connection yet
        self._client = httpx.AsyncClient(
            transport=transport, follow_redirects=True, headers=base.headers, cookies=cookies or {}
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
        raise IncompleteError(f"cookies for twscrape account {name!r} lack auth_token or ct0") from None


# --- classification of a raw TweetDetail answer --------------------------------------------


def _walk(obj: Any) -> Any:
    """Every dict inside a JSON value, depth first."""
    stack = [obj]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            yield cur
            stack.extend(reversed(list(cur.values())))
        elif isinstance(cur, list):
            stack.extend(reversed(cur))


def _focal_result(raw: Any, tweet_id: str) -> dict | None:
    """The `tweet_results.result` of the entry for this tweet (`tweet-ID`), or of any Tweet
    whose rest_id is the id. Tombstones carry no rest_id, hence the entryId route first."""
    wanted = f"tweet-{tweet_id}"
    for obj in _walk(raw):
        entry_id = obj.get("entryId")
        if not isinstance(entry_id, str) or not (entry_id == wanted or entry_id.endswith("-" + wanted)):
            continue
        for inner in _walk(obj):
            results = inner.get("tweet_results")
            if isinstance(results, dict) and isinstance(results.get("result"), dict):
                return results["result"]
    for obj in _walk(raw):
        if obj.get("__typename") == "Tweet" and str(obj.get("rest_id")) == tweet_id:
            return obj
    return None


def _tombstone_text(result: dict) -> str:
    text = ((result.get("tombstone") or {}).get("text") or {}).get("text")
    return text.strip() if isinstance(text, str) and text.strip() else "tweet is tombstoned"


def _classify_tombstone(tweet_id: str, result: dict) -> MediaLookup:
    """A TweetTombstone: X's text says why. Deleted unless the text says otherwise."""
    text = _tombstone_text(result)
    low = text.lower()
    if "limits who can view" in low or "protected" in low:
        status: Status = "protected"
    elif "deleted" in low or "no longer exists" in low:
        status = "deleted"
    elif "suspended" in low or "age-restricted" in low or "unavailable" in low:
        status = "unavailable"
    else:
        status = "deleted"
    return MediaLookup(tweet_id, status, reason=text)


def _classify_unavailable(tweet_id: str, result: dict) -> MediaLookup:
    reason = str(result.get("reason") or result.get("unavailable_reason") or "Unavailable")
    status: Status = "unavailable"
    if reason in _PROTECTED_REASONS:
        status = "protected"
    elif reason in _DELETED_REASONS:
        status = "deleted"
    message = result.get("unavailable_message")
    text = message.get("text") if isinstance(message, dict) else None
    return MediaLookup(tweet_id, status, reason=f"TweetUnavailable: {reason}" + (f" ({text})" if text else ""))


def _classify_errors(tweet_id: str, errors: list[Any]) -> MediaLookup:
    """No entry for the tweet: the `errors` list decides (code 144 = "No status found")."""
    codes = {e.get("code") for e in errors if isinstance(e, dict)}
    text = "; ".join(f"({e.get('code', '?')}) {e.get('message', '')}" for e in errors if isinstance(e, dict))
    if codes & _NOT_FOUND_CODES or "no status found" in text.lower():
        return MediaLookup(tweet_id, "not_found", reason=text)
    if codes & _PROTECTED_CODES:
        return MediaLookup(tweet_id, "protected", reason=text)
    if codes & _UNAVAILABLE_CODES:
        return MediaLookup(tweet_id, "unavailable", reason=text)
    return MediaLookup(tweet_id, "error", reason=f"X answered with errors: {text}")


def classify_raw(raw: Any, tweet_id: str) -> MediaLookup:
    """Turn one raw TweetDetail JSON answer into a MediaLookup (pure: used by tests directly)."""
    result = _focal_result(raw, tweet_id)
    if result is not None and result.get("__typename") == "TweetWithVisibilityResults":
        result = result.get("tweet") or result
    typename = result.get("__typename") if result else None
    if result is not None and typename == "TweetTombstone":
        return _classify_tombstone(tweet_id, result)
    if result is not None and typename == "TweetUnavailable":
        return _classify_unavailable(tweet_id, result)
    if result is None or typename not in (None, "Tweet"):
        errors = raw.get("errors") if isinstance(raw, dict) else None
        if isinstance(errors, list) and errors:
            return _classify_errors(tweet_id, errors)
        what = f"an entry of type {typename}" if typename else "no entry for the tweet"
        return MediaLookup(tweet_id, "error", reason=f"X answered with {what}")
    return _media_lookup(raw, tweet_id)


# --- media -------------------------------------------------------------------------------


def _raw_media(raw: Any, tweet_id: int) -> list[dict]:
    """The tweet's `extended_entities.media` in X's order (twscrape groups by kind, which loses
    the order of a mixed photo/video tweet, and drops media it cannot parse)."""
    try:
        tweets = to_old_rep(raw)["tweets"]
    except Exception:
        return []
    obj = tweets.get(str(tweet_id)) or {}
    media = (obj.get("extended_entities") or {}).get("media") or []
    return [m for m in media if isinstance(m, dict)]


def _parsed_urls(tweet: Tweet) -> dict[str, MediaItem]:
    """twscrape's parsed media keyed by `media_url_https` (photo url / video thumbnail)."""
    out: dict[str, MediaItem] = {}
    for photo in tweet.media.photos:
        out[photo.url] = MediaItem("photo", original_photo_url(photo.url))
    for video in tweet.media.videos:
        best = max(video.variants, key=lambda v: v.bitrate or 0, default=None)
        out[video.thumbnailUrl] = MediaItem("video", best.url if best else "")
    for gif in tweet.media.animated:
        out[gif.thumbnailUrl] = MediaItem("gif", gif.videoUrl or "")
    return out


_RAW_KIND: dict[str, MediaKind] = {"photo": "photo", "video": "video", "animated_gif": "gif"}


def _media_of(raw: Any, tweet: Tweet) -> list[MediaItem]:
    """The tweet's media in X's order, each from twscrape's parse; a slot twscrape dropped
    keeps its place with an empty url."""
    parsed = _parsed_urls(tweet)
    ordered = _raw_media(raw, tweet.id)
    if not ordered:
        return list(parsed.values())
    items: list[MediaItem] = []
    for m in ordered:
        key = m.get("media_url_https", "")
        items.append(parsed.get(key) or MediaItem(_RAW_KIND.get(str(m.get("type")), "photo"), ""))
    return items


def _media_lookup(raw: Any, tweet_id: str) -> MediaLookup:
    tweet = parse_tweet(raw, int(tweet_id))  # int: parse_tweet compares ids as ints
    if tweet is None:
        return MediaLookup(tweet_id, "error", reason="twscrape could not parse the tweet (see its log)")
    media = _media_of(raw, tweet)
    reason = ""
    if not media and tweet.retweetedTweet is not None:
        media = _media_of(raw, tweet.retweetedTweet)
        reason = f"media of retweeted tweet {tweet.retweetedTweet.id_str}"
    missing = [str(i) for i, m in enumerate(media) if not m.url]
    if missing:
        reason = "; ".join(filter(None, [reason, f"no downloadable file for media {', '.join(missing)}"]))
    if not media:
        reason = reason or "the tweet has no media"
    return MediaLookup(tweet_id, "ok", media, reason)


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
        self.transport = transport
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
        if transport is not None:
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
                raise IncompleteError(
                    "X rejected twscrape's GraphQL features (GqlFeaturesOutdated): upgrade twscrape"
                ) from None
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


# --- canned answers ------------------------------------------------------------------------


@dataclass(frozen=True)
class FixtureReply:
    """A canned answer with a status and headers (rate limits, server errors)."""

    status: int = 200
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


NOT_FOUND_ANSWER = {
    "data": {},
    "errors": [{"message": "_Missing: No status found with that ID.", "code": 144, "kind": "NonFatal"}],
}


class FixtureTransport(httpx.MockTransport):
    """Answers TweetDetail GraphQL requests from canned JSON keyed by tweet id.

    The id is read from the `variables` query parameter (`focalTweetId`). Unknown ids get X's
    own "No status found" answer (200 + error 144); any other request gets a 404. `requests`
    records the ids asked for, in order."""

    def __init__(self, responses: Mapping[str, Any | FixtureReply | Callable[[], FixtureReply]]) -> None:
        self.responses = dict(responses)
        self.requests: list[str] = []
        super().__init__(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/TweetDetail"):
            return httpx.Response(404, json={"errors": [{"message": "not served", "code": 34}]})
        try:
            tweet_id = str(json.loads(request.url.params.get("variables", "{}"))["focalTweetId"])
        except (ValueError, KeyError, TypeError):
            return httpx.Response(400, json={"errors": [{"message": "bad variables", "code": 214}]})
        self.requests.append(tweet_id)
        reply = self.responses.get(tweet_id, NOT_FOUND_ANSWER)
        if callable(reply):
            reply = reply()
        if not isinstance(reply, FixtureReply):
            reply = FixtureReply(json=reply)
        return httpx.Response(reply.status, json=reply.json, headers=dict(reply.headers))
