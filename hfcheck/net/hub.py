"""The Hub: one object per run for every call hfcheck makes to the Hub, passed explicitly.

A `Hub` owns what every Hub call shares: the aiohttp session (resolve HEADs, repo/revision
status, tree listings, the resolve GETs of restore and deep, the Xet probe), the one `HfApi` of
the official client (paths-info, preupload/commit, deletions: run in threads, each bounded by a
timeout), the run's rate-limit buckets (`ratelimit.Bucket`: api, resolvers, commits; every
request of a token counts in the same windows, whichever client sends it), the origin rule and
the token scrubber. Every call goes through the one retry policy (`retry.RetryPolicy`) with one
429 rule and one answer mapping (`outcome.classify`); a write whose answer was lost gets its
"did it land?" look-up as the policy's recovery step. The token goes to the configured
endpoint's origin only (`token_allowed`): never to a redirect target or another host or port,
and it never appears in an exception message.

What a place that holds backups is to the rest of hfcheck is `destination.Destination`
(`Hub.destination`); the dataset repo is built on this object.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import aiohttp
import msgspec
from yarl import URL

from hfcheck import __version__
from hfcheck.config import Config
from hfcheck.errors import GaveUp, HubAnswered, RateLimited, Refused, TransientError, Unverifiable
from hfcheck.model.paths import BackupURL, bucket_name, is_bucket
from hfcheck.net.outcome import HubOutcome, Mapped, classify, classify_exception, redact
from hfcheck.net.ratelimit import Bucket, hub_buckets
from hfcheck.net.retry import RetryPolicy

if TYPE_CHECKING:
    from huggingface_hub import HfApi

    from hfcheck.net.destination import Destinations

T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    """A Hub answer reduced to what classification needs."""

    status: int
    error_code: str | None
    headers: Mapping[str, str]
    detail: str = ""


class LfsInfo(msgspec.Struct, gc=False):
    """An LFS file's pointer, as a tree entry gives it: the sha256 of the content and its size."""

    oid: str
    size: int


class TreeEntry(msgspec.Struct, gc=False):
    """One entry of a tree page: the fields hfcheck reads (the Hub sends more; they are skipped)."""

    type: str  # "file" | "directory"
    path: str
    size: int | None = None
    lfs: LfsInfo | None = None
    xet_hash: str | None = msgspec.field(name="xetHash", default=None)  # a Xet file's (every bucket file)


# Decoded into typed entries, not dicts: a 1,000-entry page (~250 KB) in 0.4 ms against 0.9 ms
# for orjson's dicts, and a shape the Hub did not promise is an error here, not a KeyError later.
_TREE_PAGE = msgspec.json.Decoder(list[TreeEntry])

Origin = tuple[str, str, int | None]


def origin_of(url: str | URL) -> Origin | None:
    """(scheme, host, port) as a browser compares origins; the port is the scheme's default
    when absent. None for a URL without a host or with an unusable port."""
    try:
        u = url if isinstance(url, URL) else URL(url)
        host, port = u.host, u.port
    except (ValueError, TypeError):
        return None
    if not host:
        return None
    return (u.scheme.lower(), host.lower(), port)


def token_allowed(url: str | URL, endpoint: str | URL) -> bool:
    """The token rule: only a URL of the endpoint's origin (scheme, host and port all equal)
    may carry the token. A recorded URL could name any host; a redirect can point anywhere."""
    mine = origin_of(endpoint)
    return mine is not None and origin_of(url) == mine


@dataclass
class CallCounts:
    """Retries and 429 waits of some Hub calls (a caller's own share of the run's totals)."""

    retries: int = 0
    rate_limited: int = 0


