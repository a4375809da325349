"""The audit page people look at: headline, coverage gauge, history, account bars, problem list.

Rendered by headless Chromium after three audits with different damage (the DOM it built is
checked, and a screenshot per language lands in data/ for a person to look at); the history file
stays bounded; the page of a million-URL archive with 10,000 problems stays under 300 KB.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from hfcheck.config import Config
from hfcheck.errors import InputError
from hfcheck.model.paths import BackupURL
from hfcheck.readback.audit import (
    HISTORY_NAME,
    MAX_HISTORY,
    AuditOptions,
    append_history,
    coverage_since,
    headline,
    history_entry,
    load_history,
    run_audit,
)
from hfcheck.readback.sample import Sample, stable_slice
from hfcheck.report.html import MAX_PROBLEM_ROWS, render_audit_html
from hfcheck.report.text import write_audit_reports
from hfcheck.sim.demo import REPO
from tests.helpers import demo_world, with_hub

REPO_DATA = Path(__file__).resolve().parents[1] / "data"  # screenshots for a person (gitignored)
PAGE_LIMIT = 300_000


def chromium() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


def run_chromium(tmp: Path, page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        # no background connections: on a closed network they fail, many at a time, and slow the start
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        f"--user-data-dir={tmp / 'profile'}",
        *args,
        page.as_uri(),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=90)  # type: ignore[arg-type]
    assert r.returncode == 0, r.stderr[-2000:]
    return r


class Dom(HTMLParser):
    """Elements by id (attributes and text) and every element's attributes, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str], list[str]]] = []
        self._open: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}, []))
        if tag not in ("br", "input", "meta", "circle", "rect", "line", "polyline", "i"):
            self._open.append(len(self.elements) - 1)

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            i = self._open.pop()
            if self.elements[i][0] == tag:
                break

    def handle_data(self, data: str) -> None:
        for i in self._open:
            self.elements[i][2].append(data)

    def by_id(self, ident: str) -> tuple[dict[str, str], str]:
        (hit,) = [(a, "".join(t).strip()) for _, a, t in self.elements if a.get("id") == ident]
        return hit

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [
            a
            for t, a, _ in self.elements
            if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]

    def text(self) -> str:
        return " ".join("".join(t) for _, _, t in self.elements[:1])


def parse(text: str) -> Dom:
    d = Dom()
    d.feed(text)
    return d


def present_files(world: Any) -> dict[str, Path]:
    """Encrypted path -> local file, for the demo's intact tweets (each path in the repo)."""
    con = sqlite3.connect(world.root / "archive.db")
    ids = world.planted["tweets"]["ok"]
    rows = con.execute(
        f"SELECT id, username, huggingface_urls FROM tweets WHERE id IN ({','.join('?' * len(ids))})", ids
    ).fetchall()
    con.close()
    out = {}
    for tweet_id, username, raw in rows:
        for i, url in enumerate(json.loads(raw)):
            (local,) = (world.root / "media").glob(f"*/{username}/{tweet_id}_{i}.*")
            out[BackupURL.parse(url).path] = local
    return dict(sorted(out.items()))


def audit(cfg: Config, sample: str) -> dict[str, Any]:
    """One audit as `hfcheck audit` runs it: check, then write the reports (the next audit reads them)."""
    result = asyncio.run(with_hub(run_audit, cfg, AuditOptions(sample=Sample.parse(sample))))
    write_audit_reports(cfg.data_dir, result.report, cfg.lang, result.history)
    return result.report


@pytest.fixture(scope="module")
def three_audits(tmp_path_factory: pytest.TempPathFactory):
    """Audit 1: the demo's planted damage. Audit 2: a backed-up file deleted from the Hub.
    Audit 3: that file back, another backup truncated (it fails to decrypt when read back).
    Read-back slices 1/3, 2/3, 3/3: together they read every present file once."""
    with demo_world(tmp_path_factory.mktemp("page"), tweets=60) as w:
        cfg = w.config()
        store = w.hub.store
        files = present_files(w)
        deleted = next(p for p in files if stable_slice(p, 3) == 1)
        truncated, lost = [p for p in files if stable_slice(p, 3) == 3][:2]
        reports = [audit(cfg, "1/3")]
        kept = b"".join(store.read_blob(store.file_info(REPO, deleted).sha256))
        store.commit(REPO, deletions=[deleted])
        reports.append(audit(cfg, "2/3"))
        good = b"".join(store.read_blob(store.file_info(REPO, truncated).sha256))
        store.commit(REPO, [(deleted, kept), (truncated, good[:-1])], lfs=True)
        # a local file lost in the last slice (the demo's own lost ones fall in any slice: keys are random)
        files[lost].rename(files[lost].with_name(files[lost].name + ".lost"))
        reports.append(audit(cfg, "3/3"))
        yield w, cfg, reports, {"deleted": deleted, "truncated": truncated, "lost": lost}


