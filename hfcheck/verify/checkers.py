"""The two ways to check a URL — `head` (one HEAD per URL) and `list` (one tree listing per
repo, compared locally) — and the per-repo access gate both stand behind.

Both end in the same `Finding`s. A repo-level answer (not found, no access) is learnt once per
(repo, revision) and applied to all its URLs without further requests.
"""

from __future__ import annotations

import asyncio
import contextlib
from array import array
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from hfcheck.errors import MalformedURL, Refused, Unverifiable
from hfcheck.model.paths import BackupURL, PathKind
from hfcheck.net.hub import Hub, classify_access
from hfcheck.net.outcome import HubOutcome
from hfcheck.verify.fastlane import FastLane
from hfcheck.verify.findings import Category, Finding

# The Hub's API bucket is 5x scarcer than the resolvers bucket (free plan: 1,000 vs 5,000 per
# window): a tree page costs as much quota as 5 HEADs.
API_COST_IN_HEADS = 5
TREE_PAGE = 1000
FOLDER_CONCURRENCY = 16  # top-level folders of one repo listed at once
HOT_INDEXES = 2  # repos whose lookups are served from a set at once (see HotSets)


@dataclass(frozen=True)
class UrlTask:
    """One recorded URL to check; `seq` ties it to its row in the ledger."""

    seq: int
    tweet_id: str
    username: str | None
    index: int
    url: BackupURL
    media_url: str | None = None  # the row's media URL at that index: the extension of a one-way name


class _TooBig(Exception):
    """The listing passed `max_pages`: HEADing this repo's URLs is cheaper."""


class HotSets:
    """The hash sets of the few indexes looked up most recently, built when first needed.

    A set answers a lookup in ~0.06 µs where a bisect of the sorted array took ~1.6 µs, but
    costs ~80 bytes a file against the array's 8 (7.7 MB for a repo of 100,000 files, built in
    ~25 ms): rows come repo by repo, so a few sets serve nearly every lookup, and memory stays
    bounded however many repos the archive spans."""

    def __init__(self, keep: int = HOT_INDEXES) -> None:
        self._keep = keep
        self._sets: OrderedDict[PathIndex, frozenset[int]] = OrderedDict()  # least recently used first

    def of(self, index: PathIndex) -> frozenset[int]:
        found = self._sets.get(index)
        if found is None:
            while len(self._sets) >= self._keep:
                self._sets.popitem(last=False)
            found = self._sets[index] = frozenset(index.hashes)
        else:
            self._sets.move_to_end(index)
        return found


class PathIndex:
    """The file paths of one repo at one revision, as 64-bit hashes (8 bytes a file).

    A million files take 8 MB instead of ~150 MB as a set of strings; lookups go through the
    `HotSets` of the run. The hash is Python's own string hash (SipHash under a per-process
    random key: the index never leaves the process), which costs a fraction of a cryptographic
    digest per URL. Two paths sharing a 64-bit hash (odds about 1 in 10^7 for a million files)
    would make one look present: the `head` method has no such limit, and `verify --deep` reads
    files back.
    """

    def __init__(self, hashes: array, hot: HotSets, pages: int = 0, chain: int = 0) -> None:
        self.hashes = hashes
        self._hot = hot
        self.pages = pages  # tree requests the listing cost
        self.chain = chain  # the longest run of pages that had to be fetched one after another

    @classmethod
    async def build(
        cls,
        http: Hub,
        repo_id: str,
        revision: str,
        max_pages: int | None,
        hot: HotSets,
        *,
        folders: bool = True,
    ) -> PathIndex | None:
        """List the tree; None if it would take more than `max_pages` pages (HEADs are cheaper).

        With `folders`, the root is listed one level deep and each top-level folder recursively,
        up to `FOLDER_CONCURRENCY` at once: the same entries, and since each listing ends in at
        most one partial page, at most one request more per folder than one recursive listing.
        The wait is then the largest folder's pages, not the whole repo's.
        """
        hashes: array = array("q")
        limit = None if max_pages is None else max_pages * TREE_PAGE
        pages = 0

        async def walk(path: str, recursive: bool) -> tuple[int, list[str]]:
            """List `path`; its pages and (one level deep) its folders."""
            nonlocal pages
            n, dirs = 0, []
            async for page in http.tree_pages(repo_id, revision, path, recursive=recursive):
                n += 1
                pages += 1
                hashes.extend(map(hash, [e.path for e in page if e.type == "file"]))
                if not recursive:
                    dirs += [e.path for e in page if e.type == "directory"]
                if limit is not None and len(hashes) > limit:
                    raise _TooBig
            return n, dirs

        try:
            if not folders:
                chain, _ = await walk("", True)
            else:
                root_pages, dirs = await walk("", False)
                gate = asyncio.Semaphore(FOLDER_CONCURRENCY)

                async def folder(path: str) -> int:
                    async with gate:
                        return (await walk(path, True))[0]

                async with asyncio.TaskGroup() as group:
                    tasks = [group.create_task(folder(d)) for d in dirs]
                chain = root_pages + max((t.result() for t in tasks), default=0)
        except _TooBig:
            return None
        except BaseExceptionGroup as failed:  # a folder failed; the others were cancelled
            if failed.subgroup(_TooBig) is not None:
                return None
            raise failed.exceptions[0] from None
        return cls(hashes, hot, pages, chain)

    def __contains__(self, path: str) -> bool:
        return hash(path) in self._hot.of(self)

    def contains_all(self, paths: list[str]) -> list[bool]:
        """`path in index` for each path, with the loop in C (map): a page of URLs at a time."""
        return list(map(self._hot.of(self).__contains__, map(hash, paths)))

    def __len__(self) -> int:
        return len(self.hashes)


