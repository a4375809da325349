"""Which transfer the official client uses for uploads: Xet (the Hub's default) or LFS.

huggingface_hub uploads over Xet whenever `hf_xet` is importable and `HF_HUB_DISABLE_XET` is
unset, without asking the server (since 1.x). A Hub-compatible server without Xet then fails
every file with a 404 on `.../xet-write-token/...`. So before the first commit of a run we ask
once: a plain 404 there (no Hub error code: the route itself is missing) switches the run to
LFS, which the client takes when an operation is a file object, and says so in one line.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import quote

log = logging.getLogger(__name__)

_CLIENT_NOTICE = "Uploading files as a binary IO buffer is not supported by Xet Storage"


class _DropClientNotice(logging.Filter):
    """The client's per-commit warning about file objects: we said it once already."""

    def filter(self, record: logging.LogRecord) -> bool:
        return _CLIENT_NOTICE not in record.getMessage()


class TransferChoice:
    """Decided once per run (per committer), on the first commit; thread-safe."""

    def __init__(self, endpoint: str, token: str | None) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.token = token
        self.xet: bool | None = None  # None until decided
        self._lock = threading.Lock()

    def use_xet(self, repo_id: str, revision: str) -> bool:
        """True to let the client upload over Xet, False to make it use LFS."""
        with self._lock:
            if self.xet is None:
                decided = self._probe(repo_id, revision)
                if decided is False:
                    logging.getLogger("huggingface_hub._commit_api").addFilter(_DropClientNotice())
                    log.warning(
                        "%s offers no Xet storage (xet-write-token answered 404): uploading over LFS for this run",
                        self.endpoint,
                    )
                if decided is not None:
                    self.xet = decided
            return self.xet is not False

    def _probe(self, repo_id: str, revision: str) -> bool | None:
        """False: no Xet here; True: Xet (or the client would not use it anyway); None: unknown."""
        from huggingface_hub.utils import build_hf_headers, get_session
        from huggingface_hub.utils._runtime import is_xet_available

        if not is_xet_available():
            return True  # the client uploads over LFS by itself (HF_HUB_DISABLE_XET or no hf_xet)
        url = f"{self.endpoint}/api/datasets/{repo_id}/xet-write-token/{quote(revision, safe='')}"
        try:
            resp = get_session().get(url, headers=build_hf_headers(token=self.token or False, library_name="hfcheck"))
        except Exception as exc:  # noqa: BLE001 - network trouble: let the commit path meet (and report) it
            log.debug("xet-write-token probe failed: %s", type(exc).__name__)
            return None
        if resp.status_code == 404 and not resp.headers.get("X-Error-Code"):
            return False
        return True


__all__ = ["TransferChoice"]