def test_three_audits_make_three_points_of_history(three_audits) -> None:
    world, cfg, reports, planted = three_audits
    history = load_history(cfg.data_dir)
    assert [e["at"] for e in history] == [r["generated_at"] for r in reports]
    planted_urls = sum(world.planted["counts"][k] for k in ("missing", "wrong_path", "malformed"))
    read_back = [len(r["deep"]["problems"]) for r in reports]  # the slice's problems (the demo's lost local files)
    assert [e["problems"] for e in history] == [
        planted_urls + read_back[0],
        planted_urls + 1 + read_back[1],
        planted_urls + read_back[2],
    ]
    # first audit: everything is new; then the deleted file, and each slice's first read-backs
    assert [e["new"] for e in history] == [planted_urls + read_back[0], 1 + read_back[1], read_back[2]]
    assert history[2]["backed_up"] == history[0]["backed_up"] == history[1]["backed_up"] + 1
    deep3 = reports[2]["deep"]
    assert [f["path"] for f in deep3["problems"] if f["category"] == "decrypt_failed"] == [planted["truncated"]]
    assert planted["lost"] in [f["path"] for f in deep3["problems"] if f["category"] == "local_missing"]
    # every present file was read back once over the three slices; all but the truncated one decrypted
    assert deep3["covered"] == deep3["candidates"] - 1 and history[2]["covered"] == deep3["covered"]
    assert reports[2]["headline"]["coverage"]["audits"] == 3


