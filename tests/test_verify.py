"""verify end to end against the emulator: planted damage found, faults and 429s never
turned into "missing", resume after SIGKILL, repo-level problems reported once."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hfcheck.verify.pipeline import VerifyOptions, run_verify
from tests.helpers import demo_world, run_cli, with_hub


def problems_key(progress) -> list[tuple[str, str, str]]:
    return sorted((f.category.value, f.tweet_id, f.url) for f in progress.problems)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with demo_world(tmp_path_factory.mktemp("demo"), tweets=90) as w:
        yield w


@pytest.mark.parametrize("method", ["head", "list", "auto"])
async def test_counts_equal_planted(world, method: str, tmp_path: Path) -> None:
    cfg = world.config(data_dir=tmp_path)
    result = await with_hub(run_verify, cfg, VerifyOptions(method=method, concurrency=16, check_missing=True))
    assert result.progress.complete
    assert (
        dict(result.progress.counts) | {k: 0 for k in world.planted["counts"] if k not in result.progress.counts}
        == world.planted["counts"]
    )
    gaps = result.gaps
    assert {k: getattr(gaps, k) for k in world.planted["gaps"]} == world.planted["gaps"]
    wrong = [f for f in result.progress.problems if f.category.value == "wrong_path"]
    assert wrong and all(f.exists is False for f in wrong)


async def test_head_and_list_agree_finding_by_finding(world, tmp_path: Path) -> None:
    a = await with_hub(run_verify, world.config(data_dir=tmp_path / "a"), VerifyOptions(method="head"))
    b = await with_hub(run_verify, world.config(data_dir=tmp_path / "b"), VerifyOptions(method="list"))
    assert problems_key(a.progress) == problems_key(b.progress)
    assert a.progress.counts == b.progress.counts


@pytest.mark.slow
async def test_faults_and_429_do_not_change_the_classification(world, tmp_path: Path) -> None:
    clean = await with_hub(run_verify, world.config(data_dir=tmp_path / "clean"), VerifyOptions(method="head"))
    ctl = world.hub.control
    ctl.set_faults(error_rate=0.05, reset_rate=0.02, seed=3)
    ctl.set_rate_limits(window_s=1, resolvers=40)
    try:
        faulty = await with_hub(
            run_verify, world.config(data_dir=tmp_path / "faulty"), VerifyOptions(method="head", concurrency=8)
        )
        stats = ctl.stats()
    finally:
        ctl.clear_faults()
        ctl.set_rate_limits(window_s=300, resolvers=None)
    assert faulty.stats["rate_limited"] > 0 or faulty.stats["retries"] > 0
    assert faulty.progress.counts["unverified"] == 0
    assert problems_key(faulty.progress) == problems_key(clean.progress)
    assert faulty.progress.counts == clean.progress.counts
    assert json.dumps(stats)  # the emulator counted what we sent


@pytest.mark.parametrize("method", ["head", "auto"])
async def test_an_unanswerable_repo_is_asked_a_bounded_number_of_times(world, tmp_path: Path, method: str) -> None:
    """Every request 5xx: each repo's access is asked once through the retry policy, then every
    further URL of it settles with that repo problem, unverified (never missing), with no request
    of its own: the run's requests are bounded by repos, not URLs x attempts."""
    from hfcheck.net.hub import Hub
    from hfcheck.net.retry import RetryPolicy

    attempts = 3
    cfg = world.config(data_dir=tmp_path)
    ctl = world.hub.control
    ctl.set_faults(error_rate=1.0, seed=1)
    try:
        async with Hub(cfg, policy=RetryPolicy(attempts=attempts, base=0.001)) as hub:
            result = await run_verify(cfg, VerifyOptions(method=method, concurrency=16), hub)
    finally:
        ctl.clear_faults()
    counts = result.progress.counts
    urls = counts["total"] - counts["malformed"]
    repos = len(result.progress.repo_problems)
    assert repos >= 1 and urls > 10 * repos
    assert counts["missing"] == 0 and counts["present"] == 0
    assert counts["unverified"] + counts["no_access"] + counts["repo_not_found"] == urls - counts["wrong_path"]
    # per repo: the listing (auto) and the access check, each through the policy's attempts
    assert result.stats["requests"] <= 2 * attempts * repos < urls


