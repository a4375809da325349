"""hfcheck's own state database: confirmed uploads and deep checks, on real SQLite files."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from hfcheck.db.state import STATE_DB_NAME, StateDB
from hfcheck.errors import InputError


@dataclass(frozen=True)
class Item:
    repo_id: str
    path_in_repo: str
    sha256: str
    size: int
    source: str | None = "repair"


def items(n: int, repo: str = "o/r", prefix: str = "encrypted_images/u") -> list[Item]:
    return [Item(repo, f"{prefix}/{i:06d}.enc", f"{i:064x}", i) for i in range(n)]


def test_records_and_reads_back_confirmed_uploads(tmp_path: Path) -> None:
    with StateDB.in_data_dir(tmp_path / "data") as db:
        assert db.path == tmp_path / "data" / STATE_DB_NAME
        assert db.record_uploads(items(3), "c" * 40, uploaded_at=100.0) == 3
        row = db.get_upload("o/r", "encrypted_images/u/000002.enc")
        assert row is not None
        assert (row.sha256, row.size, row.commit_oid, row.uploaded_at, row.source) == (
            f"{2:064x}",
            2,
            "c" * 40,
            100.0,
            "repair",
        )
        assert db.get_upload("o/r", "nope") is None and db.get_upload("x/y", row.path) is None
        # a newer confirmed upload of the same path replaces the row
        db.record_uploads([Item("o/r", row.path, "f" * 64, 9)], "d" * 40)
        again = db.get_upload("o/r", row.path)
        assert again is not None and (again.sha256, again.size, again.commit_oid) == ("f" * 64, 9, "d" * 40)
        assert db.count_uploads() == 3


def test_state_survives_reopening_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateDB.open(path) as db:
        db.record_uploads(items(5), "a" * 40)
    with StateDB.open(path) as db:
        assert db.count_uploads("o/r") == 5
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_iter_uploads_pages_through_many_rows_in_order(tmp_path: Path) -> None:
    with StateDB.open(tmp_path / "state.db") as db:
        db.record_uploads(items(2500, "o/b"), "a" * 40)
        db.record_uploads(items(10, "o/a"), "b" * 40)
        paths = [r.path for r in db.iter_uploads("o/b")]
        assert paths == sorted(paths) and len(paths) == 2500 == len(set(paths))
        everything = [(r.repo_id, r.path) for r in db.iter_uploads()]
        assert len(everything) == 2510 and everything == sorted(everything) and everything[0][0] == "o/a"


def test_record_uploads_is_one_transaction(tmp_path: Path) -> None:
    with StateDB.open(tmp_path / "state.db") as db:
        bad = [*items(3), Item("o/r", "encrypted_images/u/x.enc", None, 1)]  # type: ignore[arg-type]
        with pytest.raises(sqlite3.IntegrityError):
            db.record_uploads(bad, "a" * 40)
        assert db.count_uploads() == 0  # all or none


def test_deep_checks_keep_history_and_answer_the_latest(tmp_path: Path) -> None:
    with StateDB.open(tmp_path / "state.db") as db:
        assert db.last_deep_check("o/r", "p") is None
        db.record_deep_check("o/r", "p", "ok", checked_at=10.0)
        db.record_deep_check("o/r", "p", "corrupt", checked_at=20.0)
        db.record_deep_check("o/r", "q", "ok", checked_at=30.0)
        last = db.last_deep_check("o/r", "p")
        assert last is not None and (last.result, last.checked_at) == ("corrupt", 20.0)


def test_threads_can_share_one_handle(tmp_path: Path) -> None:
    with StateDB.open(tmp_path / "state.db") as db:

        def write(k: int) -> None:
            for j in range(20):
                db.record_uploads(items(5, prefix=f"t{k}/{j}"), "a" * 40)

        threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert db.count_uploads() == 4 * 20 * 5


def test_a_file_that_is_not_a_database_is_a_clear_input_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(InputError, match="state database"):
        StateDB.open(path)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    with pytest.raises(InputError, match="newer hfcheck"):
        StateDB.open(path)


def test_unreadable_backups_are_the_latest_failed_read_backs_not_uploaded_since(tmp_path: Path) -> None:
    with StateDB.in_data_dir(tmp_path) as db:
        a, b, c, d = "encrypted_images/u/a", "encrypted_images/u/b", "encrypted_images/u/c", "encrypted_images/u/d"
        db.record_deep_check("o/r", a, "decrypt_failed", checked_at=10.0)  # still unreadable
        db.record_deep_check("o/r", b, "decrypt_failed", checked_at=10.0)
        db.record_deep_check("o/r", b, "deep_ok", checked_at=20.0)  # a later read-back was fine
        db.record_deep_check("o/r", c, "decrypt_failed", checked_at=10.0)
        db.record_uploads([Item("o/r", c, "0" * 64, 1)], "e" * 40, uploaded_at=15.0)  # uploaded again since
        db.record_uploads([Item("o/r", d, "0" * 64, 1)], "e" * 40, uploaded_at=5.0)
        db.record_deep_check("o/r", d, "decrypt_failed", checked_at=10.0)  # failed after its upload
        db.record_deep_check("o/r", d, "decrypt_failed", checked_at=12.0)
        assert db.unreadable_backups() == [("o/r", a), ("o/r", d)]


def test_migrations_go_verified_recorded_deleted_and_a_deleted_file_leaves_the_uploads(tmp_path: Path) -> None:
    old, new = ("o/r", "encrypted_images/u/gAAAA"), ("o/r", "encrypted_images/u/abc")
    with StateDB.in_data_dir(tmp_path) as db:
        db.record_uploads([Item(*old, "0" * 64, 1)], "e" * 40)  # an old file hfcheck had uploaded (a repair)
        db.record_migration_verified(old, new, "1", "hfcheck-v1", "f" * 64, at=10.0)
        assert [m.path for m in db.migrations(state="unrecorded")] == [old[1]] and db.migrations(
            state="deletable"
        ) == []
        db.mark_migrations("recorded_at", [old], at=11.0)
        assert [m.new_path for m in db.migrations(state="deletable")] == [new[1]]
        db.mark_migrations("deleted_at", [old], at=12.0, commit="c" * 40)
        (m,) = db.migrations()
        assert (m.verified_at, m.recorded_at, m.deleted_at, m.delete_commit) == (10.0, 11.0, 12.0, "c" * 40)
        assert db.migrations(state="deletable") == [] and db.get_upload(*old) is None
        with pytest.raises(ValueError):
            db.mark_migrations("verified_at", [old])
