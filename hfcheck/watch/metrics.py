"""Prometheus metrics of the watch service, served as text on `--metrics-port`.

`prometheus_client` rather than hand-written exposition: it owns the text format (escaping,
`_total` suffixes, HELP/TYPE lines), and tests read the page back with its own parser. The
registry is the service's own (not the process-global default), so two services in one test
process do not share counters, and the page is served from the service's event loop by aiohttp
(no extra server thread to stop).
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest


class Metrics:
    """The counters and gauges a person watching the archive asks about."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.urls_checked = Counter("hfcheck_urls_checked", "Backup URLs checked against the Hub", registry=r)
        self.problems = Gauge(
            "hfcheck_problems", "Problems found by the last audit, by category", ["category"], registry=r
        )
        self.files_uploaded = Counter("hfcheck_files_uploaded", "Files uploaded to the Hub", registry=r)
        self.bytes_uploaded = Counter("hfcheck_bytes_uploaded", "Ciphertext bytes uploaded to the Hub", registry=r)
        self.commits = Counter("hfcheck_commits", "Commits made on the Hub", registry=r)
        self.tweets_backed_up = Counter("hfcheck_tweets_backed_up", "Tweets whose backup was completed", registry=r)
        self.tweets_failed = Counter("hfcheck_tweets_failed", "Tweet backups that failed (retried later)", registry=r)
        self.rate_limited = Counter("hfcheck_rate_limited", "429 answers from the Hub", registry=r)
        self.polls = Counter("hfcheck_polls", "Polls of the archive", registry=r)
        self.last_backup = Gauge(
            "hfcheck_last_complete_backup_timestamp_seconds",
            "Unix time of the last poll that left no tweet unbacked",
            registry=r,
        )
        self.last_audit = Gauge(
            "hfcheck_last_audit_timestamp_seconds", "Unix time of the last complete audit", registry=r
        )
        self.unbacked = Gauge("hfcheck_unbacked_tweets", "Tweets with media and no complete backup", registry=r)

    def exposition(self) -> bytes:
        """The page in Prometheus text format."""
        return generate_latest(self.registry)


async def serve_metrics(metrics: Metrics, host: str, port: int) -> web.AppRunner:
    """Serve `GET /metrics` (and `/`) until the returned runner is cleaned up."""

    async def page(_: web.Request) -> web.Response:
        return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/metrics", page)
    app.router.add_get("/", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
