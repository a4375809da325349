"""What a deep check found: per-file findings, the recorded-upload comparison, exit codes.

Categories (the `deep` key of the JSON report):

    deep_ok         decrypted, and the plaintext sha256 equals the local file's
    differs         plaintext differs from the local file, or the listing from the recorded upload
    decrypt_failed  authentication failed (tampered, truncated, wrong key or path), or the name
    unknown_format  no configured codec recognises the file (another scheme, or not encrypted):
                    listed, never repaired or overwritten
    local_missing   decrypted fine, but no local file to compare with
    missing         the repo answered 404 when read back (or a recorded upload is not listed)
    unverified      the download kept failing after retries: unknown, check again
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hfcheck.errors import EXIT_INCOMPLETE, EXIT_OK, EXIT_PROBLEMS

DEEP_CATEGORIES = ("deep_ok", "differs", "decrypt_failed", "unknown_format", "local_missing", "missing", "unverified")
PROBLEM_CATEGORIES = frozenset({"differs", "decrypt_failed", "unknown_format", "local_missing", "missing"})
MAX_LISTED_PROBLEMS = 10_000  # the report keeps this many problem entries; counts stay exact


@dataclass
class DeepFinding:
    """One file's deep outcome; `local` is the local media path it was compared with."""

    category: str
    repo_id: str
    path: str
    tweet_id: str | None = None
    username: str | None = None
    url: str | None = None
    local: str | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


@dataclass
class RecordedComparison:
    """state.db's confirmed uploads against the listing: no download involved."""

    compared: int = 0  # recorded uploads found in the listing
    matched: int = 0
    differs: int = 0
    absent: int = 0  # recorded, not in the listing, and recorded in a row (verify: missing): repair uploads it
    forgotten: int = 0  # recorded, not in the listing, in no row: a stale record, dropped from state.db
    unverified_repos: list[str] = field(default_factory=list)
    findings: list[DeepFinding] = field(default_factory=list)
    # (repo, path) -> (sha256, size) listed, of the files that differ: accepted once read back and decrypted
    listed: dict[tuple[str, str], tuple[str | None, int | None]] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "compared": self.compared,
            "matched": self.matched,
            "differs": self.differs,
            "absent": self.absent,
            "forgotten": self.forgotten,
            "unverified_repos": self.unverified_repos,
            "problems": [f.to_dict() for f in self.findings],
        }


@dataclass
class DeepResult:
    """Counts per category (exact) and the problem files (first MAX_LISTED_PROBLEMS)."""

    sample: str
    counts: Counter[str] = field(default_factory=Counter)
    findings: list[DeepFinding] = field(default_factory=list)
    recorded: RecordedComparison | None = None
    candidates: int = 0  # present files considered before sampling
    bytes_read: int = 0
    covered: int | None = None  # candidates read back and decrypted since `covered_since`
    covered_since: float | None = None

    def add(self, f: DeepFinding) -> None:
        self.counts[f.category] += 1
        if f.category != "deep_ok" and len(self.findings) < MAX_LISTED_PROBLEMS:
            self.findings.append(f)

    @property
    def checked(self) -> int:
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sample": self.sample,
            "candidates": self.candidates,
            "checked": self.checked,
            "bytes_read": self.bytes_read,
            "counts": {k: self.counts.get(k, 0) for k in DEEP_CATEGORIES},
            "problems": [f.to_dict() for f in self.findings],
        }
        if self.covered is not None:
            out["covered"], out["covered_since"] = self.covered, self.covered_since
        if self.recorded is not None:
            out["recorded"] = self.recorded.to_dict()
        return out

    def problem_count(self) -> int:
        rec = self.recorded
        return sum(self.counts[c] for c in PROBLEM_CATEGORIES) + (rec.differs + rec.absent if rec else 0)


def deep_exit_code(result: DeepResult | None) -> int:
    """0 nothing found; 1 a problem; 3 some files could not be read back (unknown)."""
    if result is None:
        return EXIT_OK
    if result.counts["unverified"] or (result.recorded and result.recorded.unverified_repos):
        return EXIT_INCOMPLETE
    return EXIT_PROBLEMS if result.problem_count() else EXIT_OK


def combined_exit_code(verify_code: int, result: DeepResult | None) -> int:
    """verify's exit code and deep's together: 3 beats 1 beats 0."""
    codes = {verify_code, deep_exit_code(result)}
    return EXIT_INCOMPLETE if EXIT_INCOMPLETE in codes else EXIT_PROBLEMS if EXIT_PROBLEMS in codes else EXIT_OK


__all__ = [
    "DEEP_CATEGORIES",
    "MAX_LISTED_PROBLEMS",
    "PROBLEM_CATEGORIES",
    "DeepFinding",
    "DeepResult",
    "RecordedComparison",
    "combined_exit_code",
    "deep_exit_code",
]
