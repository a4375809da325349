"""Verify's fast lane: URLs of listed repos recognised by their prefix, without a parse.

Most rows of a healthy archive are simple (`Archive.simple_page`: a list of URLs as `json.dumps`
writes it, nothing wrong with the row) and every URL in them is present in its repo's listing.
Such rows are counted, a page at a time with the loops in C, and never typed or queued; any
other row takes the full path (`to_row`, `BackupURL.parse`, a finding). The lane's one promise,
held by tests/test_fastlane.py: it counts a URL present only where the full path would too.
"""

from __future__ import annotations

import re
from itertools import repeat
from typing import TYPE_CHECKING

from hfcheck.model.paths import joined

if TYPE_CHECKING:
    from hfcheck.verify.checkers import RepoState

_WRONG_PREFIXES = ("images/", "videos/")  # where a path may be a wrong (unencrypted) one
# A path the full URL parse returns unchanged and accepts (safe components, nothing to unquote)
# and that cannot be a wrong one: such a URL of a listed repo is present or missing, nothing else.
SIMPLE_PATH = r"(?!images/|videos/)[A-Za-z0-9_-][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*"
_SIMPLE_PATHS = joined(SIMPLE_PATH)
_NO_URL = re.compile("(?!)()()")  # no repo learnt yet: nothing is recognised


class FastLane:
    """The URL prefixes of the repos a run has resolved, and the lookups they allow."""

    def __init__(self) -> None:
        self._prefixes: dict[str, RepoState] = {}  # "{endpoint}/datasets/{repo}/resolve/{rev}/" -> state
        self._url = _NO_URL  # one of those prefixes (group 1), then a simple path (group 2)

    def learn(self, prefix: str, state: RepoState) -> None:
        """Recognise URLs under `prefix` (one that the full parse splits into exactly its repo
        and revision) as URLs of this repo."""
        self._prefixes[prefix] = state
        self._url = re.compile(f"({'|'.join(map(re.escape, self._prefixes))})({SIMPLE_PATH})")

    @staticmethod
    def present(state: RepoState, path: str) -> bool:
        """The URL is in the listing and its finding would be `present` with nothing to add."""
        return state.index is not None and path in state.index and not path.startswith(_WRONG_PREFIXES)

    def lookup(self, raw: str) -> bool | tuple[RepoState, str] | None:
        """A URL of a learnt repo with a simple path: True when it is present (only counted),
        else its repo's state and its path (for `Checker.local_finding`); None when the URL
        needs the full parse."""
        m = self._url.fullmatch(raw)
        if m is None:
            return None
        state, path = self._prefixes[m[1]], m[2]
        return self.present(state, path) or (state, path)

    def count_present(self, rows: list[list[str] | None]) -> list[int | None]:
        """For a page of rows' URL lists: each row's URL count when `lookup` would find every one
        present, else None (and None stays None). Rows of one URL (most) are matched, hashed and
        looked up with the loops in C: when they all share one repo's prefix (most pages), their
        paths are checked in one match; else each URL is matched, a repo at a time."""
        one = [urls[0] if urls is not None and len(urls) == 1 else "" for urls in rows]
        out: list[int | None] = [None] * len(rows)
        first = self._url.match(one[0]) if one else None
        prefix = first[1] if first else ""
        paths = [url[len(prefix) :] for url in one]
        if prefix and all(map(str.startswith, one, repeat(prefix))) and _SIMPLE_PATHS.fullmatch("\n".join(paths)):
            prefixes = [prefix] * len(rows)
        else:
            hits = list(map(self._url.fullmatch, one))
            prefixes = [m[1] if m else "" for m in hits]
            paths = [m[2] if m else "" for m in hits]
        for prefix in set(prefixes) - {""}:  # one repo per page, mostly
            at = [i for i, p in enumerate(prefixes) if p == prefix]
            index = self._prefixes[prefix].index
            if index is not None:
                for i, found in zip(at, index.contains_all([paths[i] for i in at]), strict=True):
                    out[i] = 1 if found else None
        for i, urls in enumerate(rows):
            if urls is not None and len(urls) > 1 and all(self.lookup(u) is True for u in urls):
                out[i] = len(urls)
        return out


def run_end(counts: list[int | None], start: int) -> int:
    """The end of the run of counted rows from `start`: the index of the first None at or after
    it, else the length (a search in C)."""
    try:
        return counts.index(None, start)
    except ValueError:
        return len(counts)