@pytest.mark.slow
@pytest.mark.skipif(chromium() is None, reason="no Chromium on this machine (.ci/run installs Debian's chromium)")
def test_page_in_headless_chromium_en_and_ja(three_audits, tmp_path: Path) -> None:
    """What a person sees, as Chromium built it (after the page's script ran)."""
    world, cfg, reports, _ = three_audits
    report, history = reports[2], load_history(cfg.data_dir)
    page = cfg.data_dir / "audit_report.html"
    dom = parse(run_chromium(tmp_path, page, "--dump-dom").stdout)
    # the headline: status, last complete check, coverage figure
    assert dom.by_id("status")[1] == "Problems found"
    assert (
        dom.by_id("last-complete")[1]
        == f"Last complete check: {report['generated_at'][:10]} {report['generated_at'][11:16]} UTC"
    )
    cov = report["deep"]
    attrs, figure = dom.by_id("coverage-figure")
    assert (int(attrs["data-covered"]), int(attrs["data-total"])) == (cov["covered"], cov["candidates"])
    assert figure == f"{100 * cov['covered'] / cov['candidates']:.1f}%"
    # three points of history in each chart; the audits that found something new are marked
    for series in ("problems", "gaps", "backed_up"):
        start = next(i for i, (t, a, _) in enumerate(dom.elements) if t == "figure" and a.get("data-series") == series)
        dots = [a for t, a, _ in dom.elements[start:] if t == "circle"][:3]
        assert [int(a["data-value"]) for a in dots] == [e[series] for e in history], series
        assert [a["class"] for a in dots] == ["pt new"] * 3
    # the top account's bars carry its counts
    todo = ("missing", "wrong_path", "unbacked_media")
    top = min(
        report["accounts"], key=lambda a: (-sum(a.get(k, 0) for k in todo), -a.get("backed_up", 0), a["username"])
    )
    rows = dom.find("div", **{"class": "bar-row"}) + dom.find("div", **{"class": "bar-row rest"})
    assert rows[0]["data-account"] == top["username"]
    start = next(i for i, (t, a, _) in enumerate(dom.elements) if a.get("data-account") == top["username"])
    end = next(i for i, (t, a, _) in enumerate(dom.elements) if i > start and t == "div" and "data-account" in a)
    bars = {a["data-kind"]: int(a["data-value"]) for t, a, _ in dom.elements[start:end] if t == "rect"}
    assert bars == {k: top[k] for k in ("backed_up", "missing", "wrong_path", "unbacked_media") if top.get(k)}
    assert sum(bars.get(k, 0) for k in todo) == max(sum(a.get(k, 0) for k in todo) for a in report["accounts"])
    # the problem list: every row has its command; the script ran (filters shown, pager filled)
    assert dom.by_id("pfilters")[0].get("hidden") is None
    n_rows = len(dom.find("tr", data_k="missing")) + len(dom.find("tr", data_k="wrong_path"))
    assert n_rows == report["verify"]["counts"]["missing"] + report["verify"]["counts"]["wrong_path"]
    assert dom.by_id("ppos")[1].endswith(
        f"of {len(dom.find('button', **{'class': 'copy'})) + len(dom.find('tr', data_k='malformed'))}"
    )
    fixes: dict[str, set[str]] = {}
    kind = None
    for tag, a, text in dom.elements:
        kind = a.get("data-k", kind) if tag == "tr" else kind
        if tag == "code" and kind:
            fixes.setdefault(kind, set()).add("".join(text))
    assert fixes["missing"] == fixes["wrong_path"] == {report["fixes"]["missing"]}
    assert report["fixes"]["missing"].startswith("python -m hfcheck repair --db ")
    assert fixes["deep_decrypt_failed"] == {report["fixes"]["deep_decrypt_failed"]}
    assert all(c.startswith("python -m hfcheck restore ") and "--tweet 17" in c for c in fixes["deep_local_missing"])
    REPO_DATA.mkdir(exist_ok=True)
    run_chromium(tmp_path, page, f"--screenshot={REPO_DATA / 'audit_report_en.png'}", "--window-size=1280,2600")
    run_chromium(tmp_path, page, f"--screenshot={REPO_DATA / 'audit_report_en_phone.png'}", "--window-size=390,2400")

    # the same page in Japanese (what `--lang ja` / LANG=ja_* writes)
    page_ja = tmp_path / "audit_report_ja.html"
    page_ja.write_text(render_audit_html(report, "ja", history), encoding="utf-8")
    out = run_chromium(tmp_path, page_ja, "--dump-dom").stdout
    ja = parse(out)
    assert ja.by_id("status")[1] == "問題があります"
    assert ja.by_id("last-complete")[1].startswith("最後の完全なチェック：")
    assert "直近 3 回の監査で読み戻し・復号しました" in out and "読み戻しカバー率" in out
    for word in (
        "履歴",
        "バックアップのないメディア",
        "バックアップ済みファイル",
        "アカウント別（上位",
        "未バックアップ",
        "修復コマンド",
        "コピー",
        "すべての種類",
        "件中",
    ):
        assert word in out, word
    assert "Problems found" not in out and "Copy" not in out
    run_chromium(tmp_path, page_ja, f"--screenshot={REPO_DATA / 'audit_report_ja.png'}", "--window-size=1280,2600")


def test_cli_lang_ja_writes_the_japanese_page(three_audits) -> None:
    """`--lang ja` reaches the page: the audit's writer renders with the configured language."""

    world, cfg, reports, _ = three_audits
    ja = world.config(lang="ja", data_dir=cfg.data_dir / "ja")
    _, html_path = write_audit_reports(ja.data_dir, reports[2], ja.lang, load_history(cfg.data_dir))
    text = html_path.read_text(encoding="utf-8")
    assert '<html lang="ja">' in text and "読み戻しカバー率" in text and "履歴" in text


# --- history, headline -----------------------------------------------------------------------


def entry(i: int, status: str = "problems", **kw: Any) -> dict[str, Any]:
    return {
        "at": f"2025-01-{1 + i % 28:02d}T00:00:00+00:00",
        "started": 1000.0 + i,
        "status": status,
        "problems": i,
        "gaps": 0,
        "backed_up": 10,
        "new": 0,
        **kw,
    }


def test_history_is_bounded_and_written_atomically(tmp_path: Path) -> None:
    history = [entry(i) for i in range(MAX_HISTORY - 1)]
    for i in range(MAX_HISTORY - 1, MAX_HISTORY + 5):
        history = append_history(tmp_path, history, entry(i))
    on_disk = load_history(tmp_path)
    assert len(on_disk) == MAX_HISTORY and on_disk == history
    assert on_disk[0]["problems"] == 5 and on_disk[-1]["problems"] == MAX_HISTORY + 4  # the oldest dropped
    assert [p.name for p in tmp_path.iterdir()] == [HISTORY_NAME]  # no temp file left behind
    assert (tmp_path / HISTORY_NAME).stat().st_size < 200 * MAX_HISTORY


