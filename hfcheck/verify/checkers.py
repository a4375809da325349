"""The two ways to check a URL — `head` (one HEAD per URL) and `list` (one tree listing per
repo, compared locally) — and the per-repo access gate both stand behind.

Both end in the same `Finding`s. A repo-level answer (not found, no access) is learnt once per
(repo, revision) and applied to all its URLs without further requests.
"""

from __future__ import annotations

import asyncio
import hashlib
from array import array
from bisect import bisect_left
from dataclasses import dataclass

from hfcheck.errors import Unverifiable
from hfcheck.model.paths import BackupURL, PathKind
from hfcheck.net.hub import Access, HubClient, classify_access
from hfcheck.verify.findings import Category, Finding

# The Hub's API bucket is 5x scarcer than the resolvers bucket (free plan: 1,000 vs 5,000 per
# window): a tree page costs as much quota as 5 HEADs.
API_COST_IN_HEADS = 5
TREE_PAGE = 1000


@dataclass(frozen=True)
class UrlTask:
    """One recorded URL to check; `seq` ties it to its row in the ledger."""

    seq: int
    tweet_id: str
    username: str | None
    index: int
    url: BackupURL


def _digest(path: str) -> int:
    return int.from_bytes(hashlib.blake2b(path.encode("utf-8"), digest_size=8).digest(), "big", signed=True)


class PathIndex:
    """The file paths of one repo at one revision, as sorted 64-bit hashes (8 bytes a file).

    A million files take 8 MB instead of ~150 MB as a set of strings. Two paths sharing a
    64-bit hash (odds about 1 in 10^7 for a million files) would make one look present: the
    `head` method has no such limit, and `verify --deep` reads files back.
    """

    def __init__(self, hashes: array) -> None:
        self._hashes = hashes

    @classmethod
    async def build(cls, http: HubClient, repo_id: str, revision: str, max_pages: int | None) -> PathIndex | None:
        """List the tree; None if it would take more than `max_pages` pages (HEADs are cheaper)."""
        items: list[int] = []
        async for entry in http.tree(repo_id, revision):
            if entry.get("type") == "file":
                items.append(_digest(entry["path"]))
            if max_pages is not None and len(items) > max_pages * TREE_PAGE:
                return None
        return cls(array("q", sorted(items)))

    def __contains__(self, path: str) -> bool:
        h = _digest(path)
        i = bisect_left(self._hashes, h)
        return i < len(self._hashes) and self._hashes[i] == h

    def __len__(self) -> int:
        return len(self._hashes)


class Checker:
    """Classifies `UrlTask`s with the chosen method; one instance per run."""

    def __init__(self, http: HubClient, method: str, urls_to_check: int) -> None:
        self.http = http
        self.method = method
        self._access: dict[tuple[str, str], asyncio.Task[tuple[Access, str]]] = {}
        self._index: dict[tuple[str, str], asyncio.Task[PathIndex | None]] = {}
        # auto: give up listing a repo once it has cost as much quota as HEADing every URL.
        self._max_pages = None if method == "list" else max(1, urls_to_check // API_COST_IN_HEADS)
        self.methods_used: dict[str, str] = {}

    async def check(self, task: UrlTask) -> Finding:
        """The finding for one URL; never raises for the Hub's answers."""
        u = task.url
        base = dict(tweet_id=task.tweet_id, url=str(u), index=task.index, username=task.username, repo_id=u.repo_id, revision=u.revision, path=u.path)
        try:
            access, why = await self._gate(u.repo_id, u.revision)
            if access is not Access.OK:
                return Finding(Category(access.value), detail=why, **base)  # type: ignore[arg-type]
            index = await self._listing(u.repo_id, u.revision)
            if index is not None:
                return self._finding(u.path in index, u, base)
            answer = await self.http.head(u)
        except Unverifiable as exc:
            return Finding(Category.UNVERIFIED, detail=str(exc), **base)  # type: ignore[arg-type]
        if answer.status < 400:
            return self._finding(True, u, base)
        if answer.status == 404 and answer.error_code == "EntryNotFound":
            return self._finding(False, u, base)
        try:
            access, why = classify_access(answer, has_token=bool(self.http.cfg.token))
        except Unverifiable as exc:
            return Finding(Category.UNVERIFIED, detail=str(exc), **base)  # type: ignore[arg-type]
        category = Category(access.value) if access is not Access.OK else Category.UNVERIFIED
        return Finding(category, detail=why or f"HTTP {answer.status}", **base)  # type: ignore[arg-type]

    @staticmethod
    def _finding(exists: bool, u: BackupURL, base: dict) -> Finding:
        kind = u.kind
        if kind is PathKind.WRONG:
            where = "a file exists there (unencrypted!)" if exists else "no file there"
            return Finding(Category.WRONG_PATH, exists=exists, detail=f"unencrypted path recorded; {where}", **base)
        detail = "path outside the encrypted_images/ and encrypted_videos/ layout" if kind is PathKind.UNKNOWN else ""
        return Finding(Category.PRESENT if exists else Category.MISSING, detail=detail, **base)

    async def _gate(self, repo_id: str, revision: str) -> tuple[Access, str]:
        """Repo access, asked once; a failed ask is forgotten so the next URL asks again."""
        key = (repo_id, revision)
        if key not in self._access:
            self._access[key] = asyncio.ensure_future(self.http.access(repo_id, revision))
        try:
            return await self._access[key]
        except Unverifiable:
            self._access.pop(key, None)
            raise

    async def _listing(self, repo_id: str, revision: str) -> PathIndex | None:
        """The repo's index for `list`/`auto`; None means HEAD this repo's URLs."""
        if self.method == "head":
            return None
        key = (repo_id, revision)
        if key not in self._index:
            self._index[key] = asyncio.ensure_future(self._build(repo_id, revision))
        index = await self._index[key]
        self.methods_used[f"{repo_id}@{revision}"] = "list" if index is not None else "head"
        return index

    async def _build(self, repo_id: str, revision: str) -> PathIndex | None:
        try:
            return await PathIndex.build(self.http, repo_id, revision, self._max_pages)
        except Unverifiable:
            return None  # the listing failed for good: fall back to HEADs, which retry per URL
