"""The one en/ja catalog: every key in both languages, with the same placeholders, and every
key used by the code (a key left behind after a change is found here, not by a user)."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

import hfcheck
from hfcheck.model.outcomes import FileKind, UploadSource
from hfcheck.report.catalog import MESSAGES, Msg, msg, t

PACKAGE = Path(hfcheck.__file__).parent


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


# The Japanese block per tweet prints the result on lines of its own, not in the head line;
# restore's Japanese failure line leaves the Hub's English detail to restore_report.json.
HEAD_LINES = {"tweet_line", "tweet_ok", "tweet_fail", "restore_failed_line"}


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_key_has_english_and_japanese_with_the_same_fields(key: str) -> None:
    entry = MESSAGES[key]
    assert set(entry) == {"en", "ja"} and entry["en"].strip() and entry["ja"].strip()
    en, ja = _fields(entry["en"]), _fields(entry["ja"])
    assert ja <= en if key in HEAD_LINES else ja == en


def _used_strings() -> tuple[set[str], set[str]]:
    """String constants in the package (outside the catalog), and the constant heads of
    f-strings and sums (`f"run_title_{source}"`, `"pg_" + kind` -> `run_title_`, `pg_`)."""
    constants: set[str] = set()
    heads: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if path.name == "catalog.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args:
                first = node.args[0]
                if node.func.id in ("label", "count") and isinstance(first, ast.Constant):
                    if node.func.id == "label":  # label("kind", word, lang): kind_<an identifier in the code>
                        heads.add(f"{first.value}_")
                    else:  # count("file", n, lang): count_file_one, count_file_other
                        constants.update(f"count_{first.value}_{form}" for form in ("one", "other"))
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                constants.add(node.value)
            elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
                heads.add(str(node.values[0].value))
            elif (
                isinstance(node, ast.BinOp)
                and isinstance(node.op, ast.Add)
                and isinstance(node.left, ast.Constant)
                and isinstance(node.left.value, str)
            ):
                heads.add(node.left.value)  # "pg_" + status
    return constants, heads


def test_no_key_is_unused() -> None:
    constants, heads = _used_strings()
    words = constants | {str(e) for e in (*FileKind, *UploadSource)}
    unused = [
        k
        for k in MESSAGES
        if k not in constants
        and not any(k.startswith(h) and k.removeprefix(h).removesuffix("_dry") in words for h in heads)
    ]
    assert unused == []


def test_messages_are_filled_and_kept_for_later() -> None:
    assert t("gaps_total", "ja", n=17279) == "合計 17,279 件のツイートがバックアップされていません"
    assert t("gaps_total", "en", n=2) == "Total: 2 tweets not (fully) backed up"
    assert t("verify_title", "ja") == "バックアップURLチェック結果"
    later = msg("err_x_no_media", reason="")
    assert isinstance(later, Msg) and str(later) == "X lists no downloadable media for this tweet"
    assert later.render("ja") == "X にダウンロードできるメディアがありません"
    with pytest.raises(KeyError):
        msg("no_such_key")
