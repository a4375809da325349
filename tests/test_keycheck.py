"""The key belongs to the archive (issue 18): a wrong key is refused before anything is written
or read back, with one line and no writing request; what hfcheck remembers is never poisoned."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import sqlite3
from pathlib import Path
from typing import Any, cast

import pytest
from huggingface_hub import HfApi

from hfcheck.crypto import ArchiveKey, HfcheckV1Codec, generate_key_file, load_key
from hfcheck.db.state import StateDB
from hfcheck.model.paths import BackupURL, local_path_for
from hfcheck.net.fetch import Fetched
from hfcheck.readback.deep import DeepAction
from hfcheck.readback.keycheck import RECORD_PATH, KeyVerdict, _spread, check_key
from hfcheck.readback.walk import Failure, Target
from hfcheck.sim.demo import REPO, TOKEN
from hfcheck.verify.checkers import UrlTask
from tests.helpers import DemoWorld, db_rows, demo_world, hub_state, run_cli, with_hub

# requests that change the Hub (the emulator's endpoint kinds); everything else only reads
WRITING_KINDS = {"commit", "preupload", "lfs_batch", "lfs_upload", "lfs_verify", "create_repo", "delete_repo"}
WRITING_PREFIXES = ("cas_", "xet_")


def other_key(tmp_path: Path) -> Path:
    path = tmp_path / "other.key"
    generate_key_file(path)
    return path


def writes(world: DemoWorld) -> dict[str, int]:
    kinds = world.hub.control.stats()["kinds"]
    return {k: n for k, n in kinds.items() if k in WRITING_KINDS or k.startswith(WRITING_PREFIXES)}


def state_rows(world: DemoWorld, table: str) -> list[tuple[object, ...]]:
    path = world.root / "data" / "state.db"
    if not path.is_file():
        return []
    con = sqlite3.connect(path)
    try:
        return con.execute(f"SELECT * FROM {table}").fetchall()
    finally:
        con.close()


def clear_backups(world: DemoWorld) -> None:
    """The archive as before its first backup: no row records a backup URL."""
    con = sqlite3.connect(world.root / "archive.db")
    with con:
        con.execute("UPDATE tweets SET huggingface_urls = NULL")
    con.close()


@pytest.mark.parametrize(
    ("command", "lang"),
    [(("backup",), "en"), (("repair",), "en"), (("migrate", "--to", "fernet"), "en"), (("backup",), "ja")],
    ids=["backup", "repair", "migrate", "backup-ja"],
)
def test_a_wrong_key_is_refused_before_anything_is_written(tmp_path: Path, command: tuple[str, ...], lang: str) -> None:
    with demo_world(tmp_path / "demo", tweets=40) as w:
        rows, hub = db_rows(w), hub_state(w)
        w.hub.control.reset_stats()
        env = {**w.env(), "LANG": "ja_JP.UTF-8" if lang == "ja" else "C.UTF-8"}
        r = run_cli(w, *command, "--key-file", str(other_key(tmp_path)), env=env)
        assert r.returncode == 2, r.stdout + r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r.stderr
        if lang == "ja":
            assert re.search(r"記録済みの名前 20 件のうち、.*other\.key の鍵で復号できたのは 0 件", lines[0]), lines
        else:
            assert re.search(
                r"0 of 20 recorded names decrypt with the key in \S*other\.key: is it this archive", lines[0]
            )
        assert writes(w) == {}, w.hub.control.stats()["kinds"]
        assert db_rows(w) == rows
        assert hub_state(w) == hub
        assert state_rows(w, "uploads") == [] and state_rows(w, "deep_checks") == []


def test_a_wrong_key_read_back_says_so_once_and_repair_then_plans_nothing_for_good_files(tmp_path: Path) -> None:
    with demo_world(tmp_path / "demo", tweets=40) as w:
        w.hub.control.reset_stats()
        wrong = str(other_key(tmp_path))
        r = run_cli(w, "verify", "--deep", "--sample", "all", "--key-file", wrong)
        assert r.returncode == 2, r.stdout + r.stderr
        assert "is it this archive's key?" in r.stderr and r.stdout == ""
        assert not any(k in w.hub.control.stats()["kinds"] for k in ("resolve", "cdn"))  # no file was read
        assert state_rows(w, "deep_checks") == []
        for command in (("audit",), ("restore", "--all", "--out", str(tmp_path / "out"))):
            r = run_cli(w, *command, "--key-file", wrong)
            assert r.returncode == 2 and r.stderr.count("is it this archive's key?") == 1, r.stdout + r.stderr
        # the right key: what the wrong one saw is nowhere, so repair re-uploads no good file
        r = run_cli(w, "repair", "--dry-run")
        assert r.returncode in (0, 1), r.stdout + r.stderr
        assert "unreadable" not in r.stdout
        with StateDB.in_data_dir(w.root / "data") as state:
            assert state.unreadable_backups() == []


def test_a_mixed_archive_goes_on(tmp_path: Path) -> None:
    """Half the recorded names are another key's (an archive half migrated by hand): the key
    opens the others, so it is this archive's key."""
    with demo_world(tmp_path / "demo", tweets=40) as w:
        key, stranger = load_key(w.root / "archive.key"), ArchiveKey(b"\x01" * 32)
        con = sqlite3.connect(w.root / "archive.db")
        with con:
            for n, (tid, hf) in enumerate(con.execute("SELECT id, huggingface_urls FROM tweets").fetchall()):
                try:
                    urls = json.loads(hf) if hf else []
                except ValueError:  # a planted bad row
                    continue
                if n % 2 or not isinstance(urls, list) or not urls:
                    continue
                moved = []
                for raw in urls:
                    try:
                        u = BackupURL.parse(raw)
                        name = local_path_for(key, u.path).rsplit("/", 1)[1]
                    except Exception:  # noqa: BLE001 - a planted wrong path or malformed URL: keep it
                        moved.append(raw)
                        continue
                    parent = u.path.rsplit("/", 1)[0]
                    path = f"{parent}/{stranger.encrypt_name(parent, name)}"
                    moved.append(str(BackupURL(u.endpoint, u.repo_id, u.revision, path)))
                con.execute("UPDATE tweets SET huggingface_urls = ? WHERE id = ?", (json.dumps(moved), tid))
        con.close()
        check = asyncio.run(with_hub(check_key, w.config()))
        assert check.verdict is KeyVerdict.OPENS and check.how == "names"
        assert 0 < check.opened < check.tried == 20, check


