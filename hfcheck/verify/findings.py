"""Result categories: one word per outcome, the same in code, progress file, report and docs."""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields
from typing import Any


class Category(str, enum.Enum):
    """What one recorded backup URL turned out to be."""

    PRESENT = "present"  # the file is in the repo
    MISSING = "missing"  # the repo answered: no such file (never said on a 429/5xx/timeout)
    WRONG_PATH = "wrong_path"  # an unencrypted images/ or videos/ path was recorded
    REPO_NOT_FOUND = "repo_not_found"  # the repo does not exist
    REVISION_NOT_FOUND = "revision_not_found"  # the configured revision is not in the repo: nothing checked
    NO_ACCESS = "no_access"  # 401/403, gated, or private without a token
    MALFORMED = "malformed"  # not a Hub resolve URL of the configured endpoint, or unparsable
    UNVERIFIED = "unverified"  # still failing after retries: unknown, check again


COUNT_KEYS = ["total"] + [c.value for c in Category]
REPO_LEVEL = frozenset({Category.REPO_NOT_FOUND, Category.REVISION_NOT_FOUND, Category.NO_ACCESS})


@dataclass
class Finding:
    """The outcome for one URL (`index` is its position in the row's huggingface_urls)."""

    category: Category
    tweet_id: str
    url: str
    index: int = 0
    username: str | None = None
    repo_id: str | None = None
    revision: str | None = None
    path: str | None = None
    detail: str = ""
    exists: bool | None = None  # for wrong_path: does a file exist at the recorded path?
    repo_wide: bool | None = None  # unverified because the repo itself could not be asked: a repo problem

    def to_dict(self) -> dict[str, Any]:
        # Field by field (all flat), not dataclasses.asdict: its deep copy dominated checkpoints.
        d = {k: v for k in _FIELDS if (v := getattr(self, k)) is not None and v != ""}
        d["category"] = self.category.value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        return cls(**{**d, "category": Category(d["category"])})


_FIELDS = tuple(f.name for f in fields(Finding))
