"""The emulator's reading of `.gitattributes` and `.gitignore`, checked against git itself
(`git check-attr`, `git check-ignore`) on generated patterns and paths."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hfcheck.sim.emulator import gitrules

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

PART = st.sampled_from(["a", "b", "x.bin", "y.txt", "saved_model", "d", "e.tar.gz", "[c]"])
PATHS = st.lists(st.lists(PART, min_size=1, max_size=4).map("/".join), min_size=1, max_size=6)
PAT_PART = st.sampled_from(["a", "*", "**", "*.bin", "x.*", "?", "[xy].bin", "saved_model", "d", "*.tar.*"])
PATTERN = st.tuples(st.booleans(), st.lists(PAT_PART, min_size=1, max_size=3).map("/".join), st.booleans()).map(
    lambda t: ("/" if t[0] else "") + t[1] + ("/" if t[2] else "")
)


def _git(repo: Path, *args: str, stdin: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], input=stdin, capture_output=True, text=True, check=False
    ).stdout


@pytest.fixture(scope="module")
def git_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("git")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(patterns=st.lists(st.tuples(PATTERN, st.booleans()), min_size=1, max_size=4), paths=PATHS)
def test_lfs_by_attributes_agrees_with_git(git_repo: Path, patterns: list[tuple[str, bool]], paths: list[str]) -> None:
    text = "".join(f"{p} {'filter=lfs' if lfs else '-filter'}\n" for p, lfs in patterns)
    (git_repo / ".gitattributes").write_text(text)
    out = _git(git_repo, "check-attr", "--stdin", "filter", stdin="\n".join(paths) + "\n")
    git = {line.rsplit(": filter: ", 1)[0]: line.rsplit(": ", 1)[1] for line in out.splitlines()}
    for path in paths:
        want = {"lfs": True, "unset": False, "unspecified": None}[git[path]]
        assert gitrules.lfs_by_attributes(text, path) == want, (text, path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(patterns=st.lists(st.tuples(st.booleans(), PATTERN), min_size=1, max_size=4), paths=PATHS)
def test_ignored_agrees_with_git(git_repo: Path, patterns: list[tuple[bool, str]], paths: list[str]) -> None:
    # a name is a file or a directory, never both: drop the paths that are another path's folder
    files = [p for p in dict.fromkeys(paths) if not any(q.startswith(p + "/") for q in paths)]
    text = "".join(("!" if neg else "") + p + "\n" for neg, p in patterns)
    (git_repo / ".gitignore").write_text(text)
    out = _git(git_repo, "check-ignore", "--no-index", "--stdin", stdin="\n".join(files) + "\n")
    git = set(out.splitlines())
    for path in files:
        assert gitrules.ignored(text, path) == (path in git), (text, path)


def test_default_gitattributes_make_media_and_weights_lfs() -> None:
    model, dataset = gitrules.default_gitattributes("model"), gitrules.default_gitattributes("dataset")
    assert gitrules.lfs_by_attributes(model, "weights/model.safetensors") is True
    assert gitrules.lfs_by_attributes(model, "saved_model/a/b.pb") is True
    assert gitrules.lfs_by_attributes(model, "images/a.png") is None
    assert gitrules.lfs_by_attributes(dataset, "images/a.png") is True
    assert gitrules.lfs_by_attributes(dataset, "README.md") is None
