"""Atomic file writes: temp file in the same folder, fsync, rename, fsync the folder.

A reader (or a run resumed after `kill -9`) sees the old file or the new one, never half.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that a crash leaves the old or the new content."""

    def fill(f: BinaryIO) -> None:
        f.write(data)

    write_stream_atomic(path, fill)


def write_stream_atomic(path: Path, fill: Callable[[BinaryIO], None]) -> None:
    """Like `write_bytes_atomic`, for content produced by `fill(stream)` (large files): the
    temp file is renamed over `path` only if `fill` returned; otherwise it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:  # name the destination, not our temp file
        raise type(exc)(exc.errno, exc.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "wb", buffering=0) as f:
            fill(f)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (best effort: not every platform can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json_atomic(path: Path, obj: Any, *, compact: bool = False) -> None:
    """JSON (UTF-8, readable by people) written atomically. `compact` (one line, by the C encoder:
    several times faster than indenting) for files a program rewrites often, like checkpoints."""
    text = (
        json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        if compact
        else json.dumps(obj, ensure_ascii=False, indent=1)
    )
    write_bytes_atomic(path, text.encode("utf-8") + b"\n")
