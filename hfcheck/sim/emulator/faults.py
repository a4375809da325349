"""Injected trouble and bookkeeping: latency, random 5xx, connection resets, the Hub's
fixed-window rate limits, and request counters.

Everything here is plain state guarded by a lock, configured from CLI flags at start and from
the `/_emulator/` control endpoint at run time (JSON dicts in, JSON dicts out).
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

BUCKETS = ("api", "resolvers", "commits")

# Endpoint kind -> rate-limit bucket (kinds absent here are never rate limited: CDN, LFS PUT).
KIND_BUCKET: dict[str, str] = {
    "whoami": "api",
    "create_repo": "api",
    "delete_repo": "api",
    "update_repo": "api",
    "repo_info": "api",
    "tree": "api",
    "paths_info": "api",
    "preupload": "api",
    "lfs_batch": "api",
    "lfs_verify": "api",
    "xet_token": "api",
    "validate_yaml": "api",
    "resolve_head": "resolvers",
    "resolve_get": "resolvers",
    "commit": "commits",
    "list_commits": "api",
    "refs": "api",
    # Storage Buckets (routes_buckets.py): the API quota, as every /api call
    "bucket_create": "api",
    "bucket_info": "api",
    "bucket_delete": "api",
    "bucket_list": "api",
    "bucket_settings": "api",
    "bucket_tree": "api",
    "bucket_paths_info": "api",
    "bucket_batch": "api",
    "bucket_events": "api",
}

# Kinds the official client does not retry on 5xx / network errors: random faults skip them
# unless the exemption list is changed (the commit POST is the one that matters).
# hf_xet retries the Xet kinds itself (5 attempts, 3 s apart), which tests cut to one attempt:
# they are spared by default too (an `exempt` list without them faults them). "other" is any path
# the Hub does not route (the 404s the Xet client falls back from).
XET_KINDS = ("xet_token", "cas_xorb", "cas_shard", "cas_chunk", "cas_reconstruction", "xorb_get", "other")
DEFAULT_EXEMPT = ("commit", *XET_KINDS)


@dataclass
class FaultConfig:
    """Random faults. Rates are probabilities per request; `exempt` lists endpoint kinds."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    reset_rate: float = 0.0
    exempt: list[str] = field(default_factory=lambda: list(DEFAULT_EXEMPT))
    seed: int | None = None
    lose_commit_answers: int = 0  # the next N commits are applied, then answered by a reset
    latency_kinds: list[str] = field(default_factory=list)  # latency for these kinds only (empty: every kind)
    refuse_bucket_ops: int = 0  # the next N add/copy operations of bucket batches: listed failed, not applied


@dataclass
class RateDecision:
    allowed: bool
    headers: dict[str, str]
    retry_after: int = 0