def test_the_key_check_record_is_written_on_first_use_and_proves_the_key(tmp_path: Path) -> None:
    with demo_world(tmp_path / "demo", tweets=30) as w:
        clear_backups(w)
        before = asyncio.run(with_hub(check_key, w.config()))
        assert before.verdict is KeyVerdict.UNPROVEN and before.write_record
        r = run_cli(w, "backup", "--limit", "2")
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"key-check record written: {REPO}:{RECORD_PATH}" in r.stdout
        assert RECORD_PATH in hub_state(w)
        # nothing recorded in the rows any more: only the record speaks for the key
        clear_backups(w)
        rows, hub = db_rows(w), hub_state(w)
        w.hub.control.reset_stats()
        r = run_cli(w, "backup", "--key-file", str(other_key(tmp_path)))
        assert r.returncode == 2, r.stdout + r.stderr
        assert f"the key-check record {REPO}:{RECORD_PATH} does not decrypt with the key in" in r.stderr
        assert writes(w) == {} and db_rows(w) == rows and hub_state(w) == hub
        good = asyncio.run(with_hub(check_key, w.config()))
        assert (good.verdict, good.how, good.write_record) == (KeyVerdict.OPENS, "record", False)
        r = run_cli(w, "backup", "--limit", "1")
        assert r.returncode == 0 and "key-check record" not in r.stdout, r.stdout + r.stderr


def encrypted_paths(hf: str | None) -> list[str]:
    """The encrypted backup paths a row's URL column records (a planted bad value: none)."""
    try:
        urls = json.loads(hf or "[]")
    except ValueError:
        return []
    out = []
    for u in urls if isinstance(urls, list) else []:
        try:
            path = BackupURL.parse(u).path
        except ValueError:
            continue
        if path.startswith("encrypted_"):
            out.append(path)
    return out


# -- what hfcheck remembers is never poisoned (issue 18.2) ----------------------------------------


def audit(w: DemoWorld, *args: str) -> dict[str, Any]:
    r = run_cli(w, "audit", *args)
    assert r.returncode in (0, 1), r.stdout + r.stderr
    return cast(dict[str, Any], json.loads((w.root / "data" / "audit_report.json").read_text()))


