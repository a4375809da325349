"""Under LANG=ja every line is Japanese: every command runs on the demo archive (served by the
emulator) and no English word is left outside what is not a word of a language — file names,
URLs, ids and numbers, command, flag, setting and environment names.

The checker strips those, then looks for runs of three or more Latin letters. The few words
allowed (`ALLOWED`) are names that stay as they are in Japanese text too."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from hfcheck.commands.restore import problem_line
from hfcheck.crypto import generate_key_file
from hfcheck.readback.restore import RestoreOutcome
from tests.helpers import demo_world, run_cli

COMMANDS = {"audit", "backup", "crypt", "demo", "doctor", "hub", "migrate", "repair", "restore", "verify", "watch"}
# Proper names, written in Latin letters in Japanese text too: the Hub and its storages (Xet,
# LFS), formats and languages (JSON, TOML, URL, SQL, SQLite, HTML), a library and a scheme named in
# settings (twscrape, fernet), and the Ctrl key.
ALLOWED = {"Hub", "Xet", "LFS", "JSON", "TOML", "URL", "SQL", "SQLite", "HTML", "twscrape", "fernet", "Ctrl"}

_STRIP = [
    re.compile(r"^\s*\d+\. \S+\s+[\d,]+$"),  # a row of the per-account table: rank, account, count
    re.compile(r"\b[a-z][a-z0-9+.-]*://\S+"),  # URLs
    re.compile(r"'[^']*'|「[^」]*」"),  # quoted values: names from the database, X's own words
    re.compile(r"`[^`]*`"),  # backticked code
    re.compile(r"\S*/\S*"),  # paths, repo ids, n/t samples: anything with a slash
    re.compile(r"\S+\.(?:json|html|toml|db|key|jpg|jpeg|png|gif|webp|mp4|mov)\b"),  # file names
    re.compile(r"\bpython -m hfcheck\b|\bhfcheck\b"),  # the program (its file names went with the paths)
    re.compile(r"--?[A-Za-z][\w-]*(?:=\S*)?"),  # flags (and their values)
    re.compile(r"\b[a-z]+(?:\.[a-z_*]+)+\b"),  # setting keys: crypto.key_file, archive.columns.*
    re.compile(r"\b\w*_\w*\b"),  # identifiers: wrong_path, HF_TOKEN, deep_decrypt_failed
    re.compile(r"\b[\w.-]*-v\d+\b"),  # scheme names: hfcheck-v1
    re.compile(r"\b[0-9a-fA-F]{8,}\b"),  # hashes
    re.compile(r"\b\d[\w,.:%]*"),  # numbers, sizes, times
]
_WORD = re.compile(r"[A-Za-z]{3,}")


def english_words(line: str) -> list[str]:
    """The English words of a line once names, paths, URLs, ids, flags and commands are gone."""
    for pattern in _STRIP:
        line = pattern.sub(" ", line)
    return [w for w in _WORD.findall(line) if w not in ALLOWED and w not in COMMANDS]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("✓ 鍵ファイル: /tmp/a/archive.key（モード 0600、hfcheck-v1）", []),
        ("    python -m hfcheck repair --config /tmp/x/hfcheck.toml --dry-run", []),
        ("- missing: 6 files 6 tweets", ["missing", "files", "tweets"]),
        ("hfcheck: error: archive database not found: /x.db", ["error", "archive", "database", "not", "found"]),
        ("https://h/datasets/a/b/resolve/main/encrypted_images/x/ABCDEF: 復号できません", []),
        ("HF_TOKEN を crypto.key_file に（wrong_path）", []),
        ("(unbacked) 1700000000000000000", ["unbacked"]),
        ("   2. dave99                  3", []),
        ("X でツイートが削除済み：「This Post was deleted by the Post author.」", []),
        ("テーブル 'tweets'（'id', 'username'）", []),
    ],
)
def test_the_checker(line: str, words: list[str]) -> None:
    assert english_words(line) == words


def english_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if english_words(line)]


@pytest.mark.slow
def test_every_command_speaks_japanese(tmp_path: Path) -> None:
    other_key = tmp_path / "other.key"
    generate_key_file(other_key)
    with demo_world(tmp_path / "demo", tweets=30) as w:
        env = {**w.env(), "LANG": "ja_JP.UTF-8"}
        planted = w.planted["tweets"]
        out = tmp_path / "restored"
        runs: list[tuple[str, ...]] = [
            ("doctor",),
            ("doctor", "--key-file", str(other_key)),
            ("verify",),
            ("verify", "--check-missing"),
            ("verify", "--deep", "--sample", "all"),
            ("audit",),
            ("restore", "--tweet", planted["missing"][0], "--tweet", planted["ok"][0], "--out", str(out)),
            ("repair", "--dry-run"),
            ("backup", "--dry-run"),
            ("repair",),
            ("backup",),
            ("audit",),
            ("migrate", "--to", "fernet", "--dry-run"),
            ("watch", "--once"),
            ("verify", "--set", "archive.table=posts"),  # bad input: one error line
            ("verify", "--set", "archive.tabel=posts"),  # a mistyped setting
            ("doctor", "--set", "archive.table=x y"),  # a config that does not load: the config line
            ("verify", "--key-file", str(tmp_path / "absent.key"), "--deep"),
            # last: a wrong key marks files unreadable; what the commands say about it
            ("verify", "--deep", "--sample", "all", "--key-file", str(other_key)),
            ("repair", "--dry-run", "--key-file", str(other_key)),
            ("restore", "--tweet", planted["ok"][0], "--out", str(tmp_path / "r2"), "--key-file", str(other_key)),
        ]
        found: dict[str, list[str]] = {}
        for args in runs:
            r = run_cli(w, *args, env=env)
            assert "Traceback" not in r.stderr, (args, r.stderr[-2000:])
            bad = english_lines(r.stdout + "\n" + r.stderr)
            if bad:
                found[" ".join(args)] = bad
    assert not found, "\n".join(f"{cmd}:\n  " + "\n  ".join(lines[:12]) for cmd, lines in found.items())


@pytest.mark.slow
def test_the_demo_narrates_in_japanese(tmp_path: Path) -> None:
    env = {**os.environ, "LANG": "ja_JP.UTF-8"}
    r = subprocess.run(
        [sys.executable, "-m", "hfcheck", "demo", "run", str(tmp_path / "demo"), "--tweets", "20"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "デモ成功" in r.stdout and "終了コード 0" in r.stdout
    assert english_lines(r.stdout + "\n" + r.stderr) == []


# -- bad inputs: every error line in Japanese, details included (issue 18 point 7) ---------------

# One bad value per config check: (section, key, TOML value).
BAD_SETTINGS = [
    ("archive", "db", '""'),  # not a path
    ("archive", "table", '""'),  # not a string
    ("archive", "table", '"x y"'),  # not an SQL name
    ("archive", "tabel", '"x"'),  # unknown setting
    ("hub", "max_files_per_repo", "0"),  # not a positive integer
    ("limits", "window_seconds", "-1"),  # not a positive number
    ("watch", "metrics_port", "70000"),  # not a port
    ("notify", "webhook_url", '"nope"'),  # not a URL
    ("watch", "audit_every", '"soon"'),  # not a duration
    ("crypto", "scheme", '"rot13"'),  # not a scheme
    ("hub", "repos", "5"),  # not a list of strings
    ("hub", "repos", '["nope"]'),  # not a repo id
    ("run", "lang", '"fr"'),  # not a language
    ("hub", "endpoint", '"ftp://x"'),  # not an http(s) URL
    ("hub", "revision", '"a..b"'),  # not a revision
]


def _hfcheck(cwd: Path, *args: str, lang: str = "ja_JP.UTF-8") -> subprocess.CompletedProcess[str]:
    """`python -m hfcheck ARGS` as a user runs it, with no token and the given language."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "LC_", "HFCHECK"))}
    env["LANG"] = lang
    cmd = [sys.executable, "-m", "hfcheck", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False)