@pytest.mark.slow
def test_sigkill_then_resume_gives_the_same_report(world, tmp_path: Path) -> None:
    full = run_cli(world, "verify", "--method", "head", "--data-dir", str(tmp_path / "full"), "--json")
    assert full.returncode == 1, full.stderr
    expected = json.loads(full.stdout)

    data = tmp_path / "killed"
    world.hub.control.set_faults(latency_ms=30)
    try:
        cmd = [
            sys.executable,
            "-m",
            "hfcheck",
            "verify",
            "--method",
            "head",
            "--concurrency",
            "2",
            "--checkpoint-interval",
            "0.1",
            "--config",
            str(world.root / "hfcheck.toml"),
            "--data-dir",
            str(data),
        ]
        proc = subprocess.Popen(cmd, env=world.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        progress = data / "hf_url_check_progress.json"
        while not progress.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(random.uniform(0.2, 1.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        world.hub.control.clear_faults()
    saved = json.loads(progress.read_text())
    assert not saved["complete"] and saved["counts"]["total"] < expected["counts"]["total"]

    resumed = run_cli(world, "verify", "--method", "head", "--resume", "--data-dir", str(data), "--json")
    assert resumed.returncode == 1, resumed.stderr
    got = json.loads(resumed.stdout)
    assert got["counts"] == expected["counts"]
    key = lambda p: sorted((x["category"], x["tweet_id"], x["url"]) for x in p)  # noqa: E731
    assert key(got["problems"]) == key(expected["problems"])


def test_corrupt_or_foreign_progress_is_refused(world, tmp_path: Path) -> None:
    progress = tmp_path / "hf_url_check_progress.json"
    progress.write_text("{not json")
    r = run_cli(world, "verify", "--resume", "--data-dir", str(tmp_path))
    assert r.returncode == 2 and "corrupt" in r.stderr and "Traceback" not in r.stderr
    progress.write_text(
        json.dumps({"format": "hfcheck-verify-progress", "version": 1, "archive": {"db": "/elsewhere.db"}})
    )
    r = run_cli(world, "verify", "--resume", "--data-dir", str(tmp_path))
    assert r.returncode == 2 and "another archive" in r.stderr
    assert progress.read_text().startswith('{"format"')  # never silently restarted over


def test_private_repo_without_token_is_one_no_access_problem(world, tmp_path: Path) -> None:
    world.hub.control.set_repo("demo/media-backup", private=True)
    try:
        env = {k: v for k, v in world.env().items() if k != "HF_TOKEN"}
        r = run_cli(world, "verify", "--json", data_dir=tmp_path, env=env, timeout=60)
    finally:
        world.hub.control.set_repo("demo/media-backup", private=False)
    assert r.returncode == 3, r.stderr
    report = json.loads(r.stdout)
    assert len(report["repo_problems"]) == 1
    assert report["repo_problems"][0]["category"] == "no_access"
    assert report["counts"]["missing"] == 0 and report["counts"]["present"] == 0
    assert all(p["category"] == "malformed" for p in report["problems"])


def test_japanese_summary(world, tmp_path: Path) -> None:
    r = run_cli(world, "verify", "--lang", "ja", "--data-dir", str(tmp_path))
    assert r.returncode == 1
    for word in ("総チェック数", "存在", "欠落", "うち誤ったパス"):
        assert word in r.stdout
    assert os.path.exists(tmp_path / "verify_report.json")


@pytest.mark.parametrize(
    ("value", "code"), [('["https://pbs.twimg.com/media/a.jpg"', "invalid_json"), ('{"a": 1}', "not_a_list")]
)
async def test_a_bad_media_list_in_a_row_without_backups_is_a_row_problem(
    tmp_path: Path, value: str, code: str
) -> None:
    """ARCHIVE.md: invalid JSON in any row is reported. Verify reads only the rows with backups,
    so a row without one had its broken media list reported nowhere."""
    import sqlite3

    with demo_world(tmp_path / "demo", tweets=24) as w:
        tweet_id = w.planted["tweets"]["unbacked"][0]
        con = sqlite3.connect(w.root / "archive.db")
        con.execute("UPDATE tweets SET media_urls = ? WHERE id = ?", (value, tweet_id))
        con.commit()
        con.close()
        result = await with_hub(run_verify, w.config(), VerifyOptions(check_missing=True))
        r = run_cli(w, "verify")
    problems = [p for p in result.progress.row_problems if p["tweet_id"] == tweet_id]
    assert [(p["column"], p["code"]) for p in problems] == [("media_urls", code)]
    assert "Rows with other problems" in r.stdout
    report = json.loads((w.root / "data" / "verify_report.json").read_text())
    assert [p["code"] for p in report["row_problems"] if p["tweet_id"] == tweet_id] == [code]
