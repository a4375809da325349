"""The user's database stays the user's (issue 18.3): every command leaves its journal mode,
pragmas and schema as they were, in a rollback-journal and a WAL database alike, and changes
no column but the URL columns; a lock held past the busy timeout is one line and exit 3."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from hfcheck.sim.demo import REPO
from tests.helpers import cli_exit_code, demo_world, run_cli

PRAGMAS = ("journal_mode", "user_version", "application_id", "page_size", "auto_vacuum", "encoding")


def db_shape(db: Path) -> dict[str, Any]:
    """What a command must not change: the file's pragmas and its schema (sqlite_master)."""
    con = sqlite3.connect(db)
    try:
        shape: dict[str, Any] = {p: con.execute(f"PRAGMA {p}").fetchone()[0] for p in PRAGMAS}
        shape["schema"] = con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name").fetchall()
        return shape
    finally:
        con.close()


def other_columns(db: Path) -> dict[str, tuple[Any, ...]]:
    """Every column but the two URL columns, by tweet id."""
    con = sqlite3.connect(db)
    try:
        return {r[0]: r[1:] for r in con.execute("SELECT id, username, text FROM tweets")}
    finally:
        con.close()


def set_journal(db: Path, mode: str) -> None:
    con = sqlite3.connect(db)
    try:
        assert con.execute(f"PRAGMA journal_mode = {mode}").fetchone()[0] == mode
    finally:
        con.close()


def commands(tmp: Path) -> list[list[str]]:
    """Every command that opens the archive, each as a user runs it."""
    return [
        ["verify", "--check-missing"],
        ["verify", "--deep", "--sample", "all"],
        ["repair"],
        ["backup"],
        ["restore", "--all", "--out", str(tmp / "restored")],
        ["audit"],
        ["migrate", "--to", "fernet", "--limit", "3"],
        ["watch", "--once"],
        ["doctor"],
    ]


@pytest.mark.slow
@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_every_command_leaves_journal_mode_pragmas_and_schema_as_they_were(tmp_path: Path, journal: str) -> None:
    with demo_world(tmp_path / "w", tweets=30) as world:
        db = world.root / "archive.db"
        set_journal(db, journal)
        before, kept = db_shape(db), other_columns(db)
        assert before["journal_mode"] == journal
        for args in commands(tmp_path):
            r = run_cli(world, *args)
            assert "Traceback" not in r.stderr, (args, r.stderr[-2000:])
            assert r.returncode in (0, 1, 3), (args, r.returncode, r.stderr[-2000:])
            assert db_shape(db) == before, args
            assert other_columns(db) == kept, args
            if journal == "delete":
                assert not Path(f"{db}-wal").exists(), args
        assert world.hub.store.list_paths(REPO)  # the commands did run against the Hub


def hold_lock(db: Path, sql: str, ready: threading.Event, release: threading.Event) -> None:
    """Another program: takes a lock with `sql` and holds it until `release`."""
    con = sqlite3.connect(db, isolation_level=None)
    try:
        con.execute(sql)
        ready.set()
        release.wait(60)
        con.execute("ROLLBACK")
    finally:
        con.close()


