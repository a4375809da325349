"""The live-follow feed of bucket changes: `GET /api/buckets/{ns}/{name}/events` (server-sent events).

What huggingface_hub 2.4's `_bucket_live_follow.py` consumes: `ready {cursor}` once the replay is
sent, `changes {cursor, changes: [{path, op, size?, xetHash?, uploadedAt?, mtime?}]}` per batch,
`reset {reason}` when the resume point is older than what is kept, `reconnect {cursor}` when the
server ends the stream (shutdown), a comment line as keep-alive. Resume with `?cursor=` (strictly
after that batch) or `?since=<ISO>` (batches at or after that instant); neither means live only.

The log is in memory, the last `KEEP` batches of all buckets: a cursor names this process (its
epoch) and a batch number, so a cursor from before a restart, or older than the log, gets a
`reset` and the client re-lists, as it does when the Hub's replay buffer is exceeded.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from hfcheck.sim.emulator.store import now_iso

KEEP = 10_000  # batches kept for replay
PING_S = 5.0  # keep-alive: the client checks whether to stop whenever a chunk arrives


@dataclass(frozen=True)
class Batch:
    seq: int
    bucket_id: str
    at: str  # ISO time, as `uploadedAt` and `since` are written
    changes: list[dict[str, Any]]


class Feed:
    """Every bucket's change batches, in order; streams wait on one condition."""

    def __init__(self) -> None:
        self.epoch = secrets.token_hex(4)
        self.batches: deque[Batch] = deque(maxlen=KEEP)
        self.seq = 0
        self.closing = False
        self._cond: asyncio.Condition | None = None

    def cond(self) -> asyncio.Condition:
        if self._cond is None:  # made on the app's loop, on first use
            self._cond = asyncio.Condition()
        return self._cond

    def cursor(self, seq: int) -> str:
        return f"{self.epoch}.{seq}"

    async def publish(self, bucket_id: str, changes: list[dict[str, Any]]) -> None:
        if not changes:
            return
        self.seq += 1
        self.batches.append(Batch(self.seq, bucket_id, now_iso(), changes))
        async with self.cond():
            self.cond().notify_all()

    async def close(self) -> None:
        """End every open stream (app shutdown): they send `reconnect` and return."""
        self.closing = True
        async with self.cond():
            self.cond().notify_all()

    def start(self, query: Any) -> int | None:
        """The batch number to replay after, from `cursor` / `since`; None = too old (reset)."""
        oldest = self.batches[0].seq if self.batches else self.seq + 1
        if query.get("cursor"):
            epoch, _, seq = str(query["cursor"]).partition(".")
            if not seq.isdigit():
                raise ValueError("invalid cursor")
            after = int(seq)
            if epoch != self.epoch or after > self.seq or after < oldest - 1:
                return None
            return after
        since = query.get("since")
        if since:
            if not since.endswith("Z"):
                raise ValueError("since must be an ISO time ending in Z")
            if self.batches and self.batches[0].at > since and oldest > 1:
                return None  # the log no longer reaches back that far
            return max((b.seq for b in self.batches if b.at < since), default=oldest - 1)
        return self.seq

    def after(self, bucket_id: str, seq: int) -> list[Batch]:
        return [b for b in self.batches if b.seq > seq and b.bucket_id == bucket_id]


def event(name: str, payload: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode()


async def stream(request: web.Request, feed: Feed, bucket_id: str) -> web.StreamResponse:
    """Replay from the resume point, `ready`, then follow until the client leaves or the app stops."""
    try:
        start = feed.start(request.query)
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400, headers={"X-Error-Message": str(exc)})
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await resp.prepare(request)
    if start is None:
        await resp.write(event("reset", {"reason": "the resume point is older than the replay buffer"}))
        start = feed.seq
    seq = start
    for b in feed.after(bucket_id, seq):
        await resp.write(event("changes", {"cursor": feed.cursor(b.seq), "changes": b.changes}))
    seq = feed.seq
    await resp.write(event("ready", {"cursor": feed.cursor(seq)}))
    try:
        while not feed.closing:
            if not await _wait(feed):
                await resp.write(b": ping\n\n")
                continue
            for b in feed.after(bucket_id, seq):
                await resp.write(event("changes", {"cursor": feed.cursor(b.seq), "changes": b.changes}))
            seq = feed.seq
        await resp.write(event("reconnect", {"cursor": feed.cursor(seq)}))
    except ConnectionResetError:
        pass  # the client left
    return resp


async def _wait(feed: Feed) -> bool:
    """Until the next batch (True) or a keep-alive is due (False)."""
    async with feed.cond():
        try:
            await asyncio.wait_for(feed.cond().wait(), PING_S)
        except asyncio.TimeoutError:
            return False
    return True


__all__ = ["Feed", "stream"]