def _one_japanese_error(r: subprocess.CompletedProcess[str], code: int = 2) -> str:
    """The run failed with exit `code` and one error line, in Japanese."""
    assert r.returncode == code, r.stdout + r.stderr
    lines = (r.stdout + r.stderr).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hfcheck: エラー: "), lines
    assert english_words(lines[0]) == [], lines[0]
    return lines[0]


@pytest.mark.parametrize(("section", "key", "value"), BAD_SETTINGS, ids=[f"{s}.{k}={v}" for s, k, v in BAD_SETTINGS])
def test_each_config_error_is_japanese(tmp_path: Path, section: str, key: str, value: str) -> None:
    db = "" if (section, key) == ("archive", "db") else 'db = "archive.db"\n'
    text = f"[archive]\n{db}" + (f"{key} = {value}\n" if section == "archive" else f"[{section}]\n{key} = {value}\n")
    (tmp_path / "hfcheck.toml").write_text(text)
    line = _one_japanese_error(_hfcheck(tmp_path, "verify", "--config", "hfcheck.toml"))
    assert f"'{key}'" in line or f".{key}'" in line or value in line.replace("'", '"')  # the setting or value named


def _bad_input_world(root: Path) -> None:
    """A config whose database lacks the tweets table, and key files that are wrong each way."""
    (root / "hfcheck.toml").write_text('[archive]\ndb = "archive.db"\n[hub]\nrepos = ["owner/name"]\n')
    (root / "notoml.toml").write_text("x = [\n")
    (root / "absent.toml").write_text('[archive]\ndb = "absent.db"\n')
    con = sqlite3.connect(root / "archive.db")
    con.execute("CREATE TABLE posts (id TEXT)")
    con.commit()
    con.close()
    (root / "garbled.key").write_text("not a key\n")
    (root / "garbled.key").chmod(0o600)
    generate_key_file(root / "good.key")
    generate_key_file(root / "open.key")
    (root / "open.key").chmod(0o644)