def plan_kinds(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["kind"]: item for item in report["plan"]}


def test_recorded_uploads_gone_from_the_hub_are_repaired_or_forgotten_and_differing_ones_settled(
    tmp_path: Path,
) -> None:
    """An upload deleted by hand is `missing` for repair (not a read-back advice that changes
    nothing); one no row records any more is forgotten; one replaced on the Hub by a file that
    decrypts is accepted by the read-back that the advice names."""
    with demo_world(tmp_path / "demo", tweets=40) as w:
        r = run_cli(w, "backup", "--limit", "3")
        assert r.returncode == 0, r.stdout + r.stderr
        uploads = sorted(state_rows(w, "uploads"))
        assert len(uploads) >= 3
        (_, gone, *_), (_, stale, *_), (_, replaced, *_) = uploads[:3]
        api = HfApi(endpoint=w.hub.url, token=TOKEN)
        api.delete_file(gone, REPO, repo_type="dataset")
        api.delete_file(stale, REPO, repo_type="dataset")
        con = sqlite3.connect(w.root / "archive.db")
        with con:  # no row records `stale` any more
            for tid, hf in con.execute(
                "SELECT id, huggingface_urls FROM tweets WHERE huggingface_urls LIKE ?", (f"%{stale}%",)
            ).fetchall():
                kept = [u for u in json.loads(hf) if not u.endswith(stale)]
                con.execute("UPDATE tweets SET huggingface_urls = ? WHERE id = ?", (json.dumps(kept), tid))
        con.close()
        cfg = w.config()
        codec = HfcheckV1Codec(load_key(w.root / "archive.key"))
        assert cfg.media_root is not None
        local = cfg.media_root / local_path_for(codec, replaced)
        codec.encrypt_file(local, tmp_path / "again.enc", replaced)  # the same plaintext, a fresh nonce
        api.upload_file(
            path_or_fileobj=tmp_path / "again.enc", path_in_repo=replaced, repo_id=REPO, repo_type="dataset"
        )

        report = audit(w, "--sample", "all")
        rec, plan = report["deep"]["recorded"], plan_kinds(report)
        assert (rec["absent"], rec["forgotten"], rec["differs"]) == (1, 1, 0), rec
        assert plan["recorded_missing"]["tool"] == "repair" and "recorded_differs" not in plan
        assert all(" repair" in c for c in plan["recorded_missing"]["commands"])
        assert report["fixes"]["recorded_missing"] == report["fixes"]["missing"]
        assert [p for _, p, *_ in state_rows(w, "uploads")].count(stale) == 0

        r = run_cli(w, "repair")
        assert r.returncode in (0, 1), r.stdout + r.stderr
        assert gone in hub_state(w)
        report = audit(w)
        rec = report["deep"]["recorded"]
        assert (rec["absent"], rec["forgotten"], rec["differs"]) == (0, 0, 0), rec
        assert not {"recorded_missing", "recorded_differs"} & plan_kinds(report).keys()


def test_unreadable_is_remembered_only_when_the_key_is_proven_and_a_good_read_back_clears_it(
    tmp_path: Path,
) -> None:
    media = tmp_path / "media"
    (media / "images" / "u").mkdir(parents=True)
    (media / "images" / "u" / "1_0.jpg").write_bytes(b"jpeg")
    url = BackupURL("http://hub", "o/r", "main", "encrypted_images/u/x")
    task = UrlTask(1, "1", "u", 0, url)
    target = Target(task, "images/u/1_0.jpg", media / "images" / "u" / "1_0.jpg")
    fetched = Fetched(tmp_path / "x.part", 4, None, 0)
    with StateDB.open(tmp_path / "state.db") as state:
        unproven = DeepAction(media, state, key_opens=False)
        unproven.failed(task, Failure.DECRYPT_FAILED, "does not decrypt", target)
        assert state.last_deep_check("o/r", url.path) is None  # nothing of this run decrypted yet
        asyncio.run(unproven.after(target, fetched, hashlib.sha256(b"jpeg").hexdigest()))
        assert state.last_deep_check("o/r", url.path) is not None  # now the key opens a file: kept
        other = BackupURL("http://hub", "o/r", "main", "encrypted_images/u/y")
        DeepAction(media, state).failed(UrlTask(2, "1", "u", 1, other), Failure.DECRYPT_FAILED, "bad", None)
        assert ("o/r", other.path) in state.unreadable_backups()
        good = Target(UrlTask(3, "1", "u", 1, other), "images/u/1_0.jpg", target.path)
        asyncio.run(DeepAction(media, state).after(good, fetched, hashlib.sha256(b"jpeg").hexdigest()))
        assert ("o/r", other.path) not in state.unreadable_backups()


