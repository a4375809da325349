"""Which configured repo a new upload goes to.

The Hub advises at most ~100k files per repo and ~10k entries per folder; an archive of
millions of media files must therefore spread over several repos. `RepoPlacement` fills the
configured repos in order: a new file goes to the first repo that still has room for it (in
the repo and in its folder), so users only ever add a repo name to `hub.repos` when told.

Counts come from one recursive listing per repo (the destination's `entries`: streamed page by
page, each page one request under the retry policy and one rate-limit token), plus
every file this run has placed since. A path that already exists in some repo stays there
(`find_existing`), so a re-upload replaces the file in place rather than duplicating it.
A path placed but not yet confirmed (its commit may fail) keeps its repo but does not count as
existing until `add_existing` confirms it: a long-running service that retries a failed tweet
must not take a file for uploaded because it was once placed.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from hfcheck.errors import IncompleteError, Refused, Unverifiable
from hfcheck.net.destination import Destination
from hfcheck.net.hub import Hub
from hfcheck.report.catalog import msg


@dataclass
class _RepoCounts:
    """Files in the repo, entries (files + subfolders) per folder, and the folders that exist."""

    files: int = 0
    entries: Counter[str] = field(default_factory=Counter)
    folders: set[str] = field(default_factory=lambda: {""})


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


class RepoPlacement:
    """Chooses a repo for each new file; counts are per repo and per folder.

    Not thread-safe: use it from the event loop (it does no I/O after `load`).
    """

    def __init__(
        self,
        repos: Sequence[str],
        *,
        max_files_per_repo: int,
        max_files_per_folder: int,
        track_paths: bool = True,
        unbounded: Iterable[str] = (),
    ) -> None:
        if not repos:
            raise IncompleteError(msg("err_no_repo"))
        self.repos = tuple(repos)
        self.max_files_per_repo = max_files_per_repo
        self.max_files_per_folder = max_files_per_folder
        self.unbounded = frozenset(unbounded)  # destinations with no file-count advice (buckets)
        self._counts = {r: _RepoCounts() for r in self.repos}
        # path -> index of its repo; ~100 bytes a path, so track_paths=False for huge archives
        self._where: dict[str, int] | None = {} if track_paths else None
        self._unconfirmed: set[str] = set()  # placed this run, not (yet) known to be in the repo

    @classmethod
    async def load(cls, hub: Hub, destination: Destination | None = None, *, track_paths: bool = True) -> RepoPlacement:
        """List every configured repo once and count what is there (limits: the destination's)."""
        cfg, dest = hub.cfg, destination or hub.destination
        limits_for = getattr(dest, "limits_for", lambda repo: dest.limits)
        placement = cls(
            cfg.repos,
            max_files_per_repo=dest.limits.max_files_per_repo,
            max_files_per_folder=dest.limits.max_files_per_folder,
            track_paths=track_paths,
            unbounded=[r for r in cfg.repos if limits_for(r).max_files_per_repo == sys.maxsize],
        )
        for repo_id in placement.repos:
            await placement._list_repo(dest, repo_id, cfg.revision)
        return placement

    async def _list_repo(self, dest: Destination, repo_id: str, revision: str) -> None:
        """Stream one recursive listing into the counts; a missing repo is a clear error."""
        try:
            async for entry in dest.entries(repo_id, revision):
                if entry.type == "file":
                    self.add_existing(repo_id, [entry.path])
                else:
                    self._add_folder(repo_id, entry.path)
        except Refused as exc:
            raise IncompleteError(msg("err_repo_refused", repo=repo_id, revision=revision, why=exc.why)) from None
        except Unverifiable as exc:
            raise IncompleteError(msg("err_repo_unlisted", repo=repo_id, error=exc)) from None

    # -- counting ---------------------------------------------------------------------------
    def add_existing(self, repo_id: str, paths: Iterable[str]) -> None:
        """Count files known to exist (from a listing) in `repo_id`."""
        idx = self.repos.index(repo_id)
        counts = self._counts[repo_id]
        for path in paths:
            if self._where is not None:
                if path in self._where:
                    self._unconfirmed.discard(path)
                    continue
                self._where[path] = idx
            self._add_folder(repo_id, _parent(path))
            counts.files += 1
            counts.entries[_parent(path)] += 1

    def _add_folder(self, repo_id: str, folder: str) -> None:
        """Make `folder` (and its ancestors) exist, counting each new one in its parent."""
        counts = self._counts[repo_id]
        while folder not in counts.folders:
            counts.folders.add(folder)
            counts.entries[_parent(folder)] += 1
            folder = _parent(folder)

    def _new_entries(self, repo_id: str, folder: str) -> list[str]:
        """The folders that gain one entry when a file is added to `folder` in `repo_id`."""
        counts = self._counts[repo_id]
        gaining = [folder]
        while folder not in counts.folders:
            folder = _parent(folder)
            gaining.append(folder)
        return gaining

    def has_room(self, repo_id: str, folder: str) -> bool:
        """Whether one more file fits in `folder` of `repo_id` under both advised limits."""
        counts = self._counts[repo_id]
        if repo_id in self.unbounded:
            return True
        if counts.files >= self.max_files_per_repo:
            return False
        return all(counts.entries[f] < self.max_files_per_folder for f in self._new_entries(repo_id, folder))

    # -- choosing ---------------------------------------------------------------------------
    def find_existing(self, path: str) -> str | None:
        """The repo that already holds `path` (listed, or placed and confirmed), if tracked."""
        if self._where is None or path in self._unconfirmed:
            return None
        idx = self._where.get(path)
        return None if idx is None else self.repos[idx]

    def choose(self, folder: str) -> str:
        """Reserve room for one new file in `folder` and return the repo it goes to.

        The first configured repo with room wins, so repos fill in order.
        """
        folder = folder.strip("/")
        for repo_id in self.repos:
            if self.has_room(repo_id, folder):
                counts = self._counts[repo_id]
                self._add_folder(repo_id, folder)
                counts.entries[folder] += 1
                counts.files += 1
                return repo_id
        raise IncompleteError(
            msg("err_repos_full", per_repo=self.max_files_per_repo, per_folder=self.max_files_per_folder)
        )

    def place(self, path: str) -> str:
        """The repo for `path`: where it already is, else `choose` its folder and remember it."""
        if self._where is not None and path in self._where:
            return self.repos[self._where[path]]
        repo_id = self.choose(_parent(path))
        if self._where is not None:
            self._where[path] = self.repos.index(repo_id)
            self._unconfirmed.add(path)
        return repo_id

    def file_count(self, repo_id: str) -> int:
        """Files in `repo_id`, listed plus placed this run."""
        return self._counts[repo_id].files

    def folder_entries(self, repo_id: str, folder: str) -> int:
        """Entries (files and subfolders) in `folder` of `repo_id`, listed plus placed."""
        return self._counts[repo_id].entries[folder.strip("/")]


__all__ = ["RepoPlacement"]
