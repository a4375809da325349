"""The writer's outcome words as enums: what an upload was for, why a file is written, how a
tweet ended, and the tallies of a run.

They are `StrEnum`s because the same word goes into `state.db`, the JSON reports and the
catalog keys (`report/catalog.py`): one spelling everywhere, and a typo is an AttributeError.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from hfcheck.errors import EXIT_INCOMPLETE, EXIT_OK, EXIT_PROBLEMS


class UploadSource(StrEnum):
    """Which command made an upload (the `source` column of `state.db`'s `uploads`)."""

    REPAIR = "repair"
    BACKUP = "backup"
    MIGRATE = "migrate"


class FileKind(StrEnum):
    """Why a file is written: the damage a repair fixes, or the gap a backup fills."""

    MISSING = "missing"  # recorded, not in the repo: upload to that path
    WRONG_PATH = "wrong_path"  # an unencrypted path recorded: upload encrypted, replace the URL
    EMPTY_MEDIA = "empty_media"  # backup URLs but no media list: recover it from X
    UNREADABLE = "unreadable"  # a read-back found it does not decrypt: upload again to that path
    UNBACKED = "unbacked"  # a tweet with media and no backup at all
    PARTIAL = "partial"  # a tweet with fewer backups than media
    MIGRATE = "migrate"  # a backup re-encrypted into another scheme: new path, URL replaced once read back


class TweetResult(StrEnum):
    """How one tweet of a repair or backup ended."""

    OK = "ok"  # every file on the Hub and the row changed
    ERROR = "error"  # nothing recorded for this tweet; the reason says why


@dataclass
class RunSummary:
    """The users' summary of a repair or backup: tweets completed / error, files succeeded /
    failed, and what it cost. Also the JSON report's body."""

    tweets: int = 0
    tweets_completed: int = 0
    tweets_error: int = 0
    files_succeeded: int = 0
    files_failed: int = 0
    files_downloaded: int = 0
    gone_at_source: list[str] = field(default_factory=list)
    recovered: list[dict[str, str]] = field(default_factory=list)  # lost files found again: where from
    commits: int = 0
    bytes_uploaded: int = 0
    dry_run: bool = False
    errors: list[dict[str, str]] = field(default_factory=list)
    # repos (at the configured revision) the Hub could not answer for: their work is left undone
    # (exit 3); each {repo_id, revision, category, detail, urls}, as verify's `repo_problems`
    repo_problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """3 when repo-level problems left work undone, else 1 when a tweet failed, else 0."""
        if self.repo_problems:
            return EXIT_INCOMPLETE
        return EXIT_PROBLEMS if self.tweets_error or self.files_failed else EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def tally(self, result: TweetResult, files: int) -> None:
        """Count one tweet's outcome and its files."""
        if result is TweetResult.OK:
            self.tweets_completed += 1
            self.files_succeeded += files
        else:
            self.tweets_error += 1
            self.files_failed += files


__all__ = ["FileKind", "RunSummary", "TweetResult", "UploadSource"]