@pytest.mark.parametrize("content", ["{not json", '{"entries": 3}', "[1, 2]", '{"entries": [1]}'])
def test_a_bad_history_is_refused_not_replaced(tmp_path: Path, content: str) -> None:
    (tmp_path / HISTORY_NAME).write_text(content)
    with pytest.raises(InputError, match=HISTORY_NAME):
        load_history(tmp_path)
    assert (tmp_path / HISTORY_NAME).read_text() == content


def test_coverage_window_is_the_last_20_audits() -> None:
    assert coverage_since([]) == 0.0  # fewer than 20 audits: every recorded read-back counts
    assert coverage_since([entry(i) for i in range(18)]) == 0.0
    assert coverage_since([entry(i) for i in range(30)]) == 1011.0  # the 19th previous: 20 with this one


def test_headline_says_since_when_it_is_safe() -> None:
    h = [
        entry(0, "problems"),
        entry(1, "ok"),
        entry(2, "ok"),
        entry(3, "incomplete"),
        entry(4, "ok", covered=5, candidates=8),
    ]
    hl = headline(h)
    assert hl["status"] == "ok" and hl["safe_since"] == h[4]["at"] and hl["last_complete_at"] == h[4]["at"]
    assert hl["coverage"] == {"covered": 5, "candidates": 8, "share": 0.625, "unknown": False, "audits": 5}
    hl = headline(h[:4])
    assert hl["status"] == "incomplete" and hl["safe_since"] is None and hl["last_complete_at"] == h[2]["at"]


def test_new_problems_are_those_the_previous_audit_did_not_list() -> None:
    def report(*urls: str) -> dict[str, Any]:
        problems = [{"category": "missing", "url": u} for u in urls]
        return {"verify": {"counts": {"missing": len(urls)}, "problems": problems}, "gaps": {}, "deep": None}

    previous = {"missing a", "missing b"}
    assert history_entry(report("a", "b"), 0.0, previous)["new"] == 0
    assert history_entry(report("b", "c"), 0.0, previous)["new"] == 1  # one repaired, one new
    assert history_entry(report("a"), 0.0, set())["new"] == 1  # no previous report: all are new


# --- size -----------------------------------------------------------------------------------


