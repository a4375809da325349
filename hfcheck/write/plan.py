"""What a repair or backup will do, tweet by tweet: the plan both commands print and carry out.

A `TweetPlan` lists the files to put right (`FilePlan`: local file, repo, encrypted path,
resulting URL) and computes the row edit that is applied once the Hub confirmed them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from hfcheck.db.archive import RowChange, TweetRow
from hfcheck.net.download import Downloader, DownloadResult
from hfcheck.model.paths import confine
from hfcheck.write.upload import FileJob, TweetJob
from hfcheck.verify.findings import Finding


@dataclass
class FilePlan:
    """One file to put right: where it is locally, where it goes, what URL results."""

    kind: str
    local_rel: str | None
    repo_id: str
    remote_path: str
    url: str  # the backup URL once repaired
    old_url: str | None = None  # for wrong_path: the URL it replaces
    media_url: str | None = None  # where to fetch it again if the local file is gone
    exists_remote: bool = False
    replace: bool = False  # upload although the path exists: what is there does not decrypt

    @property
    def media(self) -> str:
        return self.local_rel.split("/", 1)[0] if self.local_rel else ""


@dataclass
class TweetPlan:
    """Everything repair will do for one tweet, or why it cannot."""

    tweet_id: str
    kinds: set[str] = field(default_factory=set)
    findings: list[Finding] = field(default_factory=list)
    files: list[FilePlan] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    media_urls: list[str] | None = None  # for empty_media: the recovered list
    unreadable: list[tuple[str, str, str, int]] = field(default_factory=list)  # (repo, path, local rel, index)

    def change(self) -> Any:
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
    files = [FileJob(fp.repo_id, fp.remote_path, confine(root, fp.local_rel), fp.media) for fp in plan.files if not fp.exists_remote and fp.local_rel]
    return TweetJob(row.key, plan.tweet_id, files, plan.change(), info={"plan": plan, "i": i})


def plan_line(i: int, n: int, plan: TweetPlan) -> str:
    """`[1/4] 1234567890 missing, wrong_path: 2 files` — the users' line per tweet."""
    kinds = ", ".join(sorted(plan.kinds))
    return f"[{i}/{n}] {plan.tweet_id} {kinds}: {len(plan.files)} file(s)"


def dry_run_lines(plan: TweetPlan) -> list[str]:
    out = []
    for fp in plan.files:
        verb = "re-upload (the backup there does not decrypt)" if fp.replace else "upload"
        action = "already in repo" if fp.exists_remote else f"{verb} {fp.local_rel} -> {fp.repo_id}:{fp.remote_path}"
        out.append(f"    {fp.kind}: {action}")
        if fp.old_url:
            out.append(f"    replace URL {fp.old_url}\n         with {fp.url}")
    if "empty_media" in plan.kinds and not plan.files:
        out.append("    empty_media: fetch the media list with twscrape, download, upload, record media_urls")
    out += [f"    error: {e}" for e in plan.errors]
    return out


async def ensure_local(root: Path, plan: TweetPlan, dl: Downloader) -> list[DownloadResult]:
    """Every file to upload (and every recovered medium) must be on disk: fetch what is gone.

    Failures become the plan's errors (a 404/410 names the URL: gone at the source); the
    downloads made are returned for the summary."""
    fetched: list[DownloadResult] = []
    for fp in plan.files:
        if fp.local_rel is None or (fp.exists_remote and fp.kind != "empty_media"):
            continue
        local = confine(root, fp.local_rel)
        if local.is_file():
            continue
        if not fp.media_url:
            plan.errors.append(f"local file not found: {fp.local_rel} (no media URL to fetch it from)")
            continue
        local.parent.mkdir(parents=True, exist_ok=True)
        result = await dl.fetch(fp.media_url, local)
        fetched.append(result)
        if result.status == "gone":
            plan.errors.append(f"local file not found: {fp.local_rel}; gone at the source: {fp.media_url} ({result.reason})")
        elif result.status not in ("ok", "exists"):
            plan.errors.append(f"local file not found: {fp.local_rel}; fetching {fp.media_url}: {result.status} {result.reason}".strip())
    return fetched


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
    commits: int = 0
    bytes_uploaded: int = 0
    dry_run: bool = False
    errors: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def downloads(self, results: list[DownloadResult]) -> None:
        for result in results:
            self.files_downloaded += result.status == "ok"
            if result.status == "gone":
                self.gone_at_source.append(result.url)


class TweetLines:
    """Prints the line per tweet (`[i/n] ... -> ok | error: ...`), keeps the tallies, and on a
    terminal shows a progress bar (tqdm) under the lines."""

    def __init__(self, summary: RunSummary, echo: Callable[[str], None], *, bar: bool = False) -> None:
        self.summary = summary
        self._bar = tqdm(total=summary.tweets, unit="tweet", dynamic_ncols=True) if bar else None
        self.echo = (lambda text: tqdm.write(text)) if bar else echo

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def fail(self, i: int, plan: TweetPlan, reason: str) -> None:
        s = self.summary
        s.tweets_error += 1
        s.files_failed += max(1, len(plan.files))
        s.errors.append({"tweet_id": plan.tweet_id, "reason": reason})
        self._tick()
        self.echo(f"{plan_line(i, s.tweets, plan)} -> error: {reason}")

    def _tick(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def done(self, job: TweetJob) -> None:
        """The uploader's callback: a tweet finished (all files committed and row changed) or failed."""
        plan: TweetPlan = job.info["plan"]
        i: int = job.info["i"]
        if job.failed:
            self.fail(i, plan, job.failed)
            return
        self.summary.tweets_completed += 1
        self.summary.files_succeeded += len(plan.files)
        self._tick()
        uploaded = len(job.files)
        self.echo(f"{plan_line(i, self.summary.tweets, plan)} -> ok ({uploaded} uploaded, {len(plan.files) - uploaded} already in repo)")
