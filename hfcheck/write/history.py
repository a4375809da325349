"""The repo's own history as a source of a lost backup: the newest earlier commit that has it.

A dataset repo keeps every file it ever had in its commits. To find the newest commit at which
a path still held another version than it holds now (for a file deleted since: any version;
for one that no longer decrypts: an older one), the commits of the configured revision are
listed once per repo (`list_repo_commits`, newest first) and paths-info is asked at chosen
commits only:

    gallop from the head: commits 1, 2, 4, 8, ... back, until one holds another version
    → binary search between the last commit that matched the head and that one

The search goes outwards from the head because a path is absent twice in its history: after
the deletion and before it was first uploaded; a plain bisection over the whole list cannot tell
the two apart. When state.db recorded the commit that uploaded the file, that commit is the far
end and the gallop is skipped. Cost per file: about 2·log2(k) paths-info requests, k the commits
since the deletion (log2 of the commits since the upload when it is recorded), plus one commits
listing per repo. A squashed history (one commit) has nothing older to search.

Nothing is trusted here: the caller downloads the copy (`fetch`) and decrypts it before use.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from hfcheck.errors import HubAnswered, Unverifiable
from hfcheck.net.hub import Hub

State = str | None  # a path's git blob id at one commit; None: no file there

SHORT_SHA = 7  # how a commit is named to people (`from history @ 1a2b3c4`)


async def newest_other(
    state_at: Callable[[int], Awaitable[State]], n: int, head: State, anchor: int | None
) -> int | None:
    """Index (0 = the head, commits newest first, `n` of them) of the newest commit at which the
    path's state differs from `head`, or None when no probed commit differs.

    `anchor`: a commit known to have held another version (its upload), searched up to directly.
    Assumes the head's state holds over one unbroken run back from the head (one deletion, one
    corruption); with several, the commit found still differs from the head, next to one that
    does not."""
    if n < 2:
        return None
    lo, hi = 0, None  # state_at(lo) == head; state_at(hi) != head
    if anchor is not None and 0 < anchor < n and await state_at(anchor) != head:
        hi = anchor
    else:
        i = 1
        while True:
            if await state_at(i) != head:
                hi = i
                break
            lo = i
            if i == n - 1:
                return None
            i = min(2 * i, n - 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if await state_at(mid) == head:
            lo = mid
        else:
            hi = mid
    return hi


class RepoHistory:
    """One repo's commits at the configured revision, listed once, and paths-info at any of them
    through the run's Hub (its official client, rate-limit buckets and retry policy)."""

    def __init__(self, hub: Hub, repo_id: str) -> None:
        self.hub = hub
        self.cfg = hub.cfg
        self.repo_id = repo_id
        self._commits: list[str] | None = None
        self._failed: str | None = None
        self._lock = asyncio.Lock()
        self._states: dict[tuple[str, str], State] = {}

    async def _call(self, bucket: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One official-client call through the Hub; a final answer or spent retries become
        `Unverifiable` naming the repo (never the token)."""
        try:
            return await self.hub.call(functools.partial(fn, *args, **kwargs), buckets=(bucket,))
        except (HubAnswered, Unverifiable) as exc:
            raise Unverifiable(f"{self.repo_id}@{self.cfg.revision}: {exc}") from None

    async def commits(self) -> list[str]:
        """Commit ids of the revision, newest first (one listing per repo and run)."""
        async with self._lock:
            if self._failed is not None:
                raise Unverifiable(self._failed)
            if self._commits is None:
                try:
                    listed = await self._call(
                        "api",
                        self.hub.api.list_repo_commits,
                        self.repo_id,
                        repo_type="dataset",
                        revision=self.cfg.revision,
                    )
                except Unverifiable as exc:
                    self._failed = str(exc)
                    raise
                self._commits = [c.commit_id for c in listed]
            return self._commits

    async def state(self, commit: str, path: str) -> State:
        """The path's blob id at `commit` (one paths-info request, remembered)."""
        if (commit, path) not in self._states:
            infos = await self._call(
                "api", self.hub.api.get_paths_info, self.repo_id, [path], repo_type="dataset", revision=commit
            )
            found = [i for i in infos if i.path == path and hasattr(i, "blob_id")]
            self._states[(commit, path)] = found[0].blob_id if found else None
        return self._states[(commit, path)]

    async def find(
        self, path: str, head: State, uploaded_at: str | None = None, *, below: str | None = None
    ) -> str | None:
        """The newest earlier commit whose `path` is another version than `head` (None: absent
        now), or None. `uploaded_at`: the commit state.db recorded for the upload, if any.
        `below`: look only at commits older than this one, whose version is `head` (the next
        older version, after one that did not authenticate)."""
        commits = await self.commits()
        if below is not None:
            commits = commits[commits.index(below) :] if below in commits else []
        anchor = commits.index(uploaded_at) if uploaded_at in commits else None

        async def state_at(i: int) -> State:
            return await self.state(commits[i], path)

        found = await newest_other(state_at, len(commits), head, anchor)
        if found is None:
            return None
        return commits[found] if await state_at(found) is not None else None  # absent before the upload

    async def fetch(self, commit: str, path: str, folder: Path) -> Path:
        """Download `path` as it was at `commit` into `folder` (the ciphertext, not yet trusted)."""
        got = await self._call(
            "resolvers",
            self.hub.api.hf_hub_download,
            self.repo_id,
            path,
            repo_type="dataset",
            revision=commit,
            local_dir=folder / commit,
        )
        return Path(str(got))


__all__ = ["SHORT_SHA", "RepoHistory", "State", "newest_other"]