def synthetic_report(
    urls: int = 1_000_000, problems: int = 10_000, accounts: int = 5_000
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An audit report of `urls` recorded URLs with `problems` problem rows, as large as real
    ones get (long encrypted names, 15-character usernames), and a full history."""
    base = "https://huggingface.co/datasets/someone/media-backup-2024/resolve/main"
    name = "n4q2v8k3l7x9m1c5b6z0a2s4d8f7g3h1j9k5l3q7w2e6r0t4y8u1i3o5p9"
    users = [f"user_{i:010d}" for i in range(accounts)]
    cmd = "python -m hfcheck {} --config /home/someone/archive/hfcheck.toml"
    verify_problems = [
        {
            "category": "missing" if i % 5 else "wrong_path",
            "tweet_id": str(1_700_000_000_000_000_000 + i),
            "index": 0,
            "username": users[i % accounts],
            "url": f"{base}/encrypted_videos/{users[i % accounts]}/{name}{i:08d}",
            "detail": "404 EntryNotFound",
            "path": f"encrypted_videos/{users[i % accounts]}/{name}{i:08d}",
        }
        for i in range(problems - 1000)
    ]
    deep_problems = [
        {
            "category": "local_missing",
            "repo_id": "someone/media-backup-2024",
            "path": f"encrypted_images/{users[i]}/{name}{i:08d}",
            "tweet_id": str(1_600_000_000_000_000_000 + i),
            "username": users[i],
            "detail": "the backup decrypts, but there is no local file to compare with",
        }
        for i in range(1000)
    ]
    report = {
        "tool": "hfcheck audit",
        "generated_at": "2025-06-01T03:00:00+00:00",
        "status": "problems",
        "exit_code": 1,
        "read_only": True,
        "archive": {
            "db": "/home/someone/archive/tweets.db",
            "table": "tweets",
            "media_root": "/home/someone/archive",
            "repos": ["someone/media-backup-2024"],
            "revision": "main",
            "endpoint": "https://huggingface.co",
        },
        "verify": {
            "complete": True,
            "counts": {
                "total": urls,
                "present": urls - problems + 1000,
                "missing": 7200,
                "wrong_path": 1800,
                "repo_not_found": 0,
                "no_access": 0,
                "malformed": 0,
                "unverified": 0,
            },
            "problems": verify_problems,
            "repo_problems": [],
            "row_problems": [
                {
                    "tweet_id": str(1_500_000_000_000_000_000 + i),
                    "column": "huggingface_urls",
                    "code": "invalid_json",
                    "detail": "Expecting value: line 1 column 1 (char 0)",
                }
                for i in range(2000)
            ],
        },
        "gaps": {"unbacked": 17_279, "partial": 120, "empty_media": 536, "unbacked_media": 20_000, "per_account": []},
        "deep": {
            "sample": "7/20",
            "candidates": urls - 9000,
            "checked": 50_000,
            "bytes_read": 10**11,
            "covered": 700_000,
            "covered_since": 0.0,
            "counts": {
                "deep_ok": 49_000,
                "differs": 0,
                "decrypt_failed": 0,
                "local_missing": 1000,
                "missing": 0,
                "unverified": 0,
            },
            "problems": deep_problems,
            "recorded": {
                "compared": 0,
                "matched": 0,
                "differs": 0,
                "absent": 0,
                "unverified_repos": [],
                "problems": [],
            },
        },
        "accounts": [
            {
                "username": u,
                "tweets": 400,
                "urls": 200,
                "backed_up": 198,
                "missing": 2,
                "unbacked": 3,
                "partial": 1,
                "unbacked_media": 4,
                "empty_media": 0,
                "problems": 6,
                "deep_problems": 0,
            }
            for u in users
        ],
        "plan": [
            {
                "kind": "missing",
                "tool": "repair",
                "files": 7200,
                "tweets": 7000,
                "commands": [cmd.format("repair --dry-run"), cmd.format("repair")],
            },
            {
                "kind": "deep_local_missing",
                "tool": "restore",
                "files": 1000,
                "tweets": 1000,
                "more_tweets": 980,
                "commands": [
                    cmd.format(f"restore --tweet {1_600_000_000_000_000_000 + i} --out /home/someone/archive")
                    for i in range(20)
                ],
            },
        ],
        "fixes": {
            "missing": cmd.format("repair"),
            "wrong_path": cmd.format("repair"),
            "deep_local_missing": cmd.format("restore --tweet {tweet} --out /home/someone/archive"),
        },
    }
    history = [
        {
            "at": f"2025-{1 + i // 84 % 12:02d}-{1 + i % 28:02d}T03:00:00+00:00",
            "started": float(i),
            "status": "problems",
            "urls": urls,
            "backed_up": urls - 10_000 - i,
            "problems": 10_000 + i % 97,
            "gaps": 20_000 - i,
            "new": i % 7 == 0 and 3 or 0,
            "covered": 700_000,
            "candidates": urls,
        }
        for i in range(MAX_HISTORY)
    ]
    report["headline"] = headline(history)
    return report, history


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_page_of_a_million_urls_with_10000_problems_is_under_300_kb(lang: str) -> None:
    report, history = synthetic_report()
    page = render_audit_html(report, lang, history).encode("utf-8")
    print(
        f"\npage ({lang}): {len(page):,} bytes for 1,000,000 URLs, 10,000 problems, 5,000 accounts,"
        f" {len(history)} audits of history"
    )
    assert len(page) < PAGE_LIMIT
    dom = parse(page.decode("utf-8"))
    assert (
        len(dom.find("tr", data_k="missing"))
        + len(dom.find("tr", data_k="wrong_path"))
        + len(dom.find("tr", data_k="deep_local_missing"))
        == MAX_PROBLEM_ROWS
    )
    assert (
        f"{MAX_PROBLEM_ROWS:,}" in page.decode() and "10,000" in page.decode()
    )  # says the list is capped, and how much there is


@pytest.mark.parametrize(
    ("counts", "unknown"),
    [
        ({"present": 0, "unverified": 8}, True),  # the repo could not be read at all
        ({"present": 0, "no_access": 8}, True),
        ({"present": 0, "repo_not_found": 8}, True),
        ({"present": 7, "unverified": 1}, False),  # some files confirmed: the gauge still means something
        ({"present": 0}, False),  # nothing recorded: no file read back yet, not "unknown"
    ],
)
def test_coverage_is_unknown_when_the_repo_could_not_be_read(counts: dict[str, int], unknown: bool) -> None:
    report = {"status": "incomplete", "verify": {"counts": counts}, "deep": {"covered": 8, "candidates": 8}}
    hl = headline([history_entry(report, 0.0, set())])
    assert hl["coverage"]["unknown"] is unknown
    assert (hl["coverage"]["share"] is None) is unknown
