"""conftest for huggingface_hub's own tests run against the emulator (copied into the sdist's tests/).

The sdist ships the tests without their conftest, so this one supplies what they import and use:
`RepoFactory` and the fixtures `api`, `api_other`, `api_unauth`, `repo_factory`; the suite's
markers (`xet` tests run only when Xet is on, `no_xet` ones only when it is off); and the
selection of conformance/selection.toml (what is left out is deselected, with its reason kept
for the runner's report). The tests' staging endpoint is pointed at the emulator (`HF_ENDPOINT`,
set by the runner before anything imports huggingface_hub).
"""

from __future__ import annotations

import fnmatch
import json
import os
import tomllib
from pathlib import Path
from typing import Any, Callable, Iterator
from unittest import mock

import pytest

from . import testing_constants

EMULATOR = os.environ["HF_ENDPOINT"]
XET_ON = os.environ.get("HF_HUB_DISABLE_XET", "") not in ("1", "true", "True")
testing_constants.ENDPOINT_STAGING = EMULATOR  # the tests' "hub-ci" is the emulator
SELECTION = tomllib.loads(Path(os.environ["CONFORMANCE_SELECTION"]).read_text())

from huggingface_hub import HfApi  # noqa: E402  (after HF_ENDPOINT is in place)
from huggingface_hub.hf_api import RepoUrl  # noqa: E402

from .testing_utils import repo_name  # noqa: E402


class RepoFactory:
    """Creates repos for a test (as USER, or with `token=`) and deletes them afterwards."""

    def __init__(self, api: HfApi) -> None:
        self.api = api
        self.created: list[tuple[str, str, Any]] = []

    def __call__(self, repo_type: str = "model", repo_id: str | None = None, **kwargs: Any) -> RepoUrl:
        name = repo_id or repo_name(prefix=repo_type)
        url = self.api.create_repo(name, repo_type=repo_type, **kwargs)
        self.created.append((url.repo_id, repo_type, kwargs.get("token")))
        return url

    def cleanup(self) -> None:
        for repo_id, repo_type, token in self.created:
            try:
                self.api.delete_repo(repo_id, repo_type=repo_type, token=token, missing_ok=True)
            except Exception:  # noqa: BLE001  (a test may have moved or deleted it)
                pass


@pytest.fixture(scope="session")
def api() -> HfApi:
    return HfApi(endpoint=EMULATOR, token=testing_constants.TOKEN)


@pytest.fixture(scope="session")
def api_other() -> HfApi:
    return HfApi(endpoint=EMULATOR, token=testing_constants.OTHER_TOKEN)


@pytest.fixture(scope="session")
def api_unauth() -> HfApi:
    return HfApi(endpoint=EMULATOR, token=False)


@pytest.fixture
def repo_factory(api: HfApi) -> Iterator[Callable[..., RepoUrl]]:
    factory = RepoFactory(api)
    yield factory
    factory.cleanup()


class _Patcher:
    """`mocker.patch`, `.object`, `.dict` (pytest-mock's, which the suite uses, on unittest.mock)."""

    def __init__(self, started: list[Any]) -> None:
        self._started = started

    def _start(self, patcher: Any) -> Any:
        self._started.append(patcher)
        return patcher.start()

    def __call__(self, target: str, *args: Any, **kwargs: Any) -> Any:
        return self._start(mock.patch(target, *args, **kwargs))

    def object(self, target: Any, attribute: str, *args: Any, **kwargs: Any) -> Any:
        return self._start(mock.patch.object(target, attribute, *args, **kwargs))

    def dict(self, in_dict: Any, values: Any = (), clear: bool = False, **kwargs: Any) -> Any:
        return self._start(mock.patch.dict(in_dict, values, clear, **kwargs))


class Mocker:
    """The part of pytest-mock's `mocker` the suite uses (pytest-mock is not a dependency here)."""

    Mock, MagicMock, ANY, call, DEFAULT = mock.Mock, mock.MagicMock, mock.ANY, mock.call, mock.DEFAULT

    def __init__(self) -> None:
        self._started: list[Any] = []
        self.patch = _Patcher(self._started)

    def spy(self, obj: Any, name: str) -> Any:
        return self.patch.object(obj, name, side_effect=getattr(obj, name), autospec=True)

    def stopall(self) -> None:
        for patcher in reversed(self._started):
            patcher.stop()
        self._started.clear()


@pytest.fixture
def mocker() -> Iterator[Mocker]:
    m = Mocker()
    yield m
    m.stopall()


def _transfer_policy(item: pytest.Item) -> None:
    """`xet` tests need the Xet transfer, `no_xet` tests the LFS one (as the suite's markers say):
    skipped at collection, before any fixture is set up (a module's bucket fixture needs Xet)."""
    if item.get_closest_marker("xet") is not None and not XET_ON:
        item.add_marker(pytest.mark.skip(reason="Xet test: this run is LFS-only"))
    if item.get_closest_marker("no_xet") is not None and XET_ON:
        item.add_marker(pytest.mark.skip(reason="LFS-only test: this run has Xet on"))


NOT_SELECTED = "not in the selection"


def _names(key: str, nodeid: str) -> bool:
    """Whether a selection key names this test: the test, its class or file, `*` as wildcards."""
    test = nodeid.split("[")[0]
    parts = test.split("::")
    return any(fnmatch.fnmatchcase("::".join(parts[:n]), key) for n in range(1, len(parts) + 1))


def _decide(nodeid: str) -> str | None:
    """None to run the test, else why it is left out: the longest key naming it decides."""
    keys = [(len(k), "run", k) for k in SELECTION["run"] if _names(k, nodeid)]
    keys += [(len(k), "leave_out", k) for k in SELECTION["leave_out"] if _names(k, nodeid)]
    if not keys:
        return NOT_SELECTED
    _, table, key = max(keys)
    return None if table == "run" else SELECTION[table][key]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the selected tests; deselect the left-out ones, writing each with its reason."""
    keep, dropped, left_out = [], [], {}
    for item in items:
        nodeid = item.nodeid.removeprefix("tests/")
        reason = _decide(nodeid)
        for marker, why in SELECTION["markers"].items():  # a marker says more than "not selected"
            if reason in (None, NOT_SELECTED) and item.get_closest_marker(marker) is not None:
                reason = why
        if reason is None:
            keep.append(item)
            _transfer_policy(item)
        else:
            dropped.append(item)
            left_out[nodeid] = reason
    items[:] = keep
    config.hook.pytest_deselected(items=dropped)
    out = os.environ.get("CONFORMANCE_LEFT_OUT")
    if out:
        Path(out).write_text(json.dumps(left_out, indent=0))
