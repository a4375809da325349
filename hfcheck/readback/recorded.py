"""Recorded uploads against the repo listing, at no download cost.

state.db records the ciphertext sha256 and size of every upload hfcheck made, as the Hub
confirmed them; the tree listing gives each file's LFS oid and size. A file replaced on the
Hub since is reported as `differs`, a recorded file no longer listed as `missing`.

Neither finding may outlive what fixes it (issue 18): a `missing` one is a URL verify found
missing, which `repair` uploads again (its new record then matches); a record no row points to
any more is forgotten; a `differs` one is accepted once a read-back decrypted the listed file
(`accept_read_back`), and one that does not decrypt is `repair`'s (unreadable).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from hfcheck.config import Config
from hfcheck.db.state import DECRYPTED_RESULTS, StateDB, UploadRecord
from hfcheck.errors import Unverifiable
from hfcheck.net.hub import Hub, TreeEntry
from hfcheck.readback.deep_result import MAX_LISTED_PROBLEMS, DeepFinding, RecordedComparison


def _by_repo(state: StateDB) -> Iterator[tuple[str, dict[str, UploadRecord]]]:
    """Recorded uploads grouped by repo (one repo's records in memory at a time)."""
    for repo_id, group in itertools.groupby(state.iter_uploads(), key=lambda r: r.repo_id):
        yield repo_id, {r.path: r for r in group}


async def compare_recorded(
    cfg: Config, http: Hub, state: StateDB, *, verified_missing: set[tuple[str, str]] | None = None
) -> RecordedComparison:
    """Recorded ciphertext sha256/size of hfcheck's uploads vs the listing's LFS oid/size.

    One tree listing per repo (API quota, no resolve request, no download). With
    `verified_missing` (the (repo, path) a complete verify found missing), a record that is not
    listed and not among them is in no row: it is forgotten rather than reported for ever."""
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
        stale = [
            r for r in records.values() if verified_missing is not None and (repo_id, r.path) not in verified_missing
        ]
        if stale:
            out.forgotten += state.forget_uploads((repo_id, r.path) for r in stale)
        for rec in records.values():
            if verified_missing is not None and (repo_id, rec.path) not in verified_missing:
                continue
            out.absent += 1
            _keep(
                out,
                DeepFinding("missing", repo_id, rec.path, detail="recorded as uploaded, but not in the repo listing"),
            )
    return out


def accept_read_back(out: RecordedComparison, state: StateDB, since: float) -> int:
    """Differing files whose latest read-back (at or after `since`) decrypted: the listed
    content is the one to compare with from now on; they leave `out`. How many were accepted."""
    accepted = 0
    for (repo_id, path), (sha, size) in out.listed.items():
        last = state.last_deep_check(repo_id, path)
        if last is None or last.checked_at < since or last.result not in DECRYPTED_RESULTS:
            continue
        state.accept_listed(repo_id, path, sha, size)
        out.findings = [f for f in out.findings if (f.category, f.repo_id, f.path) != ("differs", repo_id, path)]
        accepted += 1
    out.differs -= accepted
    out.matched += accepted
    return accepted


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
        out.listed[(repo_id, rec.path)] = (sha, size)
        _keep(out, DeepFinding("differs", repo_id, rec.path, detail="; ".join(reasons)))
    else:
        out.matched += 1


def _keep(out: RecordedComparison, f: DeepFinding) -> None:
    if len(out.findings) < MAX_LISTED_PROBLEMS:
        out.findings.append(f)


__all__ = ["accept_read_back", "compare_recorded"]
