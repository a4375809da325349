"""Atomic writes: the new content under the final name, no temp file left, and a failure at any
step leaves the old file exactly as it was."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import BinaryIO

import pytest

from hfcheck import atomic
from hfcheck.atomic import write_bytes_atomic, write_json_atomic


def test_replaces_the_file_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "state.json"
    write_bytes_atomic(target, b"old")
    write_json_atomic(target, {"n": 1, "word": "欠落"})
    assert json.loads(target.read_text(encoding="utf-8")) == {"n": 1, "word": "欠落"}
    assert "欠落" in target.read_text(encoding="utf-8")  # readable by people: not \\u-escaped
    assert sorted(p.name for p in target.parent.iterdir()) == ["state.json"]


def test_the_data_is_fsynced_before_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "p.json"
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: (events.append("rename"), real_replace(a, b))[1])
    write_bytes_atomic(target, b"new")
    assert events[:2] == ["fsync", "rename"] and events[-1] == "fsync"  # the file, the rename, the folder
    assert target.read_bytes() == b"new"


class _HalfWriter:
    """The temp file of a full disk: the first bytes go in, then the write fails."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f

    def __enter__(self) -> _HalfWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.f.close()

    def write(self, data: bytes) -> int:
        self.f.write(data[:3])
        raise OSError(28, "No space left on device")


@pytest.mark.parametrize("step", ["write", "fsync", "replace"])
def test_a_failure_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    target = tmp_path / "p.json"
    target.write_bytes(b"old content")

    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    if step == "write":
        real_fdopen = os.fdopen
        monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode, **kw: _HalfWriter(real_fdopen(fd, mode, **kw)))
    else:
        monkeypatch.setattr(atomic.os, step, full)
    with pytest.raises(OSError, match="No space"):
        write_bytes_atomic(target, b"new content")
    assert target.read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"]  # the temp file is gone too
