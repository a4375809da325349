"""In-order completion of out-of-order work: the watermark a checkpoint may claim.

Rows enter in primary-key order; their URLs finish in any order. A row is *settled* when all
its URLs have a finding; the watermark moves past a row only when it and every earlier row are
settled. Only settled rows reach the checkpoint, so a resumed run re-checks at most the rows in
flight at the crash, and never counts a row twice.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hfcheck.db.archive import Key
from hfcheck.verify.findings import Finding


@dataclass
class RowEntry:
    key: Key
    pending: int
    findings: list[Finding] = field(default_factory=list)
    extra: Any = None  # row-level problems, carried to the checkpoint with the row
    present: int = 0  # URLs found present without a Finding kept (settled in bulk)


class Ledger:
    """Track rows in flight; call `settle(entry)` for each row as the watermark passes it."""

    def __init__(self, settle: Callable[[RowEntry], None]) -> None:
        self._rows: OrderedDict[int, RowEntry] = OrderedDict()
        self._seq = 0
        self._settle = settle

    def __len__(self) -> int:
        return len(self._rows)

    def open(
        self, key: Key, urls: int, findings: list[Finding] | None = None, extra: Any = None, present: int = 0
    ) -> int:
        """Register a row with `urls` URLs still to check; returns its sequence number."""
        seq = self._seq
        self._seq += 1
        self._rows[seq] = RowEntry(key, urls, list(findings or []), extra, present)
        self._advance()
        return seq

    def add(self, seq: int, finding: Finding) -> None:
        """One URL of row `seq` is done."""
        entry = self._rows[seq]
        entry.findings.append(finding)
        entry.pending -= 1
        self._advance()

    def _advance(self) -> None:
        while self._rows:
            seq, entry = next(iter(self._rows.items()))
            if entry.pending > 0:
                return
            del self._rows[seq]
            self._settle(entry)