@dataclass(frozen=True)
class RepoState:
    """A repo whose URLs are settled locally, without a request each: listed (`index`), or
    answered for the whole repo (`access` not OK: not found, no access)."""

    repo_id: str
    revision: str
    index: PathIndex | None
    access: HubOutcome = HubOutcome.OK
    why: str = ""


def _base(task: UrlTask) -> dict[str, Any]:
    u = task.url
    return dict(
        tweet_id=task.tweet_id,
        url=str(u),
        index=task.index,
        username=task.username,
        repo_id=u.repo_id,
        revision=u.revision,
        path=u.path,
    )


class Checker:
    """Classifies `UrlTask`s with the chosen method; one instance per run.

    `check` settles one URL (a HEAD, or a lookup in its repo's listing). For `list`/`auto`, the
    pipeline also settles URLs in bulk: `resolve` learns a repo's `RepoState` once (its access and
    listing), `fast.lookup` recognises a URL of a resolved repo without parsing it, and
    `FastLane.present` / `local_finding` give the same outcome `check` would, with no request
    and no queue.
    """

    def __init__(self, http: Hub, method: str, urls_to_check: int, *, folders: bool = True) -> None:
        self.http = http
        self.method = method
        self.folders = folders
        self._access: dict[tuple[str, str], asyncio.Future[tuple[HubOutcome, str]]] = {}
        self._index: dict[tuple[str, str], asyncio.Task[PathIndex | None]] = {}
        self._states: dict[tuple[str, str], RepoState | None] = {}
        self.fast = FastLane()  # the resolved repos' URL prefixes
        self._prefetch: list[asyncio.Task[RepoState | None]] = []
        self._hot = HotSets()
        # auto: give up listing a repo once it has cost as much quota as HEADing every URL.
        self._max_pages = None if method == "list" else max(1, urls_to_check // API_COST_IN_HEADS)
        self.methods_used: dict[str, str] = {}

    async def check(self, task: UrlTask) -> Finding:
        """The finding for one URL; never raises for the Hub's answers."""
        u = task.url
        base = _base(task)
        try:
            access, why = await self._gate(u.repo_id, u.revision)
        except Unverifiable as exc:  # the repo could not be asked at all: one repo problem, not one per URL
            return Finding(Category.UNVERIFIED, detail=str(exc), repo_wide=True, **base)
        if access is not HubOutcome.OK:
            return Finding(Category(access.value), detail=why, **base)
        try:
            index = await self._listing(u.repo_id, u.revision)
            if index is not None:
                return self._finding(u.path in index, u, base)
            answer = await self.http.head(u)
        except Unverifiable as exc:
            return Finding(Category.UNVERIFIED, detail=str(exc), **base)
        if answer.status < 400:
            return self._finding(True, u, base)
        if answer.status == 404 and answer.error_code == "EntryNotFound":
            return self._finding(False, u, base)
        try:
            access, why = classify_access(answer, has_token=bool(self.http.cfg.token))
        except Unverifiable as exc:
            return Finding(Category.UNVERIFIED, detail=str(exc), **base)
        category = Category(access.value) if access is not HubOutcome.OK else Category.UNVERIFIED
        return Finding(category, detail=why or f"HTTP {answer.status}", **base)

    @staticmethod
    def _finding(exists: bool, u: BackupURL, base: dict[str, Any]) -> Finding:
        kind = u.kind
        if kind is PathKind.WRONG:
            where = "a file exists there (unencrypted!)" if exists else "no file there"
            return Finding(Category.WRONG_PATH, exists=exists, detail=f"unencrypted path recorded; {where}", **base)
        detail = "path outside the encrypted_images/ and encrypted_videos/ layout" if kind is PathKind.UNKNOWN else ""
        return Finding(Category.PRESENT if exists else Category.MISSING, detail=detail, **base)

    # -- bulk settling (list/auto) ---------------------------------------------------------

    def prefetch(self, keys: list[tuple[str, str]]) -> None:
        """Start learning these repos now, all at once, instead of when their first URL comes."""
        if self.method != "head":
            self._prefetch += [asyncio.ensure_future(self.resolve(*key)) for key in keys]

    def cancel_prefetch(self) -> None:
        for task in self._prefetch:
            task.cancel()

    async def resolve(self, repo_id: str, revision: str) -> RepoState | None:
        """Learn once whether a repo's URLs can be settled locally; None means one by one
        (`head`, a listing given up or failed, or an access check that failed: `check` settles
        each URL with the remembered failure, no request)."""
        key = (repo_id, revision)
        if key in self._states:
            return self._states[key]
        state: RepoState | None = None
        if self.method != "head":
            index = await self._listing(repo_id, revision)
            with contextlib.suppress(Unverifiable):
                access, why = await self._gate(repo_id, revision)  # learnt from the listing, unless it failed
                if access is not HubOutcome.OK or index is not None:
                    state = RepoState(repo_id, revision, index, access, why)
        if key not in self._states:  # another task may have resolved it meanwhile: same answer
            self._states[key] = state
            if state is not None:
                self._remember_prefix(repo_id, revision, state)
        return self._states[key]

    def _remember_prefix(self, repo_id: str, revision: str, state: RepoState) -> None:
        """Let `lookup` know this repo's URL prefix, if a URL under it parses to exactly its parts."""
        prefix = str(BackupURL(self.http.endpoint, repo_id, revision, "x"))[:-1]  # a repo's or a bucket's
        try:
            same = BackupURL.parse(prefix + "x") == BackupURL(self.http.endpoint, repo_id, revision, "x")
        except MalformedURL:
            same = False
        if same:
            self.fast.learn(prefix, state)

    def local_finding(self, state: RepoState, task: UrlTask) -> Finding:
        """What `check` would find for a URL of a resolved repo, without a request."""
        base = _base(task)
        if state.index is None:
            return Finding(Category(state.access.value), detail=state.why, **base)
        return self._finding(task.url.path in state.index, task.url, base)

    def listing_stats(self) -> dict[str, int]:
        """Tree requests of the finished listings and their longest chain of pages."""
        done = [t.result() for t in self._index.values() if t.done() and not t.cancelled() and t.exception() is None]
        indexes = [i for i in done if i is not None]
        return {
            "tree_pages": sum(i.pages for i in indexes),
            "longest_chain": max((i.chain for i in indexes), default=0),
        }

    # -- per repo, asked once ---------------------------------------------------------------

    async def _gate(self, repo_id: str, revision: str) -> tuple[HubOutcome, str]:
        """Repo access, asked once per run. An ask that failed after the retry policy's attempts
        (5xx, resets) is kept too: the repo is unanswerable in this run, and each further URL of
        it settles with that repo problem (Unverifiable, unverified) without another request."""
        key = (repo_id, revision)
        if key not in self._access:
            self._access[key] = asyncio.ensure_future(self.http.access(repo_id, revision))
        return await self._access[key]

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
            index = await PathIndex.build(
                self.http, repo_id, revision, self._max_pages, self._hot, folders=self.folders
            )
        except Refused as exc:  # the listing answered for the repo: no need to ask its access
            self._learn_access(repo_id, revision, exc.access, exc.why)
            return None
        except Unverifiable:
            return None  # the listing failed for good: fall back to HEADs, which retry per URL
        self._learn_access(repo_id, revision, HubOutcome.OK, "")
        return index

    def _learn_access(self, repo_id: str, revision: str, access: HubOutcome, why: str) -> None:
        key = (repo_id, revision)
        if key not in self._access:
            known: asyncio.Future[tuple[HubOutcome, str]] = asyncio.get_running_loop().create_future()
            known.set_result((access, why))
            self._access[key] = known
