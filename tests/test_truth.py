"""Flags honoured and exit codes that tell the truth (issue 18.4 and 18.5), on the emulator:
`--revision` is where files are checked, read and written; an unknown revision is one repo
problem and exit 3; a repo the Hub cannot answer for is named once with the Hub's reason and
leaves `repair`/`backup`/`migrate`/`restore` at exit 3; a refused token is named as such."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from hfcheck.model.paths import BackupURL
from hfcheck.sim.demo import REPO
from tests.helpers import DemoWorld, db_rows, demo_world, hub_state, run_cli

GHOST = "demo/no-such-repo"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with demo_world(tmp_path_factory.mktemp("truth"), tweets=30) as w:
        yield w


def report(world: DemoWorld, name: str, data_dir: Path | None = None) -> dict[str, Any]:
    return json.loads(((data_dir or world.root / "data") / name).read_text())


def rewrite_urls(db: Path, old: str, new: str) -> None:
    con = sqlite3.connect(db)
    try:
        with con:
            con.execute("UPDATE tweets SET huggingface_urls = replace(huggingface_urls, ?, ?)", (old, new))
    finally:
        con.close()


def urls(raw: str | None) -> list[str]:
    """A row's backup URLs (the demo's planted malformed columns: none)."""
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return []
    return [u for u in value if isinstance(u, str)] if isinstance(value, list) else []


def repo_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("Repo problem:")]


# -- 4. every flag honoured: --revision -------------------------------------------------------


def test_verify_at_an_unknown_revision_is_one_repo_problem_exit_3_and_nothing_present(
    world: DemoWorld, tmp_path: Path
) -> None:
    r = run_cli(world, "verify", "--revision", "no-such-branch", data_dir=tmp_path)
    assert r.returncode == 3, r.stdout + r.stderr
    rep = report(world, "verify_report.json", tmp_path)
    assert rep["counts"]["present"] == 0 and rep["counts"]["revision_not_found"] > 0
    assert [(p["repo_id"], p["revision"], p["category"]) for p in rep["repo_problems"]] == [
        (REPO, "no-such-branch", "revision_not_found")
    ]
    assert len(repo_lines(r.stdout)) == 1 and "RevisionNotFound" in repo_lines(r.stdout)[0]


def test_the_emulator_answers_an_unknown_revision_as_the_hub_does(world: DemoWorld) -> None:
    paths = (
        f"/api/datasets/{REPO}/revision/no-such-branch",
        f"/api/datasets/{REPO}/tree/no-such-branch",
        f"/datasets/{REPO}/resolve/no-such-branch/x",
    )
    for path in paths:
        answer = httpx.head(world.hub.url + path) if "/resolve/" in path else httpx.get(world.hub.url + path)
        assert answer.status_code == 404 and answer.headers["X-Error-Code"] == "RevisionNotFound"


@pytest.mark.parametrize("command", [["repair"], ["backup"], ["migrate", "--to", "fernet"]])
def test_writers_at_an_unknown_revision_exit_3_and_change_nothing(
    world: DemoWorld, tmp_path: Path, command: list[str]
) -> None:
    rows, files = db_rows(world), hub_state(world)
    r = run_cli(world, *command, "--revision", "no-such-branch", data_dir=tmp_path)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "no-such-branch" in r.stdout + r.stderr and "revision not found" in r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert db_rows(world) == rows and hub_state(world) == files


def test_restore_at_an_unknown_revision_exits_3_names_the_repo_once_and_writes_nothing(
    world: DemoWorld, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    r = run_cli(world, "restore", "--all", "--out", str(out), "--revision", "no-such-branch", data_dir=tmp_path)
    assert r.returncode == 3, r.stdout + r.stderr
    assert len(repo_lines(r.stdout)) == 1 and "revision_not_found" in r.stdout
    assert "revision_not_found" not in r.stderr  # not one line per file (the planted bad rows have theirs)
    assert not [p for p in out.rglob("*") if p.is_file()]
    rep = report(world, "restore_report.json", tmp_path)
    assert rep["repo_problems"][0]["category"] == "revision_not_found"
    assert {p["category"] for p in rep["problems"]} <= {"malformed", "wrong_path"}  # the planted rows only


def test_a_url_recorded_at_another_revision_is_a_row_problem_and_is_checked_at_the_configured_one(
    tmp_path: Path,
) -> None:
    with demo_world(tmp_path / "w", tweets=20) as w:
        head = w.hub.store.get_repo(REPO).head  # a commit the repo has: its files are there
        con = sqlite3.connect(w.root / "archive.db")
        tweet_id, raw = con.execute(
            "SELECT id, huggingface_urls FROM tweets WHERE huggingface_urls LIKE ? ORDER BY id LIMIT 1",
            (f"%/{REPO}/resolve/main/encrypted_%",),
        ).fetchone()
        con.close()
        rewrite_urls(w.root / "archive.db", raw, raw.replace("/resolve/main/", f"/resolve/{head}/"))
        r = run_cli(w, "verify")
        rep = report(w, "verify_report.json")
        other = [p for p in rep["row_problems"] if p["code"] == "other_revision"]
        assert [p["tweet_id"] for p in other] == [str(tweet_id)] * raw.count("/resolve/main/"), other
        assert head in other[0]["detail"] and "'main'" in other[0]["detail"]
        assert not [f for f in rep["problems"] if f["tweet_id"] == str(tweet_id)]  # checked at main: present
        assert r.returncode in (0, 1)
        # at the commit itself, that URL is where it should be and every other one is noted
        r = run_cli(w, "verify", "--revision", head)
        rep = report(w, "verify_report.json")
        noted = {p["tweet_id"] for p in rep["row_problems"] if p["code"] == "other_revision"}
        assert str(tweet_id) not in noted and len(noted) > 1
        assert not rep["repo_problems"]


def test_repair_keeps_a_url_recorded_at_another_revision_as_it_is(tmp_path: Path) -> None:
    """A missing file whose URL names a commit is uploaded at the configured revision, and the
    row keeps its one URL (no second URL at main is added)."""
    with demo_world(tmp_path / "w", tweets=20) as w:
        head = w.hub.store.get_repo(REPO).head
        tweet_id = w.planted["tweets"]["missing"][0]
        db = w.root / "archive.db"
        con = sqlite3.connect(db)
        (raw,) = con.execute("SELECT huggingface_urls FROM tweets WHERE id = ?", (tweet_id,)).fetchone()
        con.close()
        pinned = raw.replace("/resolve/main/", f"/resolve/{head}/")
        rewrite_urls(db, raw, pinned)
        assert run_cli(w, "verify").returncode == 1
        r = run_cli(w, "repair")
        assert r.returncode in (0, 1), r.stdout + r.stderr
        assert db_rows(w)[str(tweet_id)][2] == pinned
        missing = [BackupURL.parse(u).path for u in json.loads(pinned)]
        assert all(w.hub.store.file_info(REPO, p) is not None for p in missing)


# -- 5. exit codes that tell the truth --------------------------------------------------------


def test_repair_when_every_url_names_a_repo_that_does_not_exist_exits_3_naming_it_once(tmp_path: Path) -> None:
    with demo_world(tmp_path / "w", tweets=20) as w:
        rewrite_urls(w.root / "archive.db", f"/datasets/{REPO}/", f"/datasets/{GHOST}/")
        files = hub_state(w)
        r = run_cli(w, "repair")
        assert r.returncode == 3, r.stdout + r.stderr
        lines = repo_lines(r.stdout)
        assert len(lines) == 1 and GHOST in lines[0] and "repo_not_found" in lines[0], r.stdout
        assert "exit 3" in r.stdout
        assert report(w, "repair_report.json")["repo_problems"][0]["repo_id"] == GHOST
        r = run_cli(w, "restore", "--all", "--out", str(tmp_path / "out"))
        assert r.returncode == 3 and len(repo_lines(r.stdout)) == 1 and "repo_not_found" not in r.stderr
        r = run_cli(w, "migrate", "--to", "fernet")
        assert r.returncode == 3 and len(repo_lines(r.stdout)) == 1, r.stdout + r.stderr
        assert hub_state(w) == files


def test_a_repo_the_hub_cannot_answer_for_is_one_repo_problem_with_the_reason(tmp_path: Path) -> None:
    from hfcheck.sim.emulator.faults import KIND_BUCKET

    with demo_world(tmp_path / "w", tweets=20) as w:
        # every answer about the repo is a 5xx (the official client's kinds are spared: none run here)
        w.hub.control.set_faults(error_rate=1.0, exempt=[k for k in KIND_BUCKET if k not in ("repo_info", "tree")])
        r = run_cli(w, "verify")
        assert r.returncode == 3, r.stdout + r.stderr
        rep = report(w, "verify_report.json")
        assert [(p["repo_id"], p["category"]) for p in rep["repo_problems"]] == [(REPO, "unverified")]
        reason = rep["repo_problems"][0]["detail"]
        assert re.fullmatch(r"HTTP 5\d\d after 6 attempts", reason), reason  # the emulator's 5xx are random ones
        assert not [f for f in rep["problems"] if f["category"] == "unverified"]  # not one per URL
        assert len(repo_lines(r.stdout)) == 1 and reason in repo_lines(r.stdout)[0]


def test_a_refused_token_is_named_as_a_token_problem(world: DemoWorld, tmp_path: Path) -> None:
    answer = httpx.get(f"{world.hub.url}/api/datasets/{REPO}", headers={"Authorization": "Bearer hf_not_a_token"})
    assert answer.status_code == 401 and "Invalid credentials in Authorization header" in answer.text
    env = {**world.env(), "HF_TOKEN": "hf_not_a_token"}
    r = run_cli(world, "verify", env=env, data_dir=tmp_path)
    assert r.returncode == 3
    assert re.search(r"no_access .*token was refused \(HTTP 401 Invalid credentials", r.stdout), r.stdout
    rows, files = db_rows(world), hub_state(world)
    for command in (["repair"], ["backup"], ["watch", "--once"]):
        r = run_cli(world, *command, env=env, data_dir=tmp_path)
        assert r.returncode == 3 and "token was refused" in r.stdout + r.stderr, (command, r.stdout, r.stderr)
    r = run_cli(world, "restore", "--all", "--out", str(tmp_path / "out"), env=env, data_dir=tmp_path)
    assert r.returncode == 3 and "token was refused" in r.stdout, r.stdout
    assert db_rows(world) == rows and hub_state(world) == files


@pytest.mark.parametrize("message", ["Invalid credentials in Authorization header", ""])
def test_a_401_with_a_token_is_worded_as_a_refused_token_and_never_carries_it(message: str) -> None:
    from hfcheck.net.outcome import HubOutcome, classify

    mapped = classify(401, None, {}, has_token=True, message=message)
    assert mapped.outcome is HubOutcome.NO_ACCESS
    assert (
        mapped.detail.startswith("the token was refused (HTTP 401 Invalid credentials") and "hf_" not in mapped.detail
    )
    assert "token" not in classify(401, "RepoNotFound", {}, has_token=False).detail.split(";")[0]


def test_backup_with_a_token_that_may_not_write_exits_3_naming_the_repo_once(tmp_path: Path) -> None:
    with demo_world(tmp_path / "w", tweets=20) as w:
        w.hub.control.add_user("mallory", "hf_mallory_token")  # a valid token, of someone else
        rows, files = db_rows(w), hub_state(w)
        r = run_cli(w, "backup", env={**w.env(), "HF_TOKEN": "hf_mallory_token"})
        assert r.returncode == 3, r.stdout + r.stderr
        lines = repo_lines(r.stdout)
        assert len(lines) == 1 and REPO in lines[0] and "no_access" in lines[0], r.stdout
        assert "HTTP 403 You don't have the rights to write to" in lines[0], lines[0]
        assert report(w, "backup_report.json")["repo_problems"][0]["urls"] > 0
        assert db_rows(w) == rows and hub_state(w) == files


def test_repair_never_acts_on_a_verify_made_at_another_revision(world: DemoWorld, tmp_path: Path) -> None:
    rows = db_rows(world)
    assert run_cli(world, "verify", "--revision", "no-such-branch", data_dir=tmp_path).returncode == 3
    r = run_cli(world, "repair", data_dir=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "checked at revision 'no-such-branch', not 'main'" in r.stderr and "Traceback" not in r.stderr
    assert db_rows(world) == rows


def test_backup_writes_at_the_configured_branch_and_records_urls_there(tmp_path: Path) -> None:
    from huggingface_hub import HfApi

    from hfcheck.sim.demo import TOKEN

    with demo_world(tmp_path / "w", tweets=20) as w:
        api = HfApi(endpoint=w.hub.url, token=TOKEN)
        api.create_branch(REPO, branch="archive", repo_type="dataset")
        on_main = set(api.list_repo_files(REPO, repo_type="dataset"))
        before = db_rows(w)
        r = run_cli(w, "backup", "--revision", "archive")
        assert r.returncode in (0, 1), r.stdout + r.stderr
        added = [u for tweet_id, row in db_rows(w).items() for u in set(urls(row[2])) - set(urls(before[tweet_id][2]))]
        assert added and all("/resolve/archive/" in u for u in added), added
        paths = {BackupURL.parse(u).path for u in added}
        assert paths <= set(api.list_repo_files(REPO, repo_type="dataset", revision="archive"))
        assert not paths & set(api.list_repo_files(REPO, repo_type="dataset")) and on_main  # main is untouched
        r = run_cli(w, "verify", "--revision", "archive")
        rep = report(w, "verify_report.json")
        assert rep["counts"]["present"] > 0 and not rep["repo_problems"]
