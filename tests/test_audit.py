"""full-audit end to end: read-only (database, Hub and local media byte-identical before and
after), the report's counts equal what the demo planted, and the HTML page shows them safely."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from hfcheck.readback.audit import next_slice, remember_slice
from hfcheck.report.html import SCRIPT, render_audit_html
from hfcheck.sim.demo import REPO
from tests.helpers import demo_world, run_cli

READ_KINDS = {"repo_info", "tree", "resolve_head", "resolve_get", "cdn_get"}


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def hub_digest(world) -> dict[str, str | None]:
    store = world.hub.store
    return {p: store.file_info(REPO, p).sha256 for p in store.list_paths(REPO)}


def snapshot(world) -> dict:
    return {
        "db": hashlib.sha256((world.root / "archive.db").read_bytes()).hexdigest(),
        "db_files": sorted(p.name for p in world.root.glob("archive.db*")),
        "hub": hub_digest(world),
        "head": world.hub.store.get_repo(REPO).head,
        "media": tree_digest(world.root / "media"),
        "source": tree_digest(world.root / "source"),
    }


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """One audit run (CLI, as `make full-audit` runs it) with snapshots before and after."""
    with demo_world(tmp_path_factory.mktemp("audit"), tweets=60) as w:
        before = snapshot(w)
        w.hub.control.reset_stats()
        r = run_cli(w, "audit", "--sample", "all", timeout=120)
        stats = w.hub.control.stats()
        after = snapshot(w)
        yield w, r, before, after, stats


def test_full_audit_changes_nothing(audited) -> None:
    _, r, before, after, stats = audited
    assert r.returncode == 1, r.stderr  # the demo has planted damage
    assert before == after
    assert set(stats["kinds"]) <= READ_KINDS, stats["kinds"]  # no commit, preupload or LFS upload


def test_report_counts_equal_the_planted_damage(audited) -> None:
    world, *_ = audited
    report = json.loads((world.root / "data" / "audit_report.json").read_text())
    assert report["verify"]["counts"] == world.planted["counts"]
    assert {k: report["gaps"][k] for k in world.planted["gaps"]} == world.planted["gaps"]
    assert report["deep"]["sample"] == "all" and report["deep"]["checked"] == world.planted["counts"]["present"]
    assert report["deep"]["counts"]["differs"] == report["deep"]["counts"]["decrypt_failed"] == 0
    plan = {p["kind"]: p for p in report["plan"]}
    assert plan["missing"]["files"] == world.planted["counts"]["missing"]
    assert plan["wrong_path"]["files"] == world.planted["counts"]["wrong_path"]
    assert plan["unbacked"]["files"] == world.planted["gaps"]["unbacked_media"]
    assert any(c.startswith("python -m hfcheck repair --config ") for c in plan["missing"]["commands"])
    assert any(c.startswith("python -m hfcheck backup --config ") for c in plan["unbacked"]["commands"])
    assert sum(a.get("missing", 0) for a in report["accounts"]) == plan["missing"]["files"]
    assert (
        "hf_demo_token" not in json.dumps(report)
        and "hf_demo_token" not in (world.root / "data" / "audit_report.html").read_text()
    )


class Cells(HTMLParser):
    """Table rows as lists of cell texts, every <pre> text, every tag seen, and the scripts
    (their attributes and text)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.pres: list[str] = []
        self.tags: set[str] = set()
        self._cell: list[str] | None = None
        self._pre: list[str] | None = None
        self.scripts: list[tuple[dict, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag == "script":
            self.scripts.append((dict(attrs), []))
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "pre":
            self._pre = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "pre" and self._pre is not None:
            self.pres.append("".join(self._pre))
            self._pre = None

    def handle_data(self, data):
        if self.lasttag == "script" and self.scripts and self.cdata_elem == "script":
            self.scripts[-1][1].append(data)
        for buf in (self._cell, self._pre):
            if buf is not None:
                buf.append(data)


def parse(html_text: str) -> Cells:
    p = Cells()
    p.feed(html_text)
    return p


def test_html_shows_the_counts_and_the_commands(audited) -> None:
    world, *_ = audited
    page = parse((world.root / "data" / "audit_report.html").read_text(encoding="utf-8"))
    counts = world.planted["counts"]
    verify_rows = {}
    for r in page.rows:
        if len(r) == 3 and r[1] in counts:
            verify_rows.setdefault(r[1], r[2])
    assert verify_rows == {k: f"{v:,}" for k, v in counts.items()}
    for gap, n in world.planted["gaps"].items():
        assert [r for r in page.rows if r[1:] == [gap, f"{n:,}"]], gap
    assert any("python -m hfcheck repair --config" in t for t in page.pres)
    assert {"link", "img", "iframe", "object", "embed"}.isdisjoint(page.tags)  # self-contained
    assert [(attrs, "".join(text)) for attrs, text in page.scripts] == [({}, SCRIPT)]  # only ours, inline


def test_japanese_page(audited) -> None:
    world, *_ = audited
    report = json.loads((world.root / "data" / "audit_report.json").read_text())
    html_ja = render_audit_html(report, "ja")
    assert '<html lang="ja">' in html_ja
    for word in ("総チェック数", "欠落", "実行すべきコマンド", "アカウント別"):
        assert word in html_ja


def test_untrusted_values_are_escaped() -> None:
    evil = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    report = {
        "status": "problems",
        "generated_at": evil,
        "read_only": True,
        "archive": {"db": evil},
        "verify": {
            "counts": {"total": 1, "missing": 1},
            "problems": [{"category": "missing", "tweet_id": "1", "username": evil, "url": evil, "detail": evil}],
            "repo_problems": [],
            "row_problems": [{"tweet_id": evil, "column": "username", "code": "unsafe_username", "detail": evil}],
        },
        "gaps": {},
        "deep": None,
        "accounts": [{"username": evil, "missing": 1}],
        "plan": [
            {
                "kind": evil,
                "tool": "repair",
                "files": 1,
                "tweets": 1,
                "commands": [f"python -m hfcheck repair --config {evil}"],
            }
        ],
    }
    page_html = render_audit_html(report, "en")
    page = parse(page_html)
    assert page_html.count("<script") == 1 and "<img" not in page_html
    assert [(attrs, "".join(text)) for attrs, text in page.scripts] == [({}, SCRIPT)]
    assert "img" not in page.tags
    assert any(evil in cell for row in page.rows for cell in row)  # shown as text, intact


def test_deep_slice_rotates(tmp_path: Path) -> None:
    seen = []
    for _ in range(21):
        s = next_slice(tmp_path, t=20)
        seen.append(s.spec)
        remember_slice(tmp_path, s)
    assert seen[:20] == [f"{n}/20" for n in range(1, 21)] and seen[20] == "1/20"


def chromium() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


@pytest.fixture(scope="module")
def rendered(audited, tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """The audit's page as headless Chromium rendered it (`--dump-dom`): one start of Chromium
    (~1.5 s) for the tests below, which read the same page."""
    world, *_ = audited
    page = world.root / "data" / "audit_report.html"
    cmd = [
        chromium() or "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium') / 'profile'}",
        "--dump-dom",
        page.as_uri(),
    ]
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=90)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_chromium_renders_the_page(audited, rendered: subprocess.CompletedProcess[str]) -> None:
    world, *_ = audited
    r = rendered
    assert r.returncode == 0, r.stderr[-2000:]
    dom = parse(r.stdout)
    assert [row for row in dom.rows if row[1:] == ["present", str(world.planted["counts"]["present"])]]
    assert 'id="status"' in r.stdout


@pytest.mark.skipif(chromium() is None, reason="no Chromium on this machine (.ci/run installs Debian's chromium)")
def test_html_rendered_in_headless_chromium_shows_the_counts(
    audited, rendered: subprocess.CompletedProcess[str]
) -> None:
    """What a person sees: the DOM as Chromium rendered it holds the planted counts."""
    world, *_ = audited
    r = rendered
    assert r.returncode == 0, r.stderr[-2000:]
    rendered_dom = parse(r.stdout)
    shown: dict[str, str] = {}
    for row in rendered_dom.rows:
        if len(row) == 3:
            shown.setdefault(row[1], row[2])  # the verify table comes first ("missing" recurs in deep's)
    for key, n in world.planted["counts"].items():
        assert shown.get(key) == f"{n:,}", key
    assert "status" in r.stdout and "Problems found" in r.stdout


def test_an_audit_that_could_not_read_the_repo_shows_coverage_unknown(tmp_path: Path) -> None:
    """Earlier audits read every file back; this one cannot read the repo (made private, no
    token): its coverage is "unknown", not the earlier 100%."""
    with demo_world(tmp_path / "demo", tweets=24) as w:
        first = run_cli(w, "audit", "--sample", "all")
        assert "Read back and decrypted within the last 1 audits: 100.0%" in first.stdout, first.stdout
        w.hub.control.set_repo(REPO, private=True)
        env = {k: v for k, v in w.env().items() if k != "HF_TOKEN"} | {"HF_HOME": str(tmp_path / "no-hf")}
        r = run_cli(w, "audit", "--sample", "all", env=env)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "Read back and decrypted: unknown (the repo could not be read in this audit)" in r.stdout
    assert "100.0%" not in r.stdout
    report = json.loads((w.root / "data" / "audit_report.json").read_text())
    assert report["headline"]["coverage"]["unknown"] is True and report["headline"]["coverage"]["share"] is None
    assert "the repo could not be read in this audit" in (w.root / "data" / "audit_report.html").read_text()


def test_the_plan_repeats_the_users_own_flags_and_its_commands_run_as_printed(tmp_path: Path) -> None:
    """`--db`, `--data-dir`, `--key-file`, `--repo` given beside `--config` are repeated in every
    command of the plan: dropped, the advice pointed at the config's database instead."""
    import shlex
    import sys

    with demo_world(tmp_path / "demo", tweets=24) as w:
        db = tmp_path / "copy.db"
        shutil.copy(w.root / "archive.db", db)
        data = tmp_path / "elsewhere"
        key = w.root / "archive.key"
        r = run_cli(w, "audit", "--db", str(db), "--key-file", str(key), "--repo", REPO, data_dir=data)
        commands = [line.strip() for line in r.stdout.splitlines() if line.strip().startswith("python -m hfcheck")]
        assert commands, r.stdout
        for c in commands:
            assert f"--db {db}" in c and f"--data-dir {data}" in c
            assert f"--key-file {key}" in c and f"--repo {REPO}" in c
            assert f"--config {w.root / 'hfcheck.toml'}" in c
        dry = next(c for c in commands if " repair " in c and "--dry-run" in c)
        run = subprocess.run(
            [sys.executable, *shlex.split(dry)[1:]], env=w.env(), capture_output=True, text=True, timeout=120
        )
    assert run.returncode == 0, run.stderr
    report = json.loads((data / "audit_report.json").read_text())
    assert all(f"--db {db}" in cmd for cmd in report["fixes"].values())
