"""What a repair or backup will do, tweet by tweet: the plan both commands print and carry out.

A `TweetPlan` lists the files to put right (`FilePlan`: local file, repo, encrypted path,
resulting URL) and computes the row edit that is applied once the Hub confirmed them. Pure
data and arithmetic: no I/O here, so the planners are tested without a Hub.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hfcheck.db.archive import RowChange, TweetRow
from hfcheck.model.outcomes import FileKind
from hfcheck.model.paths import confine
from hfcheck.report.catalog import Msg
from hfcheck.verify.findings import Finding
from hfcheck.write.upload import FileJob, TweetJob


@dataclass
class FilePlan:
    """One file to put right: where it is locally, where it goes, what URL results."""

    kind: FileKind
    local_rel: str | None
    repo_id: str
    remote_path: str
    url: str  # the backup URL once repaired
    old_url: str | None = None  # for wrong_path: the URL it replaces
    media_url: str | None = None  # where to fetch it again if the local file is gone
    exists_remote: bool = False
    replace: bool = False  # upload although the path exists: what is there does not decrypt
    source_file: Path | None = None  # the plaintext to encrypt when it is not the local file (migrate: a read-back)
    sealed: Path | None = None  # ciphertext to upload as it is: an authenticated copy from the repo's history
    origin: Msg | None = None  # where a lost file was found again (`from history @ 1a2b3c4`), for lines and report
    unusable: list[Msg] = field(default_factory=list)  # copies passed over: said if nothing else works

    @property
    def needs_local(self) -> bool:
        """The upload (or a recovered media list) reads the local file: it must be on disk."""
        if self.local_rel is None or self.source_file is not None or self.sealed is not None:
            return False
        return not self.exists_remote or self.kind is FileKind.EMPTY_MEDIA

    @property
    def media(self) -> str:
        return self.local_rel.split("/", 1)[0] if self.local_rel else ""


@dataclass
class TweetPlan:
    """Everything repair will do for one tweet, or why it cannot."""

    tweet_id: str
    kinds: set[FileKind] = field(default_factory=set)
    findings: list[Finding] = field(default_factory=list)
    files: list[FilePlan] = field(default_factory=list)
    errors: list[Msg] = field(default_factory=list)
    media_urls: list[str] | None = None  # for empty_media: the recovered list
    unreadable: list[tuple[str, str, str, int]] = field(default_factory=list)  # (repo, path, local rel, index)
    row: TweetRow | None = None  # the row it was planned from (the writer reads it afresh when None)

    def change(self) -> Callable[[TweetRow], RowChange | None]:
        """The row edit, applied after the Hub confirmed every file (read-modify-write)."""
        replace = {f.old_url: f.url for f in self.files if f.old_url}
        added = [f.url for f in self.files if not f.old_url]
        media = self.media_urls

        def edit(row: TweetRow) -> RowChange | None:
            hf = [replace.get(u, u) for u in row.hf_urls]
            hf = list(dict.fromkeys(hf + [u for u in added if u not in hf]))
            new_media = media if media is not None and not row.media_urls else None
            if hf == row.hf_urls and new_media is None:
                return None
            return RowChange(media_urls=new_media, hf_urls=hf if hf != row.hf_urls else None)

        return edit


def to_job(plan: TweetPlan, row: TweetRow, root: Path, i: int) -> TweetJob:
    """The upload job: files not yet in the repo, and the row edit for when they are."""
    files = [
        FileJob(
            fp.repo_id,
            fp.remote_path,
            fp.sealed or fp.source_file or confine(root, fp.local_rel),
            fp.media,
            sealed=fp.sealed is not None,
        )
        for fp in plan.files
        if not fp.exists_remote and fp.local_rel
    ]
    return TweetJob(row.key, plan.tweet_id, files, plan.change(), info={"plan": plan, "i": i})
