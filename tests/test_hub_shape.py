"""hfcheck on the Hub's real shape (issue 20): a repo's own root files — the `.gitattributes`
every new Hub repo starts with, a dataset card `README.md` — are not backups. No command
reports them as a problem or `unknown_format`, and they change no count."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from huggingface_hub import HfApi

from hfcheck.sim.demo import REPO, TOKEN
from tests.helpers import demo_world, run_cli

ROOT_FILES = {
    ".gitattributes": b"*.bin filter=lfs diff=lfs merge=lfs -text\n*.png filter=lfs diff=lfs merge=lfs -text\n",
    "README.md": b"---\nlicense: other\n---\n# Media backup\n\nEncrypted; see hfcheck.\n",
    "LICENSE": b"All rights reserved.\n",
}


def mentions_root_file(text: str) -> list[str]:
    return [name for name in ROOT_FILES if name in text]


@pytest.mark.slow
def test_root_files_of_a_hub_repo_are_never_problems(tmp_path: Path) -> None:
    with demo_world(tmp_path / "demo", tweets=30) as world:
        before = json.loads(run_cli(world, "verify", "--json", "--method", "list").stdout)["counts"]
        api = HfApi(endpoint=world.hub.url, token=TOKEN)
        for name, data in ROOT_FILES.items():
            api.upload_file(path_or_fileobj=data, path_in_repo=name, repo_id=REPO, repo_type="dataset")

        for method in ("list", "head", "auto"):
            r = run_cli(world, "verify", "--json", "--method", method)
            assert json.loads(r.stdout)["counts"] == before, (method, r.stdout)
            assert not mentions_root_file(r.stdout + r.stderr), method

        deep = run_cli(world, "verify", "--json", "--sample", "all")
        report = json.loads(deep.stdout)
        counts = report["deep"]["counts"]
        assert counts["deep_ok"] > 0 and counts["unknown_format"] == 0 and counts["decrypt_failed"] == 0
        assert not mentions_root_file(deep.stdout + deep.stderr)

        audit = run_cli(world, "audit", "--sample", "all")
        assert "Traceback" not in audit.stderr
        written = "".join(p.read_text() for p in (world.root / "data").glob("audit*.json"))
        assert not mentions_root_file(audit.stdout + audit.stderr + written)

        out = tmp_path / "restored"
        restore = run_cli(world, "restore", "--all", "--out", str(out))
        assert "Traceback" not in restore.stderr
        assert not mentions_root_file(restore.stdout + restore.stderr)
        assert not [p for p in out.rglob("*") if p.name in ROOT_FILES]

        for cmd in (("migrate", "--to", "fernet", "--dry-run"), ("repair", "--dry-run")):
            r = run_cli(world, *cmd)
            assert "Traceback" not in r.stderr, cmd
            assert not mentions_root_file(r.stdout + r.stderr), cmd
        assert set(ROOT_FILES) <= set(api.list_repo_files(REPO, repo_type="dataset"))

        # the same archive read at a branch, a tag and a commit id (URLs and --revision agree)
        api.create_branch(REPO, branch="archive", repo_type="dataset")
        api.create_tag(REPO, tag="v1", repo_type="dataset")
        sha = api.list_repo_commits(REPO, repo_type="dataset")[0].commit_id
        was = "main"
        for rev in ("archive", "v1", sha):
            con = sqlite3.connect(world.root / "archive.db")
            con.execute(
                "UPDATE tweets SET huggingface_urls = replace(huggingface_urls, ?, ?)",
                (f"/resolve/{was}/", f"/resolve/{rev}/"),
            )
            con.commit()
            con.close()
            was = rev
            for method in ("list", "head"):
                r = run_cli(world, "verify", "--json", "--method", method, "--revision", rev)
                assert json.loads(r.stdout)["counts"] == before, (rev, method, r.stdout)
                assert not mentions_root_file(r.stdout + r.stderr), (rev, method)
        deep = run_cli(world, "verify", "--json", "--sample", "all", "--revision", sha)
        counts = json.loads(deep.stdout)["deep"]["counts"]
        assert counts["deep_ok"] > 0 and counts["unknown_format"] == 0 and counts["decrypt_failed"] == 0
