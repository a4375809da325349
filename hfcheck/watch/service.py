"""`hfcheck watch`: back up new tweets as the scraper writes them, audit on a schedule, alert.

    ArchivePoller (keyset / rescan, read-only) → WatchWriter.tweets(): an endless generator,
      one poll per `interval`, ending on stop → the ONE writer (`write.runner.write_tweets`) and
      its ONE committer for the life of the service: files of several polls share commits
      within the commit quota → rows edited after the Hub confirmed them
    audit task: `readback.audit.run_audit` every `audit_every` (read-only, rolling read-back)
    Notifier (webhook + pings) and Metrics (Prometheus) report both.

Nothing transient stops the service: a tweet that fails is retried later (`watch.poll`), a writer
that fails (the database locked past its timeout, the Hub unreachable at start) is started again
after a pause, an audit that cannot run is tried again later; each is reported, and when backups
keep failing for `notify.failure_after` seconds a webhook says so. SIGTERM or Ctrl-C stop the
polls; tweets already handed over are finished (their commit included) for up to
`watch.stop_grace` seconds, else abandoned: a commit that lands after that is found by the next
start's listing of the repo and only recorded, never uploaded again. A second signal abandons at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from hfcheck.config import Config
from hfcheck.crypto import Codecs, load_codecs
from hfcheck.db.archive import Archive
from hfcheck.db.state import StateDB
from hfcheck.errors import EXIT_OK, EXIT_PROBLEMS, ConfigError, IncompleteError, InputError
from hfcheck.model.outcomes import RunSummary, UploadSource
from hfcheck.net.hub import Hub
from hfcheck.net.outcome import redact
from hfcheck.readback.audit import JSON_NAME, AuditOptions, problem_count, run_audit
from hfcheck.readback.keycheck import require_key
from hfcheck.report.catalog import count, label, msg, t
from hfcheck.report.text import write_audit_reports
from hfcheck.watch.metrics import Metrics, serve_metrics
from hfcheck.watch.notify import Notifier, Ping
from hfcheck.watch.poll import ArchivePoller
from hfcheck.watch.schedule import AUDIT_RETRY_S, WatchState, keep_dated_report
from hfcheck.write.backup import BackupPlanner
from hfcheck.write.commit import BatchPolicy, Committer
from hfcheck.write.placement import RepoPlacement
from hfcheck.write.plan import TweetPlan
from hfcheck.write.runner import WriteOptions, write_tweets
from hfcheck.write.upload import remote_sizes

log = logging.getLogger(__name__)

PING_EVERY_S = 300.0  # success pings after clean polls, at most this often (audits always ping)
RESTART_MIN_S, RESTART_MAX_S = 5.0, 300.0  # pause before the writer is started again after it failed
KEEP_ERRORS = 100  # per-tweet errors kept in memory for the summary (a service runs for months)
DEEP_PROBLEMS = ("differs", "decrypt_failed", "local_missing", "missing")
VERIFY_CATEGORIES = (
    "missing",
    "wrong_path",
    "malformed",
    "repo_not_found",
    "revision_not_found",
    "no_access",
    "unverified",
)


@dataclass
class WatchOptions:
    interval: float = 60.0
    once: bool = False
    audit_every: float = 86400.0  # 0: no scheduled audit
    metrics_port: int = 0  # 0: no endpoint
    metrics_host: str = "127.0.0.1"
    concurrency: int = 4
    flags: tuple[str, ...] = ()  # the user's own common flags (`cli.given_flags`), in the audit's fix commands
    echo: Callable[[str], None] = print


class WatchService:
    """One service: `exit_code = await WatchService(cfg, opts).run()`."""

    def __init__(self, cfg: Config, opts: WatchOptions) -> None:
        self.cfg = cfg
        self.opts = opts
        self.metrics = Metrics()
        self.state = WatchState()
        self.summary = RunSummary()
        self.notifier: Notifier | None = None
        self.poller: ArchivePoller | None = None
        self.placement: RepoPlacement | None = None
        self.hub: Hub | None = None  # the service's one Hub, open while it runs
        self.committer: Committer | None = None
        self._seen = {"files": 0, "bytes": 0, "commits": 0, "rate_limited": 0}
        self._stop: asyncio.Event | None = None
        self._abandon: asyncio.Event | None = None
        self._failing_since: float | None = None
        self._last_failure = ""
        self._alerted = False
        self._last_ping = -math.inf
        self._audit_problems = 0

    # -- lifecycle ----------------------------------------------------------------------------
    async def run(self) -> int:
        cfg = self.cfg
        cfg.require("db", "media_root", "key_file", "repos")
        key = load_codecs(cfg)  # a bad key or scheme stops the service now (exit 2), not at the first upload
        self.state = WatchState.load(cfg.data_dir)
        self._stop, self._abandon = asyncio.Event(), asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        secrets = [cfg.token, _key_text(cfg), cfg.notify.webhook_url, cfg.notify.ping_url]
        runner = None
        try:
            async with (
                Hub(cfg, concurrency=self.opts.concurrency) as self.hub,
                aiohttp.ClientSession() as session,
                Archive(cfg, writable=True) as archive,
            ):
                # a wrong key stops the service now (exit 2); a Hub that cannot answer yet only delays it
                await require_key(cfg, key, archive=archive, hub=self.hub, writing=False)
                self.notifier = Notifier(
                    session, webhook_url=cfg.notify.webhook_url, ping_url=cfg.notify.ping_url, secrets=secrets
                )
                if self.opts.metrics_port:
                    runner = await serve_metrics(self.metrics, self.opts.metrics_host, self.opts.metrics_port)
                self.poller = ArchivePoller(
                    archive, rescan_every=cfg.watch.rescan_every, retry_base=max(self.opts.interval, 1.0)
                )
                self.state.started_at, self.state.stopped_at = time.time(), None
                self.state.save(cfg.data_dir)
                return await self._serve(archive, key)
        finally:
            if runner is not None:
                await runner.cleanup()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    async def _serve(self, archive: Archive, key: Codecs) -> int:
        started = t(
            "watch_started",
            self.cfg.lang,
            repos=", ".join(self.cfg.repos),
            interval=_secs(self.opts.interval),
            audit=_secs(self.opts.audit_every) if self.opts.audit_every > 0 else "-",
        )
        self.opts.echo(started)
        assert self.notifier is not None
        if not self.opts.once:
            await self.notifier.message(started)
        await self.notifier.ping(Ping.START)
        audits = None if self.opts.once else asyncio.create_task(self._audit_loop(), name="hfcheck-watch-audit")
        try:
            await self._backup_loop(archive, key)
            if self.opts.once and not self.stopping and self.state.audit_due_in(self.opts.audit_every) == 0:
                await self._audit()
        finally:
            if audits is not None:
                audits.cancel()  # read-only: nothing to finish; the next start audits when due
                await asyncio.gather(audits, return_exceptions=True)
            await self._stopped()
        if self.opts.once:
            if self.stopping:
                raise IncompleteError(msg("err_interrupted"))
            code = self.summary.exit_code  # as `backup`: 3 when repo problems left work undone
            return EXIT_PROBLEMS if code == EXIT_OK and self._audit_problems else code
        return EXIT_OK

    def request_stop(self) -> None:
        """SIGTERM / Ctrl-C: stop polling and finish what is in hand; a second one abandons it."""
        assert self._stop is not None and self._abandon is not None
        if self._stop.is_set():
            self._abandon.set()
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    async def _sleep(self, seconds: float) -> bool:
        """Wait `seconds` or until stopped; True when stopped."""
        assert self._stop is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
        return self._stop.is_set()

    async def _stopped(self) -> None:
        self.state.stopped_at = time.time()
        self.state.save(self.cfg.data_dir)
        s = self.summary
        text = t(
            "watch_stopped",
            self.cfg.lang,
            ok=s.tweets_completed,
            failed=s.tweets_error,
            commits=int(self._seen["commits"]),
        )
        self.opts.echo(text)
        assert self.notifier is not None
        if not self.opts.once:
            await self.notifier.message(text)
        clean = self._failing_since is None and not self._audit_problems and not s.tweets_error
        await self.notifier.ping(Ping.SUCCESS if clean else Ping.FAIL, text)

    # -- backups ------------------------------------------------------------------------------
    async def _backup_loop(self, archive: Archive, key: Codecs) -> None:
        """Run the writer for the life of the service; start it again when it fails."""
        pause = RESTART_MIN_S
        while not self.stopping:
            try:
                await self._write_session(archive, key)
                return
            except (ConfigError, InputError):
                raise
            except Exception as exc:  # noqa: BLE001 - a service outlives what a run would stop on
                if self.opts.once:
                    raise
                assert self.poller is not None
                self.poller.forget_in_flight()
                reason = _one_line(exc, self.cfg.token)
                self._failed(reason)
                self.opts.echo(t("watch_paused", self.cfg.lang, error=reason, seconds=_secs(pause)))
                await self._check_failing()
                if await self._sleep(pause):
                    return
                pause = min(RESTART_MAX_S, pause * 2)

    async def _write_session(self, archive: Archive, key: Codecs) -> None:
        """One writer with one committer until stopped; polls feed it through `WatchWriter`."""
        assert self.hub is not None
        self.placement = await RepoPlacement.load(self.hub)
        writer = WatchWriter(self, BackupPlanner(self.cfg, key, self.placement))
        self._seen.update(files=0, bytes=0, commits=0, rate_limited=0)  # a new committer counts from 0
        opts = WriteOptions(
            concurrency=self.opts.concurrency,
            echo=self.opts.echo,
            on_committer=self._attach,
            on_tweet=self._tweet_ended,
            commit_policy=BatchPolicy(linger_s=self.cfg.watch.commit_linger),
        )
        task = asyncio.create_task(
            write_tweets(self.hub, archive, key, writer, self.summary, opts), name="hfcheck-watch-writer"
        )
        assert self._stop is not None and self._abandon is not None
        stop = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():  # stopping: the generator ends at its next step; let the commit finish
                abandon = asyncio.create_task(self._abandon.wait())
                await asyncio.wait(
                    {task, abandon}, timeout=self.cfg.watch.stop_grace, return_when=asyncio.FIRST_COMPLETED
                )
                abandon.cancel()
                if not task.done():
                    self.opts.echo(t("watch_abandoned", self.cfg.lang, seconds=_secs(self.cfg.watch.stop_grace)))
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    return
            task.result()
        finally:
            stop.cancel()
            self._sync_metrics()

    def _attach(self, committer: Committer) -> None:
        self.committer = committer

    async def _tweet_ended(self, plan: TweetPlan, reason: str | None) -> None:
        assert self.poller is not None
        self.poller.finished(plan.tweet_id, reason)
        if reason is None:
            if self.placement is not None:
                for f in plan.files:
                    self.placement.add_existing(f.repo_id, [f.remote_path])
            self.metrics.tweets_backed_up.inc()
            self.state.tweets_backed_up += 1
            if self._failing_since is not None and self._alerted:
                await self._notify(t("watch_recovered", self.cfg.lang, ok=self.state.tweets_backed_up))
            self._failing_since, self._alerted = None, False
        else:
            self.metrics.tweets_failed.inc()
            self.state.tweets_failed += 1
            self._failed(reason)
        del self.summary.errors[:-KEEP_ERRORS]
        del self.summary.gone_at_source[:-KEEP_ERRORS]
        self._sync_metrics()
        if not self.poller.waiting:
            self._backup_complete()

    def _failed(self, reason: str) -> None:
        if self._failing_since is None:
            self._failing_since = time.monotonic()
        self._last_failure = reason

    def _backup_complete(self) -> None:
        """Nothing found waits for a backup: the time the metric and the state file show."""
        now = time.time()
        self.state.last_complete_backup_at = now
        self.metrics.last_backup.set(now)

    def _sync_metrics(self) -> None:
        """Counters follow the committer's live stats (a new committer after a restart counts from 0)."""
        assert self.poller is not None
        self.metrics.unbacked.set(self.poller.waiting)
        if self.committer is None:
            return
        s = self.committer.stats
        now = {
            "files": s.files_committed - s.files_already_present,
            "bytes": s.bytes_uploaded,
            "commits": s.commits,
            "rate_limited": s.rate_limited,
        }
        for name, counter in (
            ("files", self.metrics.files_uploaded),
            ("bytes", self.metrics.bytes_uploaded),
            ("commits", self.metrics.commits),
            ("rate_limited", self.metrics.rate_limited),
        ):
            if now[name] > self._seen[name]:
                counter.inc(now[name] - self._seen[name])
                self._seen[name] = now[name]

    async def after_poll(self, found: int) -> None:
        """Between polls: metrics, the failure alert, a success ping when all is well, the state file."""
        assert self.poller is not None and self.notifier is not None
        self.metrics.polls.inc()
        if found:
            self.opts.echo(
                t("watch_poll", self.cfg.lang, n=self.poller.polls, tweets=count("tweet", found, self.cfg.lang))
            )
        if not self.poller.waiting:
            self._backup_complete()
        self._sync_metrics()
        await self._check_failing()
        if (
            self._failing_since is None
            and not self.poller.retries
            and time.monotonic() - self._last_ping >= PING_EVERY_S
        ):
            self._last_ping = time.monotonic()
            await self.notifier.ping(Ping.SUCCESS)
        self.state.save(self.cfg.data_dir)

    async def _check_failing(self) -> None:
        """Webhook + fail ping once backups have failed for `failure_after` seconds."""
        if self._failing_since is None or self._alerted:
            return
        failing = time.monotonic() - self._failing_since
        if failing < self.cfg.notify.failure_after:
            return
        self._alerted = True
        assert self.poller is not None and self.notifier is not None
        text = t(
            "watch_failing",
            self.cfg.lang,
            minutes=f"{failing / 60:.0f}",
            waiting=self.poller.waiting,
            reason=self._last_failure,
        )
        self.opts.echo(text)
        await self._notify(text)
        await self.notifier.ping(Ping.FAIL, text)

    async def _notify(self, text: str) -> None:
        if self.notifier is not None:
            await self.notifier.message(text)

    async def retried_plan(self, plan: TweetPlan, planner: BackupPlanner) -> TweetPlan | None:
        """A retried tweet's files may have landed before it failed (another file's commit
        failed): ask the Hub, so they are recorded, not sent again. None when the Hub cannot
        say now (the tweet waits for its next retry rather than risk a second upload)."""
        assert self.placement is not None and plan.row is not None
        by_repo: dict[str, list[str]] = {}
        for f in plan.files:
            if not f.exists_remote:
                by_repo.setdefault(f.repo_id, []).append(f.remote_path)
        found = False
        for repo_id, paths in by_repo.items():
            try:
                assert self.hub is not None
                present = list(await remote_sizes(self.hub, repo_id, paths, strict=True))
            except Exception as exc:  # noqa: BLE001 - unknown: try the tweet later
                assert self.poller is not None
                self.poller.finished(plan.tweet_id, _one_line(exc, self.cfg.token))
                return None
            if present:
                self.placement.add_existing(repo_id, present)
                found = True
        return planner.plan(plan.row) if found else plan

    # -- audits -------------------------------------------------------------------------------
    async def _audit_loop(self) -> None:
        while not self.stopping:
            if await self._sleep(self.state.audit_due_in(self.opts.audit_every)):
                return
            await self._audit()

    async def _audit(self) -> None:
        """The read-only audit; its report kept with its date; alerts and metrics from it."""
        assert self.notifier is not None
        cfg = self.cfg
        self.state.last_audit_try_at = time.time()
        try:
            assert self.hub is not None  # the audit counts in the same windows as the writer
            aopts = AuditOptions(concurrency=cfg.concurrency, flags=self.opts.flags)
            result = await run_audit(cfg, aopts, self.hub)
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - reported, tried again later
            text = t(
                "watch_audit_failed",
                cfg.lang,
                error=_one_line(exc, self.cfg.token),
                seconds=_secs(min(self.opts.audit_every, AUDIT_RETRY_S)),
            )
            self.opts.echo(text)
            await self.notifier.ping(Ping.FAIL, text)
            self.state.save(cfg.data_dir)
            return
        now = time.time()
        write_audit_reports(cfg.data_dir, result.report, cfg.lang, result.history)
        self.state.last_audit_at = now
        self.state.save(cfg.data_dir)
        kept = keep_dated_report(cfg.data_dir, JSON_NAME, now)
        report = result.report
        self._audit_metrics(report, result.verify.stats, now)
        n = self._audit_problems = problem_count(report)
        text = t(
            "watch_audit_done",
            cfg.lang,
            status=label("status", report["status"], cfg.lang),
            problems=count("problem", n, cfg.lang),
            report=str(kept or cfg.data_dir / JSON_NAME),
        )
        self.opts.echo(text)
        if n:
            counts = ", ".join(f"{k} {v}" for k, v in _problem_counts(report).items() if v)
            fixes = [cmd for item in report.get("plan", []) for cmd in item.get("commands", [])[:1]]
            lines = [
                t(
                    "watch_audit_problems",
                    cfg.lang,
                    problems=count("problem", n, cfg.lang),
                    counts=counts,
                    report=str(kept or cfg.data_dir / JSON_NAME),
                )
            ]
            lines += [t("watch_audit_fix", cfg.lang, command=c) for c in dict.fromkeys(fixes)]
            await self._notify("\n".join(lines))
            await self.notifier.ping(Ping.FAIL, text)
        elif report["status"] == "ok":
            self._last_ping = time.monotonic()
            await self.notifier.ping(Ping.SUCCESS, text)
        else:  # could not check everything: not damage, but the monitor should know
            await self.notifier.ping(Ping.FAIL, text)

    def _audit_metrics(self, report: dict[str, Any], verify_stats: dict[str, Any], now: float) -> None:
        self.metrics.urls_checked.inc(int(report.get("verify", {}).get("counts", {}).get("total", 0)))
        for category, n in _problem_counts(report).items():
            self.metrics.problems.labels(category).set(n)
        self.metrics.rate_limited.inc(int(verify_stats.get("rate_limited", 0)))
        self.metrics.last_audit.set(now)


