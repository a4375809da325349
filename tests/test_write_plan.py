"""The writer's pure parts, in milliseconds: the per-tweet plan and its row edit, the repair and
backup planners (a real SQLite archive, no Hub), placement limits, and the per-tweet lines."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from hfcheck.config import Config, load_config
from hfcheck.crypto import ArchiveKey
from hfcheck.db.archive import Archive, TweetRow
from hfcheck.errors import IncompleteError
from hfcheck.model.outcomes import FileKind, RunSummary, TweetResult, UploadSource
from hfcheck.model.paths import BackupURL, remote_path_for
from hfcheck.report.catalog import msg
from hfcheck.verify.findings import Category, Finding
from hfcheck.write.backup import BackupPlanner, backed_up_indices, find_local
from hfcheck.write.lines import TweetLines, dry_run_lines, plan_line
from hfcheck.write.placement import RepoPlacement
from hfcheck.write.plan import FilePlan, TweetPlan, to_job
from hfcheck.write.repair import Planner
from hfcheck.write.upload import TweetJob

KEY = ArchiveKey(bytes(range(32)))
END = "https://hub.example"
REPO = "o/r"


def url(path: str, repo: str = REPO) -> str:
    return str(BackupURL(END, repo, "main", path))


def row(
    tweet_id: str = "1", media: list[str] | None = None, hf: list[str] | None = None, user: str | None = "alice"
) -> TweetRow:
    return TweetRow(tweet_id, tweet_id, user, media or [], hf or [])


def placement(repos: tuple[str, ...] = (REPO,), per_repo: int = 100, per_folder: int = 100) -> RepoPlacement:
    return RepoPlacement(repos, max_files_per_repo=per_repo, max_files_per_folder=per_folder)


def config(tmp_path: Path, **kw: object) -> Config:
    media = tmp_path / "media"
    media.mkdir(exist_ok=True)
    values = {
        "db": tmp_path / "a.db",
        "media_root": media,
        "repos": (REPO,),
        "data_dir": tmp_path / "data",
        "lang": "en",
        **kw,
    }
    return load_config(None, values, env={"HF_ENDPOINT": END})


# -- the plan and its row edit ----------------------------------------------------------------


def test_the_row_edit_replaces_wrong_paths_in_place_and_appends_new_urls() -> None:
    old, other = url("images/alice/1_0.jpg"), url("encrypted_images/alice/zzz")
    plan = TweetPlan(
        "1",
        files=[
            FilePlan(
                FileKind.WRONG_PATH,
                "images/alice/1_0.jpg",
                REPO,
                "encrypted_images/alice/aaa",
                url("encrypted_images/alice/aaa"),
                old_url=old,
            ),
            FilePlan(
                FileKind.UNBACKED,
                "images/alice/1_2.jpg",
                REPO,
                "encrypted_images/alice/ccc",
                url("encrypted_images/alice/ccc"),
            ),
        ],
    )
    edit = plan.change()
    change = edit(row(hf=[old, other]))
    assert change is not None and change.media_urls is None
    assert change.hf_urls == [url("encrypted_images/alice/aaa"), other, url("encrypted_images/alice/ccc")]
    assert edit(row(hf=change.hf_urls)) is None  # already applied: nothing to write (idempotent)


def test_a_recovered_media_list_is_written_only_into_an_empty_one() -> None:
    plan = TweetPlan("1", media_urls=["https://pbs.twimg.com/media/A.jpg"])
    recovered = plan.change()(row(hf=[url("encrypted_images/alice/a")]))
    assert recovered is not None and recovered.media_urls == ["https://pbs.twimg.com/media/A.jpg"]
    assert plan.change()(row(media=["https://pbs.twimg.com/media/B.jpg"], hf=[url("encrypted_images/alice/a")])) is None


def test_the_upload_job_leaves_out_files_already_in_the_repo(tmp_path: Path) -> None:
    files = [
        FilePlan(
            FileKind.MISSING,
            f"images/alice/1_{i}.jpg",
            REPO,
            f"encrypted_images/alice/{i}",
            url(f"encrypted_images/alice/{i}"),
            exists_remote=i == 1,
        )
        for i in range(3)
    ]
    job = to_job(TweetPlan("1", files=files), row(), tmp_path, 7)
    assert [f.remote_path for f in job.files] == ["encrypted_images/alice/0", "encrypted_images/alice/2"]
    assert job.files[0].local == tmp_path / "images/alice/1_0.jpg" and job.info["i"] == 7


# -- the backup planner -------------------------------------------------------------------------


def test_backup_plans_only_the_media_without_a_backup(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    media = [
        "https://pbs.twimg.com/media/A.jpg",
        "https://pbs.twimg.com/media/B.png",
        "https://video.twimg.com/v/C.mp4",
    ]
    done = url(remote_path_for(KEY, "images/alice/1_0.jpg"))
    plan = BackupPlanner(cfg, KEY, placement()).plan(row(media=media, hf=[done]))
    assert plan.kinds == {FileKind.PARTIAL} and not plan.errors
    assert [(fp.kind, fp.local_rel) for fp in plan.files] == [
        (FileKind.PARTIAL, "images/alice/1_1.png"),
        (FileKind.PARTIAL, "videos/alice/1_2.mp4"),
    ]
    assert all(fp.url == url(fp.remote_path) and fp.media_url for fp in plan.files)
    unbacked = BackupPlanner(cfg, KEY, placement()).plan(row(media=media))
    assert unbacked.kinds == {FileKind.UNBACKED} and len(unbacked.files) == 3
    assert BackupPlanner(cfg, KEY, placement()).plan(row(media=media, user=None)).errors == [msg("err_unsafe_username")]


def test_a_name_of_an_older_scheme_counts_for_the_first_free_medium() -> None:
    media = ["https://pbs.twimg.com/media/A.jpg", "https://pbs.twimg.com/media/B.jpg"]
    assert backed_up_indices(KEY, row(media=media, hf=[url("encrypted_images/alice/notbase32")])) == {0}
    assert backed_up_indices(KEY, row(media=media, hf=[url(remote_path_for(KEY, "images/alice/1_1.jpg"))])) == {1}


def test_a_local_file_with_another_extension_is_found(tmp_path: Path) -> None:
    (tmp_path / "images" / "alice").mkdir(parents=True)
    (tmp_path / "images" / "alice" / "1_0.png").write_bytes(b"x")
    assert find_local(tmp_path, "alice", "1", 0, "jpg") == "images/alice/1_0.png"
    assert find_local(tmp_path, "alice", "1", 1, "jpg") == "images/alice/1_1.jpg"  # where a download goes


# -- the repair planner (real SQLite, no Hub) ------------------------------------------------------


def make_archive(path: Path, rows: list[tuple[str, str, list[str], list[str]]]) -> None:
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE tweets (id TEXT PRIMARY KEY, username TEXT, media_urls TEXT, huggingface_urls TEXT, text TEXT)"
    )
    con.executemany(
        "INSERT INTO tweets VALUES (?, ?, ?, ?, '')", [(i, u, json.dumps(m), json.dumps(h)) for i, u, m, h in rows]
    )
    con.commit()
    con.close()


async def test_repair_plans_each_kind_and_honours_file_type_and_limit(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    missing = url(remote_path_for(KEY, "videos/alice/10_0.mp4"))
    wrong = url("images/bob/20_0.jpg")
    make_archive(
        tmp_path / "a.db",
        [
            ("10", "alice", ["https://video.twimg.com/v/X.mp4"], [missing]),
            ("20", "bob", ["https://pbs.twimg.com/media/Y.jpg"], [wrong]),
            ("30", "carol", [], [url("encrypted_images/carol/q")]),  # an empty media list
        ],
    )
    findings = [
        Finding(Category.MISSING, "10", missing),
        Finding(Category.WRONG_PATH, "20", wrong),
        Finding(Category.MISSING, "99", missing),
    ]
    async with Archive(cfg) as archive:
        planner = Planner(cfg, archive, KEY, placement())
        plans = {p.tweet_id: p for p in await planner.plans(findings, file_type=None, limit=None)}
        assert list(plans) == ["10", "20", "30", "99"]
        (m,) = plans["10"].files
        assert (m.kind, m.local_rel, m.url, m.media_url) == (
            FileKind.MISSING,
            "videos/alice/10_0.mp4",
            missing,
            "https://video.twimg.com/v/X.mp4",
        )
        (w,) = plans["20"].files
        assert (w.kind, w.old_url, w.remote_path) == (
            FileKind.WRONG_PATH,
            wrong,
            remote_path_for(KEY, "images/bob/20_0.jpg"),
        )
        assert (
            plans["30"].kinds == {FileKind.EMPTY_MEDIA} and not plans["30"].files
        )  # X is asked when the writer gets to it
        assert plans["99"].errors == [msg("err_not_in_db")]
        videos = await planner.plans(findings, file_type="videos", limit=None)
        assert all(fp.media == "videos" for p in videos for fp in p.files) and "20" not in {p.tweet_id for p in videos}
        assert [p.tweet_id for p in await planner.plans(findings, file_type=None, limit=2)] == ["10", "20"]


# -- placement: per-repo and per-folder limits -----------------------------------------------------


def test_placement_fills_repos_in_order_under_the_repo_limit() -> None:
    p = placement(("o/a", "o/b"), per_repo=3, per_folder=100)
    p.add_existing("o/a", ["encrypted_images/u/x", "encrypted_images/u/y"])
    assert [p.place(f"encrypted_images/u/n{i}") for i in range(4)] == ["o/a", "o/b", "o/b", "o/b"]
    assert (p.file_count("o/a"), p.file_count("o/b")) == (3, 3)
    with pytest.raises(IncompleteError, match="add a repo"):
        p.place("encrypted_images/u/full")


def test_placement_counts_new_folders_against_their_parent() -> None:
    p = placement(("o/a", "o/b"), per_repo=100, per_folder=2)
    assert p.place("encrypted_images/u1/a") == "o/a"  # root gains encrypted_images, which gains u1
    assert p.place("encrypted_images/u1/b") == "o/a"
    assert p.place("encrypted_images/u1/c") == "o/b"  # u1 holds 2 entries in o/a
    assert p.place("encrypted_images/u2/a") == "o/a"  # encrypted_images holds u1 and now u2
    assert p.place("encrypted_images/u3/a") == "o/b"  # a third folder would not fit in o/a
    assert p.folder_entries("o/a", "encrypted_images") == 2


def test_a_path_already_placed_stays_where_it_is() -> None:
    p = placement(("o/a", "o/b"), per_repo=1)
    p.add_existing("o/b", ["encrypted_videos/u/v"])
    assert p.find_existing("encrypted_videos/u/v") == "o/b" and p.place("encrypted_videos/u/v") == "o/b"
    assert p.file_count("o/b") == 1
    assert p.place("encrypted_videos/u/w") == "o/a" and p.place("encrypted_videos/u/w") == "o/a"


def test_a_placed_path_exists_only_once_confirmed() -> None:
    """A service retrying a tweet whose commit failed must upload its files again, not take
    them for uploaded because they were placed before."""
    p = placement(("o/a", "o/b"), per_repo=10)
    assert p.place("encrypted_images/u/x") == "o/a" and p.find_existing("encrypted_images/u/x") is None
    assert p.place("encrypted_images/u/x") == "o/a" and p.file_count("o/a") == 1  # same repo, counted once
    p.add_existing("o/a", ["encrypted_images/u/x"])  # the commit landed
    assert p.find_existing("encrypted_images/u/x") == "o/a" and p.file_count("o/a") == 1


# -- the per-tweet lines ---------------------------------------------------------------------------


def _plan() -> TweetPlan:
    files = [
        FilePlan(
            FileKind.MISSING, "images/alice/1_0.jpg", REPO, "encrypted_images/alice/a", url("encrypted_images/alice/a")
        ),
        FilePlan(
            FileKind.MISSING,
            "videos/alice/1_1.mp4",
            REPO,
            "encrypted_videos/alice/b",
            url("encrypted_videos/alice/b"),
            exists_remote=True,
        ),
    ]
    return TweetPlan("1", kinds={FileKind.MISSING}, files=files)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_tweet_prints_once_and_is_tallied(tmp_path: Path, lang: str) -> None:
    out: list[str] = []
    summary = RunSummary(tweets=2)
    lines = TweetLines(summary, UploadSource.REPAIR, lang, out.append)
    plan = _plan()
    lines.done(to_job(plan, row(), tmp_path, 1))
    failed = TweetJob(("2",), "2", [], info={"plan": TweetPlan("2", files=plan.files[:1]), "i": 2}, failed="HTTP 500")
    lines.done(failed)
    assert len(out) == 2 and (
        summary.tweets_completed,
        summary.files_succeeded,
        summary.tweets_error,
        summary.files_failed,
    ) == (1, 2, 1, 1)
    assert summary.errors == [{"tweet_id": "2", "reason": "HTTP 500"}]
    if lang == "en":
        assert out == [
            "[1/2] 1 missing: 2 files -> ok (1 uploaded, 1 already in repo)",
            "[2/2] 2 : 1 file -> error: HTTP 500",
        ]
    else:
        assert out[0].splitlines() == [
            "[1/2] 処理中: ツイートID 1 (欠落)",
            "  欠落ファイル数: 2",
            "  再処理対象: 画像 1件, 動画 1件",
            "  再アップロード成功: encrypted_images/alice/a",
            "  リポジトリに既存: encrypted_videos/alice/b",
            "  完了: 成功 2件, 失敗 0件",
        ]
        assert out[1].splitlines()[-2:] == ["  エラー: HTTP 500", "  完了: 成功 0件, 失敗 1件"]


@pytest.mark.parametrize("finished", [(2, 3, 1), (3, 1, 2), (1, 2, 3)])
def test_tweets_print_in_their_order_whatever_order_they_finish_in(tmp_path: Path, finished: tuple[int, ...]) -> None:
    out: list[str] = []
    lines = TweetLines(RunSummary(tweets=3), UploadSource.BACKUP, "en", out.append)
    plans = {i: TweetPlan(str(i), files=_plan().files[:1]) for i in (1, 2, 3)}
    for n, i in enumerate(finished):
        job = TweetJob((str(i),), str(i), [], info={"plan": plans[i], "i": i}, failed="HTTP 500" if i == 2 else None)
        lines.done(job)
        assert len(out) == sum(1 for j in range(1, 4) if all(k in finished[: n + 1] for k in range(1, j + 1)))
    assert [line.split()[0] for line in out] == ["[1/3]", "[2/3]", "[3/3]"]


def test_a_tweet_that_never_finished_leaves_a_gap_the_close_prints_past() -> None:
    out: list[str] = []
    lines = TweetLines(RunSummary(tweets=3), UploadSource.BACKUP, "en", out.append)
    for i in (3, 2):
        lines.fail(i, TweetPlan(str(i)), ["HTTP 500"])
    assert out == []
    lines.close()
    assert [line.split()[0] for line in out] == ["[2/3]", "[3/3]"]


def test_dry_run_lines_say_what_would_happen() -> None:
    plan = _plan()
    plan.files[0].old_url = url("images/alice/1_0.jpg")
    plan.errors.append(msg("err_local_no_url", local="images/alice/1_9.jpg"))
    assert plan_line(3, 4, plan, "en") == "[3/4] 1 missing: 2 files"
    assert plan_line(3, 4, plan, "ja") == "[3/4] 処理中: ツイートID 1 (欠落)"
    assert dry_run_lines(plan, UploadSource.REPAIR, "en") == [
        f"    missing: upload images/alice/1_0.jpg -> {REPO}:encrypted_images/alice/a",
        f"    replace URL {url('images/alice/1_0.jpg')}\n         with {url('encrypted_images/alice/a')}",
        "    missing: already in repo",
        "    error: local file not found: images/alice/1_9.jpg (no media URL to fetch it from)",
    ]
    ja = dry_run_lines(plan, UploadSource.BACKUP, "ja")
    assert ja[:2] == ["  未バックアップのファイル数: 2", "  処理対象: 画像 1件, 動画 1件"]
    assert ja[2].startswith("    欠落: アップロード予定 images/alice/1_0.jpg")
    assert ja[-1] == "    エラー: ローカルファイルがありません: images/alice/1_9.jpg（取得元のメディアURLなし）"


def test_tallies_follow_the_result() -> None:
    s = RunSummary()
    s.tally(TweetResult.OK, 3)
    s.tally(TweetResult.ERROR, 2)
    assert (s.tweets_completed, s.files_succeeded, s.tweets_error, s.files_failed) == (1, 3, 1, 2)