@pytest.mark.parametrize(
    ("journal", "args", "lock"),
    [
        ("delete", ["verify"], "BEGIN EXCLUSIVE"),  # a rollback journal's writer blocks readers too
        ("wal", ["repair"], "BEGIN IMMEDIATE"),  # in WAL only another writer blocks the row edit
    ],
)
def test_a_lock_held_past_the_busy_timeout_is_one_line_and_exit_3(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    journal: str,
    args: list[str],
    lock: str,
) -> None:
    from hfcheck.db import archive
    from hfcheck.net import twitter
    from hfcheck.sim.x_canned import FixtureTransport

    monkeypatch.setattr(archive, "BUSY_TIMEOUT_MS", 300)
    monkeypatch.setattr(twitter, "_stand_in", None)  # restored after the test
    with demo_world(tmp_path / "w", tweets=30) as world:
        twitter.stand_in_for_x(FixtureTransport(json.loads((world.root / "x_fixtures.json").read_text("utf-8"))))
        for key, value in world.env().items():
            monkeypatch.setenv(key, value)
        db = world.root / "archive.db"
        set_journal(db, journal)
        argv = [*args, "--config", str(world.root / "hfcheck.toml"), "--lang", "en"]
        if args == ["repair"]:
            assert cli_exit_code(["verify", *argv[1:]]) == 1  # the problems repair will fix
            capsys.readouterr()
        ready, release = threading.Event(), threading.Event()
        holder = threading.Thread(target=hold_lock, args=(db, lock, ready, release))
        holder.start()
        try:
            assert ready.wait(10)
            code = cli_exit_code(argv)
        finally:
            release.set()
            holder.join()
        err = capsys.readouterr().err
        assert code == 3, err
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and "locked by another program" in lines[0] and str(db) in lines[0], err
        assert "Traceback" not in err
        # progress saved: the same command again, with no lock, finishes the work
        again = cli_exit_code(argv)
        assert again in (0, 1), capsys.readouterr()
        capsys.readouterr()
        if args == ["repair"]:
            assert cli_exit_code(["verify", *argv[1:]]) == 1  # only the malformed URLs, fixed by hand, are left
            assert re.search(r"^Missing +0$", capsys.readouterr().out, re.M)


def test_a_scraper_writing_during_backups_never_fails_on_a_rollback_journal(tmp_path: Path) -> None:
    """The scraper (busy timeout 30 s, as the demo's) inserts while `backup` reads and edits rows
    of a rollback-journal database: neither fails, and the file stays in its journal mode."""
    import subprocess

    from tests.helpers import watch_world

    with watch_world(tmp_path / "w") as w:
        assert db_shape(w.db)["journal_mode"] == "delete"
        before = db_shape(w.db)
        assert w.scraper(4, 0, 1_800_000_000_000_000_000).wait(60) == 0  # something to back up at once
        scraper = w.scraper(40, 15, 1_800_000_000_000_001_000, seed=2)
        codes = []
        while scraper.poll() is None or not codes:
            cmd = [*w.watch_cmd()[:3], "backup", "--config", str(w.root / "hfcheck.toml")]
            r = subprocess.run(cmd, env=w.env(), capture_output=True, text=True, timeout=120)
            assert "Traceback" not in r.stderr and "locked" not in r.stderr, r.stderr
            codes.append(r.returncode)
        assert scraper.wait(60) == 0
        assert set(codes) <= {0, 1}, codes
        assert db_shape(w.db) == before


def test_the_key_checks_sample_under_a_lock_past_the_busy_timeout_is_the_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key check picks its names with a query of its own: a lock another program takes
    after the archive opened, held past the busy timeout, ends in the same one line (exit 3)
    as every other read, not in a traceback."""
    import asyncio

    from hfcheck.db import archive
    from hfcheck.errors import IncompleteError
    from hfcheck.readback.keycheck import sample_names

    monkeypatch.setattr(archive, "BUSY_TIMEOUT_MS", 300)
    with demo_world(tmp_path / "w", tweets=30) as world:
        cfg = world.config()
        db = world.root / "archive.db"
        set_journal(db, "delete")

        async def sample_while_locked() -> None:
            async with archive.Archive(cfg) as arch:
                assert await sample_names(arch, cfg.endpoint.rstrip("/"))  # unlocked: names are found
                ready, release = threading.Event(), threading.Event()
                holder = threading.Thread(target=hold_lock, args=(db, "BEGIN EXCLUSIVE", ready, release))
                holder.start()
                try:
                    assert ready.wait(10)
                    await sample_names(arch, cfg.endpoint.rstrip("/"))
                finally:
                    release.set()
                    holder.join()

        with pytest.raises(IncompleteError) as caught:
            asyncio.run(sample_while_locked())
        assert caught.value.exit_code == 3
        line = str(caught.value)
        assert "\n" not in line and "locked by another program" in line and str(db) in line