class WatchWriter:
    """The `TweetWriter` of the service: an endless generator of the tweets each poll finds,
    ending when the service stops (or after one poll with `--once`)."""

    source = UploadSource.BACKUP  # the uploads are backups, recorded as such in state.db

    def __init__(self, service: WatchService, planner: BackupPlanner) -> None:
        self.service = service
        self.planner = planner

    async def tweets(self) -> AsyncIterator[TweetPlan]:
        svc = self.service
        assert svc.poller is not None
        while not svc.stopping:
            found = 0
            async with contextlib.aclosing(svc.poller.poll()) as rows:
                async for row, retried in rows:
                    if svc.stopping:
                        svc.poller.release(row.tweet_id)  # not handed over: found again on restart
                        break
                    plan: TweetPlan | None = self.planner.plan(row)
                    if retried and plan is not None and plan.files:
                        plan = await svc.retried_plan(plan, self.planner)
                    if plan is None:
                        continue
                    found += 1
                    svc.summary.tweets += 1  # the n of `[i/n]`: tweets found so far
                    yield plan
            await svc.after_poll(found)
            if svc.opts.once or await svc._sleep(svc.opts.interval):
                return

    async def prepare(self, plan: TweetPlan, state: StateDB) -> None:
        """Nothing to add: the plan was made from the row just read."""


def _problem_counts(report: dict[str, Any]) -> dict[str, int]:
    """Problems by category, as the metric labels them: verify's words, `deep_*` for read-backs."""
    counts = report.get("verify", {}).get("counts", {})
    deep = (report.get("deep") or {}).get("counts", {})
    out = {c: int(counts.get(c, 0)) for c in VERIFY_CATEGORIES}
    out.update({f"deep_{c}": int(deep.get(c, 0)) for c in DEEP_PROBLEMS})
    return out


def _key_text(cfg: Config) -> str | None:
    """The key file's text, so that no message can carry it (it is never put in one anyway)."""
    try:
        return cfg.key_file.read_text(encoding="utf-8").strip() if cfg.key_file else None
    except OSError:
        return None


def _one_line(exc: BaseException, token: str | None) -> str:
    """An error for a log line or a message: one line, bounded, never the token."""
    return redact(" ".join(f"{type(exc).__name__}: {exc}".split()), [token])[:300]


def _secs(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


__all__ = ["WatchOptions", "WatchService", "WatchWriter"]
