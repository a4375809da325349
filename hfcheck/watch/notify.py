"""Alerts: a webhook message for people, healthchecks-style pings for the monitor.

Two channels because they answer two questions: a webhook (one JSON POST that Slack and Discord
both accept) tells a person *what* broke; a ping URL (`/start`, success, `/fail`, as
healthchecks.io and its clones take them) is a dead man's switch, so a service that died
silently is noticed too. Sending an alert never stops the service: a failure is counted and
logged without the URL (webhook URLs are secrets themselves). Every text passes through
`redact` first, so neither the Hub token nor the archive key can reach a message.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable

import aiohttp

from hfcheck.net.outcome import redact

log = logging.getLogger(__name__)

MAX_BODY = 10_000  # characters of log sent with a ping (healthchecks keeps the first 100 kB)


class Ping(enum.Enum):
    """The three pings of a run, as the healthchecks URL scheme names them."""

    START = "/start"
    SUCCESS = ""
    FAIL = "/fail"


class Notifier:
    """Sends alerts over the run's aiohttp session; either URL may be unset (that channel is off)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        webhook_url: str | None,
        ping_url: str | None,
        secrets: Iterable[str | None] = (),
        timeout: float = 10.0,
    ) -> None:
        self._session = session
        self._webhook_url = webhook_url
        self._ping_url = ping_url.rstrip("/") if ping_url else None
        self._secrets = tuple(s for s in secrets if s)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self.sent = 0
        self.failed = 0

    async def message(self, text: str) -> bool:
        """Post `text` to the webhook: `text` for Slack, `content` for Discord, in one body."""
        if not self._webhook_url:
            return False
        clean = redact(text, self._secrets)
        return await self._post(self._webhook_url, json={"text": clean, "content": clean[:2000]}, what="webhook")

    async def ping(self, kind: Ping, body: str = "") -> bool:
        """Ping the monitor; the body (a run's last lines) is redacted and capped."""
        if not self._ping_url:
            return False
        clean = redact(body, self._secrets)[-MAX_BODY:]
        return await self._post(self._ping_url + kind.value, data=clean.encode("utf-8"), what=f"ping{kind.value}")

    async def _post(self, url: str, *, what: str, **kwargs: object) -> bool:
        try:
            async with self._session.post(url, timeout=self._timeout, allow_redirects=False, **kwargs) as resp:  # type: ignore[arg-type]  # json= or data=, one each call
                ok = resp.status < 300
        except (aiohttp.ClientError, TimeoutError) as exc:
            ok = False
            log.warning("notify: %s could not be sent (%s)", what, type(exc).__name__)
        else:
            if not ok:
                log.warning("notify: %s answered HTTP %d", what, resp.status)
        if ok:
            self.sent += 1
        else:
            self.failed += 1
        return ok
