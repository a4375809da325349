"""One Hub per run (issue 21): every command opens exactly one `Hub` and hands it to each part
(key check, verify, the read-back, the writers, the watch's audit), so a run's requests share
one session and one set of rate-limit buckets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hfcheck.net.hub import Hub
from tests.helpers import cli_exit_code, demo_world

COMMANDS = [
    ["repair"],  # first: no verify progress yet, so repair runs verify (and the key check) itself
    ["verify", "--check-missing"],
    ["verify", "--deep", "--sample", "all"],
    ["audit"],
    ["backup"],
    ["restore", "--all", "--out", "{tmp}/restored"],
    ["migrate", "--to", "fernet", "--limit", "3"],
    ["watch", "--once"],
    ["doctor"],
]


def test_every_command_opens_exactly_one_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hfcheck.net import twitter
    from hfcheck.sim.x_canned import FixtureTransport

    opened: list[int] = []
    enter = Hub.__aenter__

    async def counting_enter(self: Hub) -> Hub:
        opened.append(id(self))
        return await enter(self)

    monkeypatch.setattr(Hub, "__aenter__", counting_enter)
    monkeypatch.setattr(twitter, "_stand_in", None)  # restored after the test
    with demo_world(tmp_path / "w", tweets=30) as world:
        twitter.stand_in_for_x(FixtureTransport(json.loads((world.root / "x_fixtures.json").read_text("utf-8"))))
        for key, value in world.env().items():
            monkeypatch.setenv(key, value)
        for args in COMMANDS:
            argv = [a.format(tmp=tmp_path) for a in args]
            opened.clear()
            code = cli_exit_code([*argv, "--config", str(world.root / "hfcheck.toml"), "--lang", "en"])
            assert code in (0, 1, 3), (args, code)
            assert len(opened) == 1, (args, len(opened))
