"""Which files a deep check reads back (reading costs a download per file):

n/t   files whose stable hash of the remote path mod t == n-1 (restic --read-data-subset):
      t runs with n = 1..t cover every file exactly once, whatever the archive's order.
P%    a random sample (kopia's --verify-files-percent): no coverage guarantee.
all   everything.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

from hfcheck.errors import ConfigError
from hfcheck.report.catalog import msg

DEFAULT_VERIFY_SAMPLE = "1/20"


def stable_slice(path: str, t: int) -> int:
    """The 1-based slice (1..t) of a remote path: same path, same slice, on every machine."""
    digest = hashlib.sha256(path.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % t + 1


@dataclass(frozen=True)
class Sample:
    """Which files a deep check reads back: `n/t`, `P%` or `all` (see the module docstring)."""

    spec: str
    n: int | None = None
    t: int | None = None
    percent: float | None = None

    @classmethod
    def parse(cls, text: str) -> Sample:
        """`1/20`, `5%`, `0.5%`, `all`; ConfigError naming the mistake otherwise."""
        s = text.strip().lower()
        if s in ("all", "100%"):
            return cls("all")
        if m := re.fullmatch(r"(\d+)\s*/\s*(\d+)", s):
            n, t = int(m.group(1)), int(m.group(2))
            if not 1 <= n <= t:
                raise ConfigError(msg("err_sample_fraction", text=text))
            return cls(f"{n}/{t}", n=n, t=t)
        if m := re.fullmatch(r"(\d+(?:\.\d+)?)\s*%", s):
            p = float(m.group(1))
            if not 0 < p <= 100:
                raise ConfigError(msg("err_sample_percent", text=text))
            return cls(f"{m.group(1)}%", percent=p)
        raise ConfigError(msg("err_sample_form", text=text))

    def picks(self, path: str, rng: random.Random) -> bool:
        """Whether this remote path is in the sample."""
        if self.t is not None:
            return stable_slice(path, self.t) == self.n
        if self.percent is not None:
            return rng.random() * 100 < self.percent
        return True


__all__ = ["DEFAULT_VERIFY_SAMPLE", "Sample", "stable_slice"]
