"""What a Hub answer means to hfcheck: one mapping for every caller.

The aiohttp client (verify's HEADs and listings, restore's and deep's downloads) and the calls
made through `huggingface_hub` (commits, paths-info, the placement listing) meet the same Hub
answers; this module maps them to outcomes for all of them, so that no two callers read one
answer differently. The HTTP status and the Hub's `X-Error-Code` decide, and the official
client's exceptions are reduced to those two (its typed errors carry the same response) before
the same rule runs.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from yarl import URL

from hfcheck.net.retry import TRANSIENT_STATUSES, retry_after_seconds

# Besides 408 and 5xx, answers the Hub gives while another commit holds the branch.
_RETRY_LATER = TRANSIENT_STATUSES | {409, 412, 423}
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})


def redirect_target(current: URL, status: int, location: str | None, *, encoded: bool = False) -> URL | None:
    """Where a redirect answer points, resolved against `current`; None when `status` is not a
    redirect. The one hop rule of hfcheck's two hand-followed redirect loops (Hub downloads in
    `fetch.py`, media in `download.py`), each of which then checks the hop by its own rule
    (origin, allow list). `ValueError` for a redirect without a usable `Location`."""
    if status not in REDIRECT_CODES:
        return None
    if not location:
        raise ValueError(f"HTTP {status} redirect without a Location")
    return current.join(URL(location, encoded=encoded))


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every secret (token, key text, webhook URL) replaced by `***`, whatever its
    length: the one scrubber of hfcheck (`Hub.scrub`, the alerts of `watch/notify.py`)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class HubOutcome(enum.Enum):
    """The meaning of one Hub answer; also what a repo answered as a whole (OK, REPO_NOT_FOUND,
    NO_ACCESS), the one vocabulary of every Hub call."""

    OK = "ok"
    RATE_LIMITED = "rate_limited"  # 429: wait `retry_after`, not a failure
    TRANSIENT = "transient"  # 408, 5xx, resets, timeouts: retry with backoff
    MISSING = "missing"  # 404 EntryNotFound: the repo is there, the file is not
    REPO_NOT_FOUND = "repo_not_found"  # the repo does not exist (for this token)
    REVISION_NOT_FOUND = "revision_not_found"  # the repo does, the revision (branch, tag, commit) does not
    NO_ACCESS = "no_access"  # 401/403, gated, private without a token
    FATAL = "fatal"  # anything else: a bad request, an answer we cannot interpret


@dataclass(frozen=True)
class Mapped:
    """An outcome with a reason for people (never a token or URL) and, for a 429, the wait."""

    outcome: HubOutcome
    detail: str = ""
    retry_after: float = 0.0
    status: int | None = None


def classify(
    status: int,
    error_code: str | None,
    headers: Mapping[str, str],
    *,
    has_token: bool,
    message: str = "",
    default_retry_after: float = 1.0,
) -> Mapped:
    """The one rule: HTTP status + `X-Error-Code` → outcome (see the Hub notes' error table)."""
    code = error_code or ""
    if status < 400:
        return Mapped(HubOutcome.OK, status=status)
    if status == 429:
        return Mapped(
            HubOutcome.RATE_LIMITED,
            f"HTTP 429 {message}".strip(),
            retry_after_seconds(headers, default_retry_after),
            status,
        )
    if status in _RETRY_LATER or status >= 500:
        return Mapped(HubOutcome.TRANSIENT, f"HTTP {status}", status=status)
    if code == "EntryNotFound":
        return Mapped(HubOutcome.MISSING, "not in the repo (404 EntryNotFound)", status=status)
    if code == "GatedRepo":
        return Mapped(
            HubOutcome.NO_ACCESS, "gated: accept the repo's conditions or use a token with access", status=status
        )
    if status == 403:  # e.g. a write with a token that may only read: the Hub's words say which
        why = f"forbidden (HTTP 403 {message}".strip() + "): use a token with access (write access to back up)"
        return Mapped(HubOutcome.NO_ACCESS, why, status=status)
    if status == 401 and has_token:  # the Hub answers a valid token 404 for a repo it may not see
        why = f"the token was refused (HTTP 401 {message or 'Invalid credentials'}): check HF_TOKEN or `hf auth login`"
        return Mapped(HubOutcome.NO_ACCESS, why.replace("  ", " "), status=status)
    if status == 401 or (code == "RepoNotFound" and not has_token):
        return Mapped(HubOutcome.NO_ACCESS, "repo is private or does not exist; set HF_TOKEN", status=status)
    if code == "RepoNotFound":
        return Mapped(HubOutcome.REPO_NOT_FOUND, "repo not found (or private to another account)", status=status)
    if code == "RevisionNotFound":
        return Mapped(HubOutcome.REVISION_NOT_FOUND, "revision not found (404 RevisionNotFound)", status=status)
    return Mapped(HubOutcome.FATAL, f"HTTP {status} {code} {message}".strip(), status=status)


def classify_exception(exc: BaseException, *, has_token: bool, default_retry_after: float = 1.0) -> Mapped:
    """The same rule for what `huggingface_hub` raised: its HTTP errors by their response;
    its own argument checks (ValueError) are fatal; anything else (network) is transient."""
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(exc, HfHubHTTPError):
        response = exc.response
        if response is not None:
            headers = response.headers
            message = " ".join((exc.server_message or "").split())[:200]
            return classify(
                response.status_code,
                headers.get("X-Error-Code"),
                headers,
                has_token=has_token,
                message=message,
                default_retry_after=default_retry_after,
            )
        return Mapped(HubOutcome.TRANSIENT, type(exc).__name__)
    if isinstance(exc, ValueError):
        return Mapped(HubOutcome.FATAL, f"{type(exc).__name__}: {exc}")
    return Mapped(HubOutcome.TRANSIENT, f"{type(exc).__name__}: {exc}")


__all__ = ["REDIRECT_CODES", "HubOutcome", "Mapped", "classify", "classify_exception", "redact", "redirect_target"]
