"""Exit codes, and every exception hfcheck raises (as httpx keeps its own in one module).

Expected failures raise a `HfcheckError` subclass; the CLI prints its message on one line
(never a traceback) and exits with its code. Messages never contain tokens or keys. The other
exceptions are signals between parts of a run: each is caught and turned into a finding, an
outcome or a retry by the part that called, and never reaches the user as a traceback.

    HfcheckError                 one line for the user, and `exit_code`
    ├── ConfigError              2  a missing or invalid setting
    ├── InputError               2  a bad input file (config, key, progress file, database)
    │   ├── WrongKey             2  the key opens nothing recorded in this archive
    │   ├── FileTooLarge         2  above a one-shot codec's size limit
    │   └── InvalidName          2  a plaintext name that cannot be encrypted
    ├── IncompleteError          3  the run stopped before the end (progress saved)
    └── CryptoError              1  does not decrypt: wrong key, tampered, truncated, foreign
        └── OneWayNames             the codec's names cannot be decrypted
    ValueError
    ├── UnsafePath                  a database value that would escape its root
    └── MalformedURL                a recorded URL that is not a resolve URL we can check
    Exception
    ├── TransientError              worth retrying: 5xx, reset, timeout
    ├── RateLimited                 a 429, with the server's wait
    ├── GaveUp                      the retry budget is spent
    ├── Unverifiable                retries exhausted or an answer we cannot read: "unverified"
    │   └── Refused                 a listing answered for the whole repo: not found, no access
    └── HubAnswered                 a final Hub answer, not retried (missing, no access, bad request)
        └── FetchFailed             a final answer for one file download
    OSError
    └── BlockedAddress              a media host that resolves to a private address only
    RuntimeError
    └── CommitterStopped            the committer ended; no more files are accepted

Private control-flow exceptions of one function (`net.fetch._Restart`) stay in their module,
and the emulator (`sim/`), a separate program, keeps its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from hfcheck.net.outcome import HubOutcome

EXIT_OK = 0  # everything checked and present / done
EXIT_PROBLEMS = 1  # the run completed and found (or left) problems
EXIT_USAGE = 2  # bad command line, configuration or input file
EXIT_INCOMPLETE = 3  # the run could not complete (no access, interrupted, Hub unreachable)


class Words(Protocol):
    """A message that renders in the run's language (`report.catalog.Msg`); `str()` is English."""

    def render(self, lang: str) -> str: ...


class HfcheckError(Exception):
    """An expected failure: one clear line for the user, and an exit code. Raised with a `Msg`
    (`report.catalog.msg`) it is shown in the run's language; `str()` stays English."""

    exit_code = EXIT_INCOMPLETE

    def __init__(self, message: str | Words = "") -> None:
        super().__init__(str(message))
        self.words = None if isinstance(message, str) else message

    def render(self, lang: str) -> str:
        return self.words.render(lang) if self.words is not None else str(self)


class ConfigError(HfcheckError):
    """A missing or invalid setting; the message names it."""

    exit_code = EXIT_USAGE


class InputError(HfcheckError):
    """A bad input file (progress file, key file, database) named in the message."""

    exit_code = EXIT_USAGE


class IncompleteError(HfcheckError):
    """The run stopped before it could finish; progress was saved where there is any."""

    exit_code = EXIT_INCOMPLETE


class CryptoError(HfcheckError):
    """Decryption or authentication failed: wrong key, tampered, truncated or foreign file."""

    exit_code = EXIT_PROBLEMS


class OneWayNames(CryptoError):
    """The codec's names cannot be decrypted: find the local file by tweet id and media index."""


class WrongKey(InputError):
    """The configured key opens none of the archive's recorded names, files or key-check record."""


class FileTooLarge(InputError):
    """A file above a one-shot codec's size limit (it would be held in memory several times)."""


class InvalidName(InputError, ValueError):
    """A plaintext name or parent that cannot be encrypted (empty, `..`, `/`, too long)."""


class UnsafePath(ValueError):
    """A value from the database that would escape its root or is not a valid path part."""


class MalformedURL(ValueError):
    """A recorded backup URL that is not a Hub resolve URL we can check."""


class TransientError(Exception):
    """A failure worth retrying (5xx, reset, timeout); `status` is None for network errors."""

    def __init__(self, detail: str, status: int | None = None) -> None:
        super().__init__(detail)
        self.status = status


class RateLimited(Exception):
    """A 429; `retry_after` is the server's word on how long to wait (seconds)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited, retry after {retry_after:.0f}s")
        self.retry_after = retry_after


class GaveUp(Exception):
    """The policy's budget is spent; the message says why (never a URL or a token)."""


class Unverifiable(Exception):
    """Retries exhausted (or an answer we cannot interpret): the item stays unverified."""


class Refused(Unverifiable):
    """A tree listing answered for the whole repo (`access`: not found, or no access), so that
    verify learns the repo's access from its listing without asking separately."""

    def __init__(self, access: HubOutcome, why: str) -> None:
        super().__init__(why)
        self.access = access
        self.why = why


class HubAnswered(Exception):
    """A final Hub answer (not retried): `outcome` says which (missing, no access, fatal);
    `detail` is for people (never a token)."""

    def __init__(self, outcome: HubOutcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail


class FetchFailed(HubAnswered):
    """A final answer for one file download."""


class BlockedAddress(OSError):
    """A host name resolved only to private/loopback/link-local addresses."""


class CommitterStopped(RuntimeError):
    """The committer task ended (closed, or a callback raised): no more items are accepted."""
