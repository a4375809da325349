"""Configuration: file, environment, flags, and one clear line for a bad setting."""

from pathlib import Path

import pytest

from hfcheck.config import load_config
from hfcheck.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "hfcheck.toml"
    p.write_text(text)
    return p


def test_precedence(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        '[hub]\nrepos = ["a/b"]\nendpoint = "http://file:1"\n[run]\nconcurrency = 8\n[limits]\napi_per_window = 10\n',
    )
    cfg = load_config(p, {"concurrency": 16}, env={"HF_ENDPOINT": "http://env:2/", "HF_TOKEN": "hf_secret"})
    assert cfg.repos == ("a/b",)
    assert cfg.endpoint == "http://env:2"
    assert cfg.concurrency == 16
    assert cfg.limits.api_per_window == 10
    assert cfg.token == "hf_secret"
    assert "hf_secret" not in repr(cfg)


def test_defaults_and_lang() -> None:
    cfg = load_config(None, {}, env={"LANG": "ja_JP.UTF-8"})
    assert cfg.endpoint == "https://huggingface.co"
    assert cfg.lang == "ja"
    assert load_config(None, {"lang": "en"}, env={"LANG": "ja_JP.UTF-8"}).lang == "en"
    assert load_config(None, {}, env={"LANG": "C.UTF-8"}).lang == "en"