def test_repair_reads_remembered_unreadable_backups_again_and_overwrites_no_good_one(tmp_path: Path) -> None:
    """A history poisoned before the key check existed (a wrong key's read-back recorded good
    backups as unreadable): repair reads them back with its proven key and uploads none."""
    with demo_world(tmp_path / "demo", tweets=40) as w:
        on_hub = hub_state(w)
        recorded = {p for _, _, hf, _ in db_rows(w).values() for p in encrypted_paths(hf)}
        good = sorted(recorded & on_hub.keys())[:3]
        assert len(good) == 3
        with StateDB.in_data_dir(w.root / "data") as state:
            for path in good:
                state.record_deep_check(REPO, path, "decrypt_failed")
        r = run_cli(w, "repair", "--dry-run")
        assert r.returncode in (0, 1) and "unreadable" not in r.stdout, r.stdout + r.stderr
        with StateDB.in_data_dir(w.root / "data") as state:
            assert len(state.unreadable_backups()) == 3  # a dry run remembers nothing new
        r = run_cli(w, "repair")
        assert r.returncode in (0, 1), r.stdout + r.stderr
        assert "unreadable" not in r.stdout
        with StateDB.in_data_dir(w.root / "data") as state:
            assert state.unreadable_backups() == []
            assert all(state.get_upload(REPO, path) is None for path in good)
        assert {p: hub_state(w)[p] for p in good} == {p: on_hub[p] for p in good}


def test_the_names_tried_are_spread_over_repos_then_accounts() -> None:
    def task(repo: str, user: str, i: int) -> UrlTask:
        return UrlTask(i, str(i), user, 0, BackupURL("http://hub", repo, "main", f"encrypted_images/{user}/n{i}"))

    groups = {("a/one", f"u{k}"): [task("a/one", f"u{k}", 10 * k + i) for i in range(5)] for k in range(30)}
    groups[("b/two", "z")] = [task("b/two", "z", 900 + i) for i in range(5)]
    picked = _spread(groups, 20)
    assert len(picked) == 20
    assert [t.url.repo_id for t in picked[:4]] == ["a/one", "b/two", "a/one", "b/two"]
    one = [t.username for t in picked if t.url.repo_id == "a/one"]
    assert len(set(one)) == len(one) == 15  # a row of every account before a second of any


def test_one_way_names_are_proven_by_reading_recorded_backups_back(tmp_path: Path) -> None:
    """A plug-in whose names are one-way: nothing to decrypt in the names, so a few recorded
    backups are read back (the key-check record deleted, as a user might)."""
    scheme = "python:tests.plugin_codec:ToyCodec"
    with demo_world(tmp_path / "demo", tweets=20) as w:
        cfg_file = w.root / "hfcheck.toml"
        cfg_file.write_text(cfg_file.read_text().replace('scheme = "hfcheck-v1"', f'scheme = "{scheme}"'))
        env = {**w.env(), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        clear_backups(w)
        r = run_cli(w, "backup", "--limit", "4", env=env)
        assert r.returncode == 0 and "key-check record written" in r.stdout, r.stdout + r.stderr
        HfApi(endpoint=w.hub.url, token=TOKEN).delete_file(RECORD_PATH, REPO, repo_type="dataset")
        good = asyncio.run(with_hub(check_key, w.config(scheme=scheme)))
        assert (good.verdict, good.how, good.opened, good.write_record) == (KeyVerdict.OPENS, "files", 1, True)
        rows, hub = db_rows(w), hub_state(w)
        w.hub.control.reset_stats()
        r = run_cli(w, "backup", "--key-file", str(other_key(tmp_path)), env=env)
        assert r.returncode == 2, r.stdout + r.stderr
        assert "0 of 3 recorded backups decrypt with the key in" in r.stderr
        assert writes(w) == {} and db_rows(w) == rows and hub_state(w) == hub