class Faults:
    """Fault switches, rate-limit windows and counters of one emulator instance."""

    def __init__(
        self,
        config: FaultConfig | None = None,
        *,
        window_s: float = 300,
        quotas: Mapping[str, int | None] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self.config = config or FaultConfig()
        self._rng = random.Random(self.config.seed)
        self.window_s = float(window_s)
        self.quotas: dict[str, int | None] = {b: None for b in BUCKETS}
        self._used: dict[str, tuple[int, int]] = {}  # bucket -> (window index, count)
        self._epoch = time.time()
        self.update_quotas(quotas or {})
        self.reset_stats()

    # -- configuration ---------------------------------------------------------------------
    def update_faults(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Apply a partial fault config (validated); returns the full config."""
        current = asdict(self.config)
        unknown = set(changes) - set(current)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        merged = {**current, **changes}
        for key in ("latency_ms", "jitter_ms"):
            merged[key] = _number(key, merged[key], 0, None)
        for key in ("error_rate", "reset_rate"):
            merged[key] = _number(key, merged[key], 0, 1)
        for key in ("exempt", "latency_kinds"):
            merged[key] = _kinds(key, merged[key])
        merged["lose_commit_answers"] = int(_number("lose_commit_answers", merged["lose_commit_answers"], 0, None))
        merged["refuse_bucket_ops"] = int(_number("refuse_bucket_ops", merged["refuse_bucket_ops"], 0, None))
        if merged["seed"] is not None and not isinstance(merged["seed"], int):
            raise ValueError("seed must be an integer or null")
        with self._lock:
            self.config = FaultConfig(**merged)
            if "seed" in changes:
                self._rng = random.Random(self.config.seed)
        return self.fault_settings()

    def fault_settings(self) -> dict[str, Any]:
        return asdict(self.config)

    def update_quotas(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Set `window_s` and/or per-bucket quotas (`null` = unlimited); returns the settings."""
        changes = dict(changes)
        quotas = dict(changes.pop("quotas", None) or {})
        for bucket in BUCKETS:
            if bucket in changes:
                quotas[bucket] = changes.pop(bucket)
        window = changes.pop("window_s", None)
        if changes:
            raise ValueError(f"unknown rate-limit setting(s): {', '.join(sorted(changes))}")
        for bucket, quota in quotas.items():
            if bucket not in BUCKETS:
                raise ValueError(f"unknown rate-limit bucket {bucket!r} (expected one of {', '.join(BUCKETS)})")
            if quota is not None:
                _number(f"quota {bucket}", quota, 0, None)
        with self._lock:
            if window is not None:
                self.window_s = _number("window_s", window, 0.001, None)
            for bucket, quota in quotas.items():
                self.quotas[bucket] = None if quota is None else int(quota)
            self._used.clear()
            self._epoch = time.time()  # windows restart when the limits change
        return self.rate_limit_settings()

    def rate_limit_settings(self) -> dict[str, Any]:
        return {"window_s": self.window_s, "quotas": dict(self.quotas)}

    def reset_windows(self) -> None:
        with self._lock:
            self._used.clear()
            self._epoch = time.time()

    # -- per-request decisions -------------------------------------------------------------
    def delay_s(self, kind: str = "") -> float:
        c = self.config
        if (c.latency_ms <= 0 and c.jitter_ms <= 0) or (c.latency_kinds and kind not in c.latency_kinds):
            return 0.0
        with self._lock:
            jitter = self._rng.uniform(0, c.jitter_ms) if c.jitter_ms > 0 else 0.0
        return (c.latency_ms + jitter) / 1000.0

    def pick_fault(self, kind: str) -> str | None:
        """'reset', '5xx' or None for this request of endpoint `kind`."""
        c = self.config
        if kind in c.exempt or (c.error_rate <= 0 and c.reset_rate <= 0):
            return None
        with self._lock:
            roll = self._rng.random()
        if roll < c.reset_rate:
            return "reset"
        if roll < c.reset_rate + c.error_rate:
            return "5xx"
        return None

    def lose_commit_answer(self) -> bool:
        """True (and one fewer to go) when this applied commit's answer is to be lost."""
        with self._lock:
            if self.config.lose_commit_answers <= 0:
                return False
            self.config.lose_commit_answers -= 1
            return True

    def refuse_bucket_ops(self, n: int) -> int:
        """How many of a batch's next `n` add/copy operations to refuse (a batch that is not
        atomic, as the Hub's is not: hfcheck must send them again)."""
        with self._lock:
            k = min(n, self.config.refuse_bucket_ops)
            self.config.refuse_bucket_ops -= k
            return k

    def error_status(self) -> int:
        with self._lock:
            return self._rng.choice((500, 502, 503, 504))

    def take(self, bucket: str | None) -> RateDecision:
        """Count one request against `bucket`'s fixed window; headers as the Hub sends them."""
        if bucket is None:
            return RateDecision(True, {})
        with self._lock:
            quota = self.quotas.get(bucket)
            if quota is None:
                return RateDecision(True, {})
            elapsed = time.time() - self._epoch
            index = int(elapsed // self.window_s)
            reset = max(1, math.ceil((index + 1) * self.window_s - elapsed))
            win, used = self._used.get(bucket, (index, 0))
            if win != index:
                used = 0
            used += 1
            self._used[bucket] = (index, used)
        allowed = used <= quota
        remaining = max(0, quota - used) if allowed else 0
        headers = {
            "RateLimit": f'"{bucket}";r={remaining};t={reset}',
            "RateLimit-Policy": f'"fixed window";"{bucket}";q={quota};w={int(math.ceil(self.window_s))}',
        }
        if not allowed:
            headers["Retry-After"] = str(reset)
        return RateDecision(allowed, headers, reset)

    # -- counters ----------------------------------------------------------------------------
    def record(self, kind: str, status: int | str) -> None:
        with self._lock:
            self._kinds[kind] += 1
            self._statuses[str(status)] += 1
            self._by_kind[kind][str(status)] += 1

    def begin(self, kind: str) -> None:
        """A request of `kind` is being handled (`in_flight`: a test can act during a commit)."""
        with self._lock:
            self._in_flight[kind] += 1

    def end(self, kind: str) -> None:
        with self._lock:
            self._in_flight[kind] -= 1

    def note_committed(self, paths: list[str]) -> None:
        """Paths a commit over HTTP added or replaced: a file uploaded twice shows as 2."""
        with self._lock:
            self._committed_paths.update(paths)

    def note_fault(self, name: str) -> None:
        with self._lock:
            self._faults[name] += 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": sum(self._kinds.values()),
                "kinds": dict(self._kinds),
                "statuses": dict(self._statuses),
                "by_kind": {k: dict(v) for k, v in self._by_kind.items()},
                "faults": dict(self._faults),
                "in_flight": {k: n for k, n in self._in_flight.items() if n},
                "committed_paths": dict(self._committed_paths),
                "since": self._since,
            }

    def reset_stats(self) -> None:
        with self._lock:
            self._kinds: Counter[str] = Counter()
            self._statuses: Counter[str] = Counter()
            self._by_kind: defaultdict[str, Counter[str]] = defaultdict(Counter)
            self._faults: Counter[str] = Counter()
            self._committed_paths: Counter[str] = Counter()
            if not hasattr(self, "_in_flight"):  # requests in flight outlive a stats reset
                self._in_flight: Counter[str] = Counter()
            self._since = time.time()


def _kinds(key: str, value: Any) -> list[str]:
    """A list of endpoint kinds, given as a list or a comma-separated string."""
    kinds = [k for k in value.split(",") if k] if isinstance(value, str) else value
    if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
        raise ValueError(f"{key} must be a list of endpoint kinds")
    return kinds


def _number(name: str, value: Any, lo: float | None, hi: float | None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        raise ValueError(f"{name} must be {bounds}")
    return float(value)
