"""Exit codes and the exceptions that map to them.

Expected failures raise a `HfcheckError` subclass; the CLI prints its message on one line
(never a traceback) and exits with its code. Messages never contain tokens or keys.
"""

from __future__ import annotations

EXIT_OK = 0  # everything checked and present / done
EXIT_PROBLEMS = 1  # the run completed and found (or left) problems
EXIT_USAGE = 2  # bad command line, configuration or input file
EXIT_INCOMPLETE = 3  # the run could not complete (no access, interrupted, Hub unreachable)


class HfcheckError(Exception):
    """An expected failure: one clear line for the user, and an exit code."""

    exit_code = EXIT_INCOMPLETE


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
