"""The Hub over HTTP (aiohttp): resolve HEADs, repo/revision status, tree listing, downloads.

This module does I/O and nothing else; *when* to retry is `retry.RetryPolicy`, *how fast* to
send is `ratelimit.Bucket`. The token is sent only to the configured endpoint, never to a
redirect target or another host, and never appears in an exception message.
"""

from __future__ import annotations

import asyncio
import enum
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from hfcheck import __version__
from hfcheck.config import Config
from hfcheck.model.paths import BackupURL
from hfcheck.net.ratelimit import Bucket, hub_buckets
from hfcheck.net.retry import (
    TRANSIENT_STATUSES,
    RateLimited,
    RetryPolicy,
    TransientError,
    retry_after_seconds,
)


class Access(enum.Enum):
    """What a repo/revision answered: the repo-level categories of `verify`."""

    OK = "ok"
    REPO_NOT_FOUND = "repo_not_found"  # also a missing revision
    NO_ACCESS = "no_access"  # 401/403, gated, private without a token


@dataclass(frozen=True)
class Answer:
    """A Hub answer reduced to what classification needs."""

    status: int
    error_code: str | None
    headers: Mapping[str, str]
    detail: str = ""


class Unverifiable(Exception):
    """Retries exhausted (or an answer we cannot interpret): the item stays unverified."""


class HubHTTP:
    """One aiohttp session to one Hub endpoint, with retries and rate-limit pacing."""

    def __init__(self, cfg: Config, *, concurrency: int | None = None, policy: RetryPolicy | None = None, timeout: float = 30.0) -> None:
        self.cfg = cfg
        self.endpoint = cfg.endpoint.rstrip("/")
        self.policy = policy or RetryPolicy()
        self.buckets: dict[str, Bucket] = hub_buckets(cfg.limits)
        self._concurrency = concurrency or cfg.concurrency
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 10.0))
        self._session: aiohttp.ClientSession | None = None
        self.requests = 0
        self.retries = 0
        self.rate_limited = 0

    async def __aenter__(self) -> HubHTTP:
        connector = aiohttp.TCPConnector(limit=self._concurrency, limit_per_host=self._concurrency, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout, headers={"User-Agent": f"hfcheck/{__version__}"})
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _auth(self, url: str) -> dict[str, str]:
        """Authorization only for our own endpoint (a recorded URL could name any host)."""
        same = urlsplit(url).netloc.lower() == urlsplit(self.endpoint).netloc.lower()
        return {"Authorization": f"Bearer {self.cfg.token}"} if self.cfg.token and same else {}

    async def request(self, method: str, url: str, bucket: str, *, data: Any = None, want_body: bool = False) -> tuple[Answer, bytes]:
        """Send with pacing and retries; return the first answer that is not 429/5xx."""
        assert self._session is not None, "HubHTTP used outside 'async with'"
        b = self.buckets[bucket]
        transient = 0
        waited = 0.0
        while True:
            await b.acquire()
            self.requests += 1
            try:
                async with self._session.request(method, url, headers=self._auth(url), data=data, allow_redirects=False) as resp:
                    headers = resp.headers
                    b.observe(headers)
                    if resp.status == 429:
                        raise RateLimited(retry_after_seconds(headers))
                    if resp.status in TRANSIENT_STATUSES:
                        raise TransientError(f"HTTP {resp.status}", resp.status)
                    body = await resp.read() if want_body or resp.status >= 400 else b""
                    answer = Answer(resp.status, headers.get("X-Error-Code"), headers, _error_message(headers, body))
                    return answer, body
            except RateLimited as exc:
                self.rate_limited += 1
                waited += exc.retry_after
                if waited > self.policy.max_rate_limit_wait:
                    raise Unverifiable(f"rate limited for over {self.policy.max_rate_limit_wait:.0f}s") from None
                b.pause(exc.retry_after)
            except (TransientError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
                transient += 1
                if transient >= self.policy.attempts:
                    raise Unverifiable(f"{_describe(exc)} after {transient} attempts") from None
                self.retries += 1
                await asyncio.sleep(self.policy.backoff(transient))

    async def head(self, url: BackupURL) -> Answer:
        """HEAD a resolve URL without following redirects: 200 or 3xx means the file exists."""
        answer, _ = await self.request("HEAD", str(url), "resolvers")
        return answer

    async def access(self, repo_id: str, revision: str) -> tuple[Access, str]:
        """Can we read this repo at this revision? One API request per repo and run."""
        url = f"{self.endpoint}/api/datasets/{repo_id}/revision/{quote(revision, safe='')}"
        answer, _ = await self.request("GET", url, "api")
        return classify_access(answer, has_token=bool(self.cfg.token))

    async def tree(self, repo_id: str, revision: str) -> AsyncIterator[dict[str, Any]]:
        """Every entry of the repo, recursively, 1,000 a page, following `Link: rel="next"`."""
        url: str | None = f"{self.endpoint}/api/datasets/{repo_id}/tree/{quote(revision, safe='')}?recursive=true&expand=false"
        while url:
            answer, body = await self.request("GET", url, "api", want_body=True)
            if answer.status != 200:
                raise Unverifiable(f"tree listing answered HTTP {answer.status} {answer.error_code or ''}".strip())
            for entry in json.loads(body):
                yield entry
            url = _next_link(answer.headers)
            if url and urlsplit(url).netloc.lower() != urlsplit(self.endpoint).netloc.lower():
                raise Unverifiable("tree pagination link points to another host")


def classify_access(answer: Answer, *, has_token: bool) -> tuple[Access, str]:
    """Repo-level meaning of an answer (from the repo API or a resolve HEAD)."""
    code, status = answer.error_code, answer.status
    if status < 400 or code == "EntryNotFound":
        return Access.OK, ""
    if code == "GatedRepo" or status == 403:
        return Access.NO_ACCESS, "gated or forbidden: accept the repo's conditions or use a token with access"
    if status == 401 or (code == "RepoNotFound" and not has_token):
        why = "repo is private or does not exist; set HF_TOKEN" if not has_token else "token has no access to this repo"
        return Access.NO_ACCESS, why
    if code == "RepoNotFound":
        return Access.REPO_NOT_FOUND, "repo not found (or private to another account)"
    if code == "RevisionNotFound":
        return Access.REPO_NOT_FOUND, "revision not found"
    raise Unverifiable(f"unexpected answer HTTP {status} {code or ''} {answer.detail}".strip())


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
    if isinstance(exc, TransientError):
        return str(exc)
    if isinstance(exc, asyncio.TimeoutError):
        return "timeout"
    return type(exc).__name__  # aiohttp messages can carry URLs; the class name is enough
