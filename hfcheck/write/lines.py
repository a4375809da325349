"""What repair and backup print per tweet, in the run's language (words from the catalog).

English keeps hfcheck's one line per tweet (`[1/4] 1234 missing: 2 file(s) -> ok (...)`);
Japanese keeps the shape of the users' old repair script, a block per tweet:

    [1/4] 処理中: ツイートID 1234 (missing)
      欠落ファイル数: 2
      再処理対象: 画像 1件, 動画 1件
      再アップロード成功: encrypted_images/...
      完了: 成功 2件, 失敗 0件

Tweets finish in parallel, so a tweet's lines are printed with one call and never interleave,
and in the order of their numbers: a tweet that finishes early waits for those before it
(`[2/23]` never comes before `[1/23]`; the progress bar counts it at once).
"""

from __future__ import annotations

from collections.abc import Callable

from tqdm import tqdm

from hfcheck.model.outcomes import FileKind, RunSummary, TweetResult, UploadSource
from hfcheck.report.catalog import count, label, t
from hfcheck.write.plan import FilePlan, TweetPlan
from hfcheck.write.upload import TweetJob

# The Japanese users' script printed a block per tweet; hfcheck's English lines are one each.
DETAILED = frozenset({"ja"})


def plan_line(i: int, n: int, plan: TweetPlan, lang: str) -> str:
    """`[1/4] 1234567890 missing, wrong_path: 2 file(s)` (`[1/4] 処理中: ツイートID …` in Japanese)."""
    kinds = ", ".join(label("kind", k, lang) for k in sorted(plan.kinds))
    files = count("file", len(plan.files), lang)
    return t("tweet_line", lang, i=i, n=n, tweet_id=plan.tweet_id, kinds=kinds, files=files)


def detail_lines(plan: TweetPlan, source: UploadSource, lang: str) -> list[str]:
    """The files of a tweet, counted: how many, how many images and videos."""
    images = sum(fp.media == "images" for fp in plan.files)
    videos = sum(fp.media == "videos" for fp in plan.files)
    return [
        t(f"tweet_files_{source}", lang, n=len(plan.files)),
        t(f"tweet_targets_{source}", lang, images=images, videos=videos),
    ]


def dry_run_lines(plan: TweetPlan, source: UploadSource, lang: str) -> list[str]:
    """What would be done per file, and why nothing can be done when it cannot."""
    out = detail_lines(plan, source, lang) if lang in DETAILED else []
    for fp in plan.files:
        fields = {
            "kind": label("kind", fp.kind, lang),
            "local": fp.local_rel,
            "repo": fp.repo_id,
            "path": fp.remote_path,
        }
        out.append(
            t("dry_present" if fp.exists_remote else "dry_reupload" if fp.replace else "dry_upload", lang, **fields)
        )
        if fp.old_url:
            out.append(t("dry_replace_url", lang, old=fp.old_url, new=fp.url))
        if fp.origin is not None:
            out.append(t("dry_origin", lang, local=fp.local_rel, origin=fp.origin.render(lang)))
    if FileKind.EMPTY_MEDIA in plan.kinds and not plan.files:
        out.append(t("dry_recover", lang))
    out += [t("dry_error", lang, reason=e.render(lang)) for e in plan.errors]
    return out


class TweetLines:
    """Prints each tweet's outcome, keeps the tallies, and on a terminal shows a progress bar
    (tqdm) under the lines."""

    def __init__(
        self, summary: RunSummary, source: UploadSource, lang: str, echo: Callable[[str], None], *, bar: bool = False
    ) -> None:
        self.summary = summary
        self.source = source
        self.lang = lang
        self._bar = tqdm(total=summary.tweets, unit="tweet", dynamic_ncols=True) if bar else None
        self.echo = (lambda text: tqdm.write(text)) if bar else echo
        self._next = 1  # the number of the next tweet to print
        self._waiting: dict[int, str] = {}  # finished tweets after a gap, by number

    def close(self) -> None:
        """Print what still waits (a tweet that never finished leaves a gap), in order."""
        for i in sorted(self._waiting):
            self.echo(self._waiting.pop(i))
        if self._bar is not None:
            self._bar.close()

    def plan(self, i: int, plan: TweetPlan) -> None:
        """A dry run's tweet: its line and what would be done."""
        self.echo(
            "\n".join(
                [plan_line(i, self.summary.tweets, plan, self.lang), *dry_run_lines(plan, self.source, self.lang)]
            )
        )

    def fail(self, i: int, plan: TweetPlan, reasons: list[str]) -> None:
        """The tweet ends in error: nothing of it is recorded."""
        s = self.summary
        failed = max(1, len(plan.files))
        s.tally(TweetResult.ERROR, failed)
        s.errors.append({"tweet_id": plan.tweet_id, "reason": "; ".join(reasons)})
        line = plan_line(i, s.tweets, plan, self.lang)
        shown = "; ".join(reasons) if self.lang not in DETAILED else ""
        out = [t("tweet_fail", self.lang, line=line, reason=shown)]
        if self.lang in DETAILED:
            out += detail_lines(plan, self.source, self.lang)
            out += [t("tweet_error", self.lang, reason=r) for r in reasons]
            out.append(t("tweet_result", self.lang, ok=0, failed=failed))
        self._print(i, out)

    def done(self, job: TweetJob) -> None:
        """The uploader's callback: a tweet finished (all files committed, row changed) or failed."""
        plan: TweetPlan = job.info["plan"]
        i: int = job.info["i"]
        if job.failed:
            self.fail(i, plan, [job.failed])
            return
        self.summary.tally(TweetResult.OK, len(plan.files))
        uploaded = {f.remote_path for f in job.files}
        line = plan_line(i, self.summary.tweets, plan, self.lang)
        out = [t("tweet_ok", self.lang, line=line, uploaded=len(uploaded), present=len(plan.files) - len(uploaded))]
        origins = [self._recovered(plan, fp) for fp in plan.files if fp.origin is not None]
        if self.lang in DETAILED:
            out += detail_lines(plan, self.source, self.lang)
            for fp in plan.files:
                key = f"tweet_uploaded_{self.source}" if fp.remote_path in uploaded else "tweet_present"
                out.append(t(key, self.lang, path=fp.remote_path))
            out += origins
            out.append(t("tweet_result", self.lang, ok=len(plan.files), failed=0))
        else:
            out += origins
        self._print(i, out)

    def _recovered(self, plan: TweetPlan, fp: FilePlan) -> str:
        """A lost file found again: its line, and its entry in the report's `recovered`."""
        assert fp.origin is not None
        entry = {"tweet_id": plan.tweet_id, "local": fp.local_rel or "", "path": fp.remote_path, "from": str(fp.origin)}
        self.summary.recovered.append(entry)
        return t("tweet_origin", self.lang, local=fp.local_rel, origin=fp.origin.render(self.lang))

    def _print(self, i: int, lines: list[str]) -> None:
        if self._bar is not None:
            self._bar.update(1)
        self._waiting[i] = "\n".join(lines)
        while self._next in self._waiting:
            self.echo(self._waiting.pop(self._next))
            self._next += 1
