"""Recorded uploads against the repo listing, at no download cost.

state.db records the ciphertext sha256 and size of every upload hfcheck made, as the Hub
confirmed them; the tree listing gives each file's LFS oid and size. A file replaced on the
Hub since is reported as `differs`, a recorded file no longer listed as `missing`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from hfcheck.config import Config
from hfcheck.db.state import StateDB, UploadRecord
from hfcheck.errors import Unverifiable
from hfcheck.net.hub import HubClient, TreeEntry
from hfcheck.readback.deep_result import MAX_LISTED_PROBLEMS, DeepFinding, RecordedComparison


def _by_repo(state: StateDB) -> Iterator[tuple[str, dict[str, UploadRecord]]]:
    """Recorded uploads grouped by repo (one repo's records in memory at a time)."""
    for repo_id, group in itertools.groupby(state.iter_uploads(), key=lambda r: r.repo_id):
        yield repo_id, {r.path: r for r in group}


async def compare_recorded(cfg: Config, http: HubClient, state: StateDB) -> RecordedComparison:
    """Recorded ciphertext sha256/size of hfcheck's uploads vs the listing's LFS oid/size.

    One tree listing per repo (API quota, no resolve request, no download)."""
    out = RecordedComparison()
    for repo_id, records in _by_repo(state):
        try:
            async for entry in http.tree(repo_id, cfg.revision):
                rec = records.pop(entry.path, None) if entry.type == "file" else None
                if rec is not None:
                    _compare_entry(out, repo_id, rec, entry)
        except Unverifiable as exc:
            out.unverified_repos.append(f"{repo_id}@{cfg.revision}: {exc}")
            continue
        for rec in records.values():
            out.absent += 1
            _keep(
                out,
                DeepFinding("missing", repo_id, rec.path, detail="recorded as uploaded, but not in the repo listing"),
            )
    return out


def _compare_entry(out: RecordedComparison, repo_id: str, rec: UploadRecord, entry: TreeEntry) -> None:
    out.compared += 1
    sha = entry.lfs.oid if entry.lfs else None
    size = entry.lfs.size if entry.lfs else entry.size
    reasons = []
    if sha is not None and sha != rec.sha256:
        reasons.append(f"sha256 {str(sha)[:12]}… listed, {rec.sha256[:12]}… recorded")
    if size is not None and size != rec.size:
        reasons.append(f"size {size} listed, {rec.size} recorded")
    if reasons:
        out.differs += 1
        _keep(out, DeepFinding("differs", repo_id, rec.path, detail="; ".join(reasons)))
    else:
        out.matched += 1


def _keep(out: RecordedComparison, f: DeepFinding) -> None:
    if len(out.findings) < MAX_LISTED_PROBLEMS:
        out.findings.append(f)


__all__ = ["compare_recorded"]