class Hub:
    """The run's Hub: `async with Hub(cfg) as hub:` and hand `hub` to every part that calls it.

    `timeout` bounds a whole API request; a download (`send` with `download_timeout`) is
    bounded in all and between two reads instead; `call_timeout` bounds a huggingface_hub call
    run in a thread (a commit passes its own, longer one).
    """

    def __init__(
        self,
        cfg: Config,
        *,
        concurrency: int | None = None,
        policy: RetryPolicy | None = None,
        timeout: float = 30.0,
        download_timeout: float = 600.0,
        read_timeout: float = 60.0,
        call_timeout: float = 300.0,
        buckets: dict[str, Bucket] | None = None,
    ) -> None:
        self.cfg = cfg
        self.endpoint = cfg.endpoint.rstrip("/")
        self.policy = policy or RetryPolicy()
        self.buckets = buckets or hub_buckets(cfg.limits)
        self.call_timeout = call_timeout
        self._concurrency = concurrency or cfg.concurrency
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 10.0))
        self.download_timeout = aiohttp.ClientTimeout(total=download_timeout, sock_connect=10.0, sock_read=read_timeout)
        self._session: aiohttp.ClientSession | None = None
        self._api: HfApi | None = None
        self._destination: Destinations | None = None
        self._abandoned: set[asyncio.Future[Any]] = set()  # calls past their timeout, still running
        self.requests = 0
        self.retries = 0
        self.rate_limited = 0

    async def __aenter__(self) -> Hub:
        n = self._concurrency
        connector = aiohttp.TCPConnector(limit=2 * n, limit_per_host=n, ttl_dns_cache=300)
        headers = {"User-Agent": f"hfcheck/{__version__}", "Accept-Encoding": "identity"}
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, headers=headers, auto_decompress=False
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- what the run shares ------------------------------------------------------------------
    @property
    def api(self) -> HfApi:
        """The run's one official client (imported on first use: it is a heavy import)."""
        if self._api is None:
            from huggingface_hub import HfApi

            self._api = HfApi(endpoint=self.endpoint, token=self.cfg.token, library_name="hfcheck")
        return self._api

    @property
    def destination(self) -> Destinations:
        """Where backups are kept, as `destination.Destination`: the configured dataset repos
        and Storage Buckets, each call to the kind its repo id names."""
        if self._destination is None:
            from hfcheck.net.destination import Destinations  # built on this object

            self._destination = Destinations(self)
        return self._destination

    def ours(self, url: str | URL) -> bool:
        """Whether `url` is of the endpoint's origin (paced, and the token may go there)."""
        return token_allowed(url, self.endpoint)

    def scrub(self, text: str) -> str:
        """A reason for people: one line, bounded, and never the token."""
        return " ".join(redact(text, [self.cfg.token]).split())[:300]

    def _auth(self, url: URL) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.cfg.token}"} if self.cfg.token and self.ours(url) else {}

    def classify(self, status: int, headers: Mapping[str, str], message: str = "") -> Mapped:
        """`outcome.classify` with this run's token state."""
        return classify(status, headers.get("X-Error-Code"), headers, has_token=bool(self.cfg.token), message=message)

    # -- the retry policy ---------------------------------------------------------------------
    async def retrying(
        self,
        bucket: str,
        attempt: Callable[[], Awaitable[T]],
        *,
        policy: RetryPolicy | None = None,
        recover: Callable[[TransientError], Awaitable[T | None]] | None = None,
        counts: CallCounts | None = None,
    ) -> T:
        """`attempt()` under the retry policy; a 429 pauses the whole bucket. `Unverifiable`
        when the policy gives up. Retries and 429s count in the run's totals and in `counts`."""
        b = self.buckets[bucket]

        async def pause(seconds: float) -> None:
            self.rate_limited += 1
            if counts is not None:
                counts.rate_limited += 1
            b.pause(seconds)  # the next acquire() of any request of this bucket waits

        def count() -> None:
            self.retries += 1
            if counts is not None:
                counts.retries += 1

        try:
            return await (policy or self.policy).run(attempt, on_rate_limited=pause, on_retry=count, recover=recover)
        except GaveUp as exc:
            raise Unverifiable(self.scrub(str(exc))) from None

    # -- the official client's calls ----------------------------------------------------------
    async def call(
        self,
        fn: Callable[[], T],
        *,
        buckets: Sequence[str] = ("api",),
        requests: int = 1,
        timeout: float | None = None,
        policy: RetryPolicy | None = None,
        recover: Callable[[TransientError], Awaitable[T | None]] | None = None,
        counts: CallCounts | None = None,
    ) -> T:
        """`fn()` (a call of `self.api`) in a thread, under the retry policy: paced by `buckets`
        (`requests` tokens of the first; a 429 pauses it), bounded by `timeout`, its errors
        mapped by `outcome.classify_exception`. A final answer raises `HubAnswered`; `Unverifiable`
        when the policy gives up. The thread of a call past its timeout cannot be stopped: it is
        kept referenced and left to finish."""
        chosen = policy or self.policy

        async def attempt() -> T:
            for i, name in enumerate(buckets):
                for _ in range(requests if i == 0 else 1):
                    await self.buckets[name].acquire()
            self.requests += 1
            fut = asyncio.ensure_future(asyncio.to_thread(fn))
            done, _ = await asyncio.wait({fut}, timeout=timeout or self.call_timeout)
            if not done:
                self._abandoned.add(fut)
                fut.add_done_callback(self._forget)
                raise TransientError(f"no answer within {timeout or self.call_timeout:.0f}s")
            try:
                return fut.result()
            except Exception as exc:  # noqa: BLE001 - mapped to the one vocabulary below
                mapped = classify_exception(
                    exc, has_token=bool(self.cfg.token), default_retry_after=chosen.default_retry_after
                )
            if mapped.outcome is HubOutcome.RATE_LIMITED:
                raise RateLimited(mapped.retry_after)
            if mapped.outcome is HubOutcome.TRANSIENT:
                raise TransientError(self.scrub(mapped.detail), mapped.status)
            raise HubAnswered(mapped.outcome, self.scrub(mapped.detail))

        return await self.retrying(buckets[0], attempt, policy=chosen, recover=recover, counts=counts)

    def _forget(self, fut: asyncio.Future[Any]) -> None:
        """An abandoned call ended: drop it and read its outcome (never "never retrieved")."""
        self._abandoned.discard(fut)
        if not fut.cancelled():
            fut.exception()

    # -- aiohttp requests ---------------------------------------------------------------------
    @asynccontextmanager
    async def send(
        self,
        method: str,
        url: URL,
        bucket: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: Any = None,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """One request, no retry, no redirect followed: paced and authorized when it goes to the
        endpoint; a 429 raises `RateLimited`, a 5xx/408/network error `TransientError`."""
        assert self._session is not None, "Hub used outside 'async with'"
        ours = self.ours(url)
        b = self.buckets[bucket] if ours else None
        if b is not None:
            await b.acquire()
        self.requests += 1
        all_headers = {**(headers or {}), **self._auth(url)}
        try:
            async with self._session.request(
                method, url, headers=all_headers, data=data, allow_redirects=False, timeout=timeout or self._timeout
            ) as resp:
                if b is not None:
                    b.observe(resp.headers)
                if resp.status >= 400:
                    mapped = self.classify(resp.status, resp.headers)
                    if mapped.outcome is HubOutcome.RATE_LIMITED:
                        raise RateLimited(mapped.retry_after)
                    if mapped.outcome is HubOutcome.TRANSIENT:
                        raise TransientError(mapped.detail, resp.status)
                yield resp
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise TransientError(_describe(exc)) from None

    async def request(
        self, method: str, url: str | URL, bucket: str, *, data: Any = None, want_body: bool = False
    ) -> tuple[Answer, bytes]:
        """Send with pacing and retries; return the first answer that is not 429/5xx."""
        target = url if isinstance(url, URL) else URL(url)

        async def attempt() -> tuple[Answer, bytes]:
            async with self.send(method, target, bucket, data=data) as resp:
                body = await resp.read() if want_body or resp.status >= 400 else b""
                headers = resp.headers
                return Answer(resp.status, headers.get("X-Error-Code"), headers, _error_message(headers, body)), body

        return await self.retrying(bucket, attempt)

    async def head(self, url: BackupURL) -> Answer:
        """HEAD a resolve URL without following redirects: 200 or 3xx means the file exists."""
        answer, _ = await self.request("HEAD", str(url), "resolvers")
        return answer

    async def access(self, repo_id: str, revision: str) -> tuple[HubOutcome, str]:
        """Can we read this repo at this revision (a bucket: at all)? One API request per repo and run."""
        if is_bucket(repo_id):
            url = f"{self.endpoint}/api/buckets/{bucket_name(repo_id)}"
        else:
            url = f"{self.endpoint}/api/datasets/{repo_id}/revision/{quote(revision, safe='')}"
        answer, _ = await self.request("GET", url, "api")
        return classify_access(answer, has_token=bool(self.cfg.token))

    async def tree(
        self, repo_id: str, revision: str, path: str = "", *, recursive: bool = True
    ) -> AsyncIterator[TreeEntry]:
        """Every entry under `path` ('' = the root), recursively unless told otherwise."""
        async for page in self.tree_pages(repo_id, revision, path, recursive=recursive):
            for entry in page:
                yield entry

    async def tree_pages(
        self, repo_id: str, revision: str, path: str = "", *, recursive: bool = True
    ) -> AsyncIterator[list[TreeEntry]]:
        """The entries under `path` ('' = the root; one level unless `recursive`), a page (1,000)
        per request, following `Link: rel="next"`. Folders of one repo can be listed concurrently.
        An answer for the whole repo (not found, no access) raises `Refused`.

        A bucket (`hf://buckets/NS/NAME`, no revision) pages by the cursor its `Link` carries,
        and matches `path` as a prefix of names: entries outside the folder are left out here."""
        where = f"/{quote(path)}" if path else ""
        url: str | None
        if is_bucket(repo_id):
            url = f"{self.endpoint}/api/buckets/{bucket_name(repo_id)}/tree{where}?recursive={str(recursive).lower()}"
        else:
            query = "recursive=true&expand=false" if recursive else "expand=false"
            url = f"{self.endpoint}/api/datasets/{repo_id}/tree/{quote(revision, safe='')}{where}?{query}"
        inside = path.strip("/") + "/" if path and is_bucket(repo_id) else ""
        while url:
            answer, body = await self.request("GET", url, "api", want_body=True)
            if answer.status != 200:
                access, why = classify_access(answer, has_token=bool(self.cfg.token))
                if access is not HubOutcome.OK:
                    raise Refused(access, why)
                raise Unverifiable(f"tree listing answered HTTP {answer.status} {answer.error_code or ''}".strip())
            try:
                page = _TREE_PAGE.decode(body)
            except msgspec.DecodeError as exc:
                raise Unverifiable(f"tree listing is not a list of entries: {exc}") from None
            yield [e for e in page if e.path.startswith(inside)] if inside else page
            url = _next_link(answer.headers)
            if url and not self.ours(URL(url)):
                raise Unverifiable("tree pagination link points to another origin")


def classify_access(answer: Answer, *, has_token: bool) -> tuple[HubOutcome, str]:
    """Repo-level meaning of an answer (from the repo API or a resolve HEAD): OK (a missing
    file is still an accessible repo), REPO_NOT_FOUND, REVISION_NOT_FOUND or NO_ACCESS."""
    mapped = classify(answer.status, answer.error_code, answer.headers, has_token=has_token, message=answer.detail)
    if mapped.outcome in (HubOutcome.OK, HubOutcome.MISSING):
        return HubOutcome.OK, ""
    if mapped.outcome in (HubOutcome.NO_ACCESS, HubOutcome.REPO_NOT_FOUND, HubOutcome.REVISION_NOT_FOUND):
        return mapped.outcome, mapped.detail
    raise Unverifiable(f"unexpected answer {mapped.detail}".strip())


def _next_link(headers: Mapping[str, str]) -> str | None:
    for part in headers.get("Link", "").split(","):
        if 'rel="next"' in part:
            start, end = part.find("<"), part.find(">")
            if 0 <= start < end:
                return part[start + 1 : end]
    return None


def _error_message(headers: Mapping[str, str], body: bytes) -> str:
    msg = headers.get("X-Error-Message", "")
    return msg[:200] if msg else body[:200].decode("utf-8", "replace")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timeout"
    return type(exc).__name__  # aiohttp messages can carry URLs; the class name is enough


__all__ = ["Answer", "CallCounts", "Hub", "TreeEntry", "Unverifiable", "classify_access", "origin_of", "token_allowed"]
