"""The one writer behind repair and backup, end to end on the demo world: each command's uploads
are recorded under its own name in state.db, and every line it prints is Japanese under
`--lang ja` (the users' old script's per-tweet shape included)."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from subprocess import CompletedProcess

import pytest

from hfcheck.model.paths import BackupURL
from tests.helpers import DemoWorld, db_rows, demo_world, run_cli


@dataclass
class Ran:
    world: DemoWorld
    gaps: dict[str, int]
    verify_ja: CompletedProcess[str]
    repair_ja: CompletedProcess[str]
    backup_ja: CompletedProcess[str]


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ran]:
    """verify --check-missing, repair and backup, all with --lang ja, on one demo world."""
    with demo_world(tmp_path_factory.mktemp("writer"), tweets=60) as w:
        verify_ja = run_cli(w, "verify", "--check-missing", "--lang", "ja")
        gaps = json.loads((w.root / "data" / "verify_report.json").read_text())["gaps"]
        repair_ja = run_cli(w, "repair", "--lang", "ja")
        backup_ja = run_cli(w, "backup", "--lang", "ja")
        yield Ran(w, gaps, verify_ja, repair_ja, backup_ja)


def _paths(world: DemoWorld, kinds: tuple[str, ...]) -> set[str]:
    rows = db_rows(world)
    tweets = [tid for kind in kinds for tid in world.planted["tweets"][kind]]
    return {BackupURL.parse(u).path for tid in tweets for u in json.loads(rows[tid][2] or "[]")}


@pytest.mark.slow
def test_uploads_are_recorded_under_the_command_that_made_them(ran: Ran) -> None:
    assert "Traceback" not in ran.repair_ja.stderr + ran.backup_ja.stderr
    con = sqlite3.connect(ran.world.root / "data" / "state.db")
    try:
        source = dict(con.execute("SELECT path, source FROM uploads").fetchall())
    finally:
        con.close()
    repaired = _paths(ran.world, ("missing", "wrong_path", "empty_media")) & source.keys()
    backed_up = _paths(ran.world, ("unbacked", "partial")) & source.keys()
    assert repaired and backed_up and not repaired & backed_up
    assert {source[p] for p in repaired} == {"repair"}
    assert {source[p] for p in backed_up} == {"backup"}
    assert set(source.values()) == {"repair", "backup"}


def test_repair_speaks_japanese_in_the_old_scripts_shape(ran: Ran) -> None:
    out = ran.repair_ja.stdout
    n = len(re.findall(r"^\[\d+/(\d+)\] 処理中: ツイートID \d+", out, re.M))
    assert n >= 4 and re.search(rf"^\[1/{n}\] 処理中: ツイートID ", out, re.M), out
    assert re.search(r"^  欠落ファイル数: \d+$", out, re.M)
    assert re.search(r"^  再処理対象: 画像 \d+件, 動画 \d+件$", out, re.M)
    assert re.search(r"^  再アップロード成功: encrypted_(images|videos)/", out, re.M)
    assert re.search(r"^  エラー: X でツイートが削除済み：「", out, re.M)  # the tweet deleted on X
    assert re.search(r"^  完了: 成功 \d+件, 失敗 \d+件$", out, re.M)
    assert "== 修復結果 ==" in out and "コミット数" in out
    assert re.search(r"^完了: 成功 \d+件, 失敗 1件$", out, re.M)
    assert "-> ok" not in out and "file(s)" not in out and "Tweets" not in out


def test_backup_and_the_gaps_total_speak_japanese(ran: Ran) -> None:
    out = ran.backup_ja.stdout
    assert re.search(r"^\[1/\d+\] 処理中: ツイートID \d+", out, re.M)
    assert re.search(r"^  未バックアップのファイル数: \d+$", out, re.M)
    assert re.search(r"^  処理対象: 画像 \d+件, 動画 \d+件$", out, re.M)
    assert re.search(r"^  アップロード成功: encrypted_(images|videos)/", out, re.M)
    assert "== バックアップ結果 ==" in out and re.search(r"^完了: 成功 \d+件, 失敗 0件$", out, re.M)
    total = ran.gaps["unbacked"] + ran.gaps["partial"]
    assert total > 0 and f"合計 {total:,} 件のツイートがバックアップされていません" in ran.verify_ja.stdout


def test_dry_runs_speak_japanese_too(ran: Ran) -> None:
    r = run_cli(ran.world, "repair", "--dry-run", "--lang", "ja")
    assert r.returncode == 0 and "== 修復計画（ドライラン：何も変更していません） ==" in r.stdout
    assert "upload " not in r.stdout and "error:" not in r.stdout