BAD_INPUTS = {
    "config file absent": ("verify", "--config", "nowhere.toml"),
    "config not TOML": ("verify", "--config", "notoml.toml"),
    "--set without =": ("verify", "--config", "hfcheck.toml", "--set", "archive.table"),
    "database absent": ("verify", "--config", "absent.toml"),
    "table absent": ("verify", "--config", "hfcheck.toml"),
    "key absent": ("crypt", "name", "a/b.jpg", "--config", "hfcheck.toml", "--key-file", "none.key"),
    "key not base64": ("crypt", "name", "a/b.jpg", "--config", "hfcheck.toml", "--key-file", "garbled.key"),
    "key readable by others": ("crypt", "name", "a/b.jpg", "--config", "hfcheck.toml", "--key-file", "open.key"),
    "keygen over a key": ("crypt", "keygen", "garbled.key", "--config", "hfcheck.toml"),
    "not an encrypted path": ("crypt", "unname", "a/zzzz", "--config", "hfcheck.toml", "--key-file", "good.key"),
    "does not decrypt": (
        "crypt",
        "decrypt",
        "garbled.key",
        "out",
        "--path",
        "a/b",
        "--config",
        "hfcheck.toml",
        "--key-file",
        "good.key",
        "--scheme",
        "fernet",
    ),
    "bad duration flag": ("watch", "--audit-every", "soon", "--config", "hfcheck.toml"),
    "bad scheme flag": ("migrate", "--to", "rot13", "--config", "hfcheck.toml"),
    "bad --sample": ("verify", "--deep", "--sample", "0/3", "--config", "hfcheck.toml"),
    "bad --tweet": ("restore", "--tweet", "abc", "--out", "o", "--config", "hfcheck.toml"),
    "unknown flag": ("verify", "--bogus"),
    "unknown command": ("verfy",),
    "extra argument": ("verify", "extra"),
    "missing argument": ("crypt", "encrypt"),
    "bad flag value": ("verify", "--concurrency", "many"),
    "flag without its value": ("restore", "--tweet"),
}


@pytest.mark.parametrize(("case", "args"), BAD_INPUTS.items(), ids=BAD_INPUTS.keys())
def test_each_bad_input_is_japanese(tmp_path: Path, case: str, args: tuple[str, ...]) -> None:
    _bad_input_world(tmp_path)
    _one_japanese_error(_hfcheck(tmp_path, *args), code=1 if case == "does not decrypt" else 2)


def test_english_usage_errors_stay_clicks(tmp_path: Path) -> None:
    r = _hfcheck(tmp_path, "verify", "--bogus", lang="C")
    assert r.returncode == 2
    assert r.stderr.startswith("Usage: hfcheck verify [OPTIONS]\n") and "Error: No such option" in r.stderr


def test_restore_keeps_the_hubs_detail_in_a_japanese_frame() -> None:
    hub = RestoreOutcome("failed", "123", "https://h/x", 0, "u/123_0.jpg", "missing", "Entry Not Found")
    ours = RestoreOutcome("failed", "123", "https://h/x", 0, "u/123_0.jpg", "decrypt_failed", "tag mismatch")
    ja = problem_line(hub, "ja")
    assert "「Entry Not Found」" in ja and english_words(ja) == []
    assert "tag" not in problem_line(ours, "ja") and english_words(problem_line(ours, "ja")) == []
    assert problem_line(hub, "en") == "FAILED tweet 123 [0] u/123_0.jpg: missing: Entry Not Found"