@pytest.mark.parametrize(
    "text, needle",
    [
        ("[hub]\nrepoz = []\n", "hub.repoz"),
        ('[hub]\nrepos = ["nope"]\n', "repos"),
        ("[run]\nconcurrency = 0\n", "run.concurrency"),
        ('[archive]\ntable = "x; drop"\n', "x; drop"),
        ('[archive]\ntable = "tweets\\n"\n', "tweets"),
        ('[hub]\nrepos = ["alice/backup\\n"]\n', "alice/backup"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_bad_settings_name_themselves(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace(";", ";").replace("[", r"\[")):
        load_config(write(tmp_path, text), {}, env={})


def test_require_names_the_flag() -> None:
    cfg = load_config(None, {}, env={})
    with pytest.raises(ConfigError, match="--repo"):
        cfg.require("repos")
    with pytest.raises(ConfigError, match="--db"):
        cfg.require("db")


def test_cli_config_error_is_one_line_exit_2(tmp_path: Path) -> None:
    import subprocess
    import sys

    p = write(tmp_path, "[hub]\nrepoz = 1\n")
    r = subprocess.run(
        [sys.executable, "-m", "hfcheck", "crypt", "name", "images/a/1_0.jpg", "--config", str(p)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "hub.repoz" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_data_dir_that_cannot_be_created_is_one_line_exit_2(tmp_path: Path) -> None:
    import sqlite3
    import subprocess
    import sys

    db = tmp_path / "a.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE tweets (id TEXT PRIMARY KEY, username TEXT, media_urls TEXT, huggingface_urls TEXT)")
    con.close()
    (tmp_path / "file").write_text("not a folder")
    r = subprocess.run(
        [sys.executable, "-m", "hfcheck", "verify", "--db", str(db), "--data-dir", str(tmp_path / "file" / "data")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("hfcheck: error: ") and str(tmp_path / "file") in r.stderr
    assert "Traceback" not in r.stderr


def test_example_config_is_valid() -> None:
    cfg = load_config(Path(__file__).parent.parent / "hfcheck.example.toml", {}, env={})
    assert cfg.repos == ("your-name/media-backup",) and cfg.limits.api_per_window is None
    assert (cfg.watch.interval, cfg.watch.audit_every, cfg.watch.rescan_every, cfg.watch.metrics_port) == (
        60,
        86400,
        10,
        0,
    )
    assert (cfg.notify.webhook_url, cfg.notify.ping_url, cfg.notify.failure_after) == (None, None, 3600)
    assert cfg.watch.commit_linger == 2  # the committer's own default


def test_watch_and_notify_settings_keep_their_urls_secret() -> None:
    from hfcheck.config import parse_duration, parse_set_flags

    hook, ping = "https://hooks.example/services/T0/B0/SECRETHOOK", "https://hc.example/ping/SECRETUUID"
    values = parse_set_flags(
        [f"notify.webhook_url={hook}", f"notify.ping_url={ping}", "watch.audit_every=15m", "watch.metrics_port=9464"]
    )
    cfg = load_config(None, values, env={})
    assert (cfg.notify.webhook_url, cfg.notify.ping_url, cfg.watch.audit_every, cfg.watch.metrics_port) == (
        hook,
        ping,
        900,
        9464,
    )
    assert "SECRETHOOK" not in repr(cfg) and "SECRETUUID" not in repr(cfg)
    with pytest.raises(ConfigError) as bad:
        parse_set_flags(["notify.webhook_url=ftp://SECRETHOOK"])
    assert "SECRETHOOK" not in str(bad.value) and "notify.webhook_url" in str(bad.value)
    assert [parse_duration(v) for v in ("24h", "90", 90, "1.5m", "2d", "0")] == [86400, 90, 90, 90, 172800, 0]
    for bad_value in ("soon", "-1h", True, "1w"):
        with pytest.raises(ValueError):
            parse_duration(bad_value)


def test_every_key_has_a_flag() -> None:
    from hfcheck.config import parse_set_flags

    values = parse_set_flags(
        [
            "archive.table=posts",
            "limits.api_per_window=2500",
            'download.allowed_hosts=["a.example"]',
            "run.data_dir=/tmp/x",
        ]
    )
    cfg = load_config(None, values, env={})
    assert (cfg.table, cfg.limits.api_per_window, cfg.allowed_hosts, str(cfg.data_dir)) == (
        "posts",
        2500,
        ("a.example",),
        "/tmp/x",
    )
    with pytest.raises(ConfigError, match="unknown setting 'archive.tabel'"):
        parse_set_flags(["archive.tabel=x"])
    with pytest.raises(ConfigError, match="expected section.key=VALUE"):
        parse_set_flags(["nothing"])


def test_a_command_loads_only_what_it_needs(tmp_path: Path) -> None:
    """`verify` never imports twscrape (0.4 s, 46 MiB) nor the emulator; `repair --help` needs
    no twscrape either: only recovering a lost media list loads it. `crypt` never contacts the
    Hub: without HF_TOKEN it does not import huggingface_hub to look up a stored token (0.2 s)."""
    import os
    import subprocess
    import sys

    from hfcheck.crypto import generate_key_file

    probe = (
        "import sys\nfrom hfcheck.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('twscrape', 'hfcheck.sim.emulator.server', 'hfcheck.commands.repair',"
        " 'huggingface_hub') if m in sys.modules))"
    )
    generate_key_file(tmp_path / "k.key")
    crypt = ["crypt", "name", "images/alice/1_0.jpg", "--key-file", str(tmp_path / "k.key")]
    assert "HF_TOKEN" not in os.environ  # conftest.py: as on a machine where only `hf auth login` ran
    for args, loaded in (
        (["verify", "--help"], "[]"),
        (["repair", "--help"], "['hfcheck.commands.repair']"),
        (crypt, "[]"),
    ):
        r = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=60)
        assert r.stdout.strip().splitlines()[-1] == loaded, (args, r.stdout[-500:], r.stderr[-500:])
    assert r.stdout.startswith("encrypted_images/alice/"), r.stdout  # the crypt run did its work


def test_search_roots_are_a_list_of_folders() -> None:
    from hfcheck.config import parse_set_flags

    cfg = load_config(None, parse_set_flags(['archive.search_roots=["/mnt/a", "~/b"]']), env={})
    assert cfg.search_roots == (Path("/mnt/a"), Path("~/b").expanduser())
    assert load_config(None, parse_set_flags(["archive.search_roots=/mnt/c"]), env={}).search_roots == (Path("/mnt/c"),)
    assert load_config(None, {}, env={}).search_roots == ()
    for bad in ("archive.search_roots=[1]", 'archive.search_roots=[""]'):
        with pytest.raises(ConfigError, match="archive.search_roots"):
            parse_set_flags([bad])


@pytest.mark.parametrize("setting", ["run.lang=fr", "hub.revision=a..b"])
def test_a_bad_set_value_is_refused_even_where_a_flag_exists(tmp_path: Path, setting: str) -> None:
    """A common flag that was not given (`--lang`, `--revision`) does not undo `--set`: before, these
    two values were dropped silently and the run went on."""
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "hfcheck", "verify", "--db", str(tmp_path / "none.db"), "--set", setting],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C"},
    )
    assert r.returncode == 2, r.stderr
    assert repr(setting.partition("=")[2]) in r.stderr and "Traceback" not in r.stderr


def test_a_revision_given_with_set_is_the_run_s_revision() -> None:
    from hfcheck import cli

    seen: list[str] = []

    @cli.common_options
    def command(cfg: object) -> None:
        seen.append(cfg.revision)  # type: ignore[attr-defined]

    command(config_path=None, set_items=("hub.revision=dev",), **{name: None for _, name, _ in cli.COMMON_FLAGS[1:-1]})
    assert seen == ["dev"]


@pytest.mark.parametrize("entry", ["bad host/x", "a.example:99999", "[::1]x"])
def test_a_bad_allowed_host_is_refused_when_the_settings_are_read(entry: str) -> None:
    """The downloader's own parse (model/hosts.py), applied when the settings are read: a bad
    entry is one config error naming the setting, never an exception when a download starts."""
    from hfcheck.config import parse_set_flags

    with pytest.raises(ConfigError, match="download.allowed_hosts"):
        parse_set_flags([f'download.allowed_hosts=["pbs.twimg.com", "{entry}"]'])
