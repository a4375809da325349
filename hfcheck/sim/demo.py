"""A realistic demo archive with every kind of damage planted at known counts.

`build_demo(DIR)` writes, reproducibly from a seed:

    DIR/archive.db        the users' schema (tweets table, plus a column hfcheck must not touch)
    DIR/media/            local media: images/{user}/{id}_{i}.{ext}, videos/...
    DIR/source/           what the "media server" serves for media never downloaded
    DIR/hub/              emulator state: the encrypted uploads, seeded without HTTP
    DIR/archive.key       the archive key (mode 0600): hfcheck's for hfcheck-v1, Fernet.generate_key()'s for fernet
    DIR/x_fixtures.json   X GraphQL answers for tweets whose media list was lost
    DIR/hfcheck.toml      a config pointing at all of the above
    DIR/planted.json      what was planted: the counts verify and repair must find

`scheme` is how the backups already on the Hub were encrypted: "hfcheck-v1" (hfcheck's own
format), or "fernet", made with plain `cryptography.fernet` calls as the users' scrapers did
(bytes `Fernet(key).encrypt(data)`, names `Fernet(key).encrypt(name)`: random IV, current time),
never with hfcheck's codec, so the archive proves hfcheck reads what other code wrote.

Damage, as in ARCHIVE.md: missing files, wrong (unencrypted) paths, empty media lists (one
tweet since deleted on X), unbacked and partially backed tweets, and malformed rows.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cryptography.fernet import Fernet

from hfcheck.crypto import ArchiveKey, Encryptor, generate_key_file, load_key
from hfcheck.model.paths import BackupURL, LocalName, local_relpath, remote_parent, remote_path_for
from hfcheck.verify.findings import COUNT_KEYS

REPO = "demo/media-backup"
USER, TOKEN = "demo", "hf_demo_token_for_the_local_emulator"
SCHEMES = ("hfcheck-v1", "fernet")
ACCOUNTS = ["alice", "bob", "carol_x", "dave99", "erin"]
FIRST_ID = 1_700_000_000_000_000_000
MAGIC = {"jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "png": b"\x89PNG\r\n\x1a\n", "mp4": b"\x00\x00\x00\x18ftypmp42"}


@dataclass
class Medium:
    name: LocalName
    username: str
    data: bytes

    @property
    def local(self) -> str:
        return local_relpath(self.username, self.name)


@dataclass
class Plan:
    """The demo's truth: expected verify counts and gaps, and the tweets of each kind."""

    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0)  # verify's counts, every key
    )
    gaps: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(["unbacked", "partial", "empty_media", "unbacked_media"], 0)
    )
    tweets: dict[str, list[str]] = field(default_factory=dict)

    def url(self, category: str) -> None:
        self.counts["total"] += 1
        self.counts[category] += 1

    def tweet(self, kind: str, tweet_id: str) -> None:
        self.tweets.setdefault(kind, []).append(tweet_id)


def kinds_for(n: int) -> list[str]:
    """How many tweets of each kind for an archive of n tweets (small kinds at least 2)."""
    few = max(2, n // 30)
    kinds = ["missing"] * few + ["wrong_path"] * few + ["empty_media"] * max(2, n // 20) + ["deleted_on_x"]
    kinds += ["unbacked"] * max(3, n // 5) + ["partial"] * max(2, n // 20) + ["malformed"] * 3
    return kinds + ["ok"] * max(0, n - len(kinds))


def encrypt_bytes(key: ArchiveKey, data: bytes, remote_path: str) -> bytes:
    enc = Encryptor(key, remote_path)
    return enc.update(data) + enc.finalize()


class Backups(Protocol):
    """How the demo's scraper encrypted what it uploaded: a remote path, and the file's bytes."""

    def remote_path(self, m: Medium) -> str: ...

    def encrypt(self, data: bytes, remote_path: str) -> bytes: ...


class V1Backups:
    """hfcheck's own format (what an archive hfcheck wrote from the start looks like)."""

    def __init__(self, key_file: Path) -> None:
        if not key_file.exists():
            generate_key_file(key_file)
        self.key = load_key(key_file)

    def remote_path(self, m: Medium) -> str:
        return remote_path_for(self.key, m.local)

    def encrypt(self, data: bytes, remote_path: str) -> bytes:
        return encrypt_bytes(self.key, data, remote_path)


def write_fernet_key(path: Path) -> bytes:
    """A key file as a Fernet user keeps it: `Fernet.generate_key()`, one line, mode 0600."""
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key + b"\n")
    return key


class FernetBackups:
    """Plain `cryptography.fernet`, as the users' scrapers wrote it: nothing of hfcheck."""

    def __init__(self, key_file: Path) -> None:
        if not key_file.exists():
            write_fernet_key(key_file)
        self.fernet = Fernet(key_file.read_bytes().strip())

    def remote_path(self, m: Medium) -> str:
        return f"{remote_parent(m.name.media, m.username)}/{self.fernet.encrypt(str(m.name).encode()).decode()}"

    def encrypt(self, data: bytes, remote_path: str) -> bytes:
        return self.fernet.encrypt(data)


class DemoBuilder:
    def __init__(
        self, root: Path, tweets: int, seed: int, media_port: int, endpoint: str, scheme: str = "hfcheck-v1"
    ) -> None:
        self.root = root
        self.rng = random.Random(seed)
        self.n = tweets
        self.media_base = f"http://127.0.0.1:{media_port}/media"
        self.media_port = media_port
        self.endpoint = endpoint
        self.plan = Plan()
        self.uploads: list[tuple[str, bytes]] = []
        self.rows: list[tuple[Any, ...]] = []
        self.x_fixtures: dict[str, dict[str, Any]] = {}
        root.mkdir(parents=True, exist_ok=True)
        if scheme not in SCHEMES:
            raise ValueError(f"demo scheme {scheme!r}: expected one of {', '.join(SCHEMES)}")
        self.scheme = scheme
        self.backups: Backups = (FernetBackups if scheme == "fernet" else V1Backups)(root / "archive.key")

    def media(self, tweet_id: str, username: str, count: int) -> list[Medium]:
        out = []
        for i in range(count):
            ext = self.rng.choice(["jpg", "jpg", "png", "mp4"])
            size = self.rng.randint(2_000, 30_000) if ext != "mp4" else self.rng.randint(60_000, 200_000)
            data = MAGIC[ext] + self.rng.randbytes(size)
            out.append(Medium(LocalName(tweet_id, i, ext), username, data))
        return out

    def media_url(self, m: Medium) -> str:
        return f"{self.media_base}/{m.name}"

    def hub_url(self, path: str) -> str:
        return str(BackupURL(self.endpoint, REPO, "main", path))

    def save_local(self, m: Medium) -> None:
        p = self.root / "media" / m.local
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(m.data)

    def save_source(self, m: Medium) -> None:
        p = self.root / "source" / str(m.name)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(m.data)

    def backed_up(self, m: Medium, upload: bool = True) -> str:
        remote = self.backups.remote_path(m)
        if upload:
            self.uploads.append((remote, self.backups.encrypt(m.data, remote)))
        return self.hub_url(remote)

    def build(self) -> Plan:
        kinds = kinds_for(self.n)
        self.rng.shuffle(kinds)
        for i, kind in enumerate(kinds):
            tweet_id = str(FIRST_ID + i * 7919)
            username = self.rng.choice(ACCOUNTS)
            getattr(self, f"_{kind}")(tweet_id, username)
            self.plan.tweet(kind, tweet_id)
        return self.plan

    def _row(self, tweet_id: str, username: str, media: Any, hf: Any) -> None:
        enc = lambda v: json.dumps(v) if isinstance(v, list) else v  # noqa: E731
        self.rows.append((tweet_id, username, enc(media), enc(hf), f"demo tweet {tweet_id}"))

    def _ok(self, tweet_id: str, username: str) -> None:
        ms = self.media(tweet_id, username, self.rng.randint(1, 3))
        for m in ms:
            self.save_local(m)
            self.plan.url("present")
        self._row(tweet_id, username, [self.media_url(m) for m in ms], [self.backed_up(m) for m in ms])

    def _missing(self, tweet_id: str, username: str) -> None:
        ms = self.media(tweet_id, username, 2)
        urls = []
        for j, m in enumerate(ms):
            self.save_local(m)
            urls.append(self.backed_up(m, upload=j != 0))
            self.plan.url("missing" if j == 0 else "present")
        self._row(tweet_id, username, [self.media_url(m) for m in ms], urls)

    def _wrong_path(self, tweet_id: str, username: str) -> None:
        ms = self.media(tweet_id, username, 1)
        self.save_local(ms[0])
        self.plan.url("wrong_path")
        self._row(tweet_id, username, [self.media_url(ms[0])], [self.hub_url(ms[0].local)])

    def _empty_media(self, tweet_id: str, username: str, deleted: bool = False) -> None:
        ms = self.media(tweet_id, username, self.rng.randint(1, 2))
        for m in ms:
            self.save_source(m)
            self.plan.url("present")
        self.plan.gaps["empty_media"] += 1
        self.x_fixtures[tweet_id] = x_tweet_detail(
            tweet_id, username, [(m.name.ext, self.media_url(m)) for m in ms], deleted
        )
        self._row(tweet_id, username, self.rng.choice([None, "", "[]"]), [self.backed_up(m) for m in ms])

    def _deleted_on_x(self, tweet_id: str, username: str) -> None:
        self._empty_media(tweet_id, username, deleted=True)

    def _unbacked(self, tweet_id: str, username: str) -> None:
        ms = self.media(tweet_id, username, self.rng.randint(1, 3))
        for m in ms:
            self.save_source(m)
            if self.rng.random() < 0.5:
                self.save_local(m)
        self.plan.gaps["unbacked"] += 1
        self.plan.gaps["unbacked_media"] += len(ms)
        self._row(tweet_id, username, [self.media_url(m) for m in ms], self.rng.choice([None, "", "[]"]))

    def _partial(self, tweet_id: str, username: str) -> None:
        ms = self.media(tweet_id, username, 2)
        for m in ms:
            self.save_local(m)
            self.save_source(m)
        self.plan.url("present")
        self.plan.gaps["partial"] += 1
        self.plan.gaps["unbacked_media"] += 1
        self._row(tweet_id, username, [self.media_url(m) for m in ms], [self.backed_up(ms[0])])

    def _malformed(self, tweet_id: str, username: str) -> None:
        n = len(self.plan.tweets.get("malformed", []))
        ms = self.media(tweet_id, username, 1)
        self.save_local(ms[0])
        hf = ['["https://huggingface.co/datasets/x', ["https://example.com/not/a/hub/url.jpg"], "[42]"][n % 3]
        self.plan.url("malformed")
        self._row(tweet_id, username, [self.media_url(ms[0])], hf)


def x_tweet_detail(tweet_id: str, username: str, media: list[tuple[str, str]], deleted: bool) -> dict[str, Any]:
    """A TweetDetail GraphQL answer in X's shape (what twscrape parses) for one demo tweet."""
    if deleted:
        result: dict[str, Any] = {
            "__typename": "TweetTombstone",
            "tombstone": {"__typename": "TextTombstone", "text": {"text": "This Post was deleted by the Post author."}},
        }
    else:
        entities = []
        for i, (ext, url) in enumerate(media):
            mid = f"{tweet_id}{i}"
            if ext == "mp4":
                variants = [
                    {"bitrate": 256000, "content_type": "video/mp4", "url": url + "?low"},
                    {"bitrate": 2176000, "content_type": "video/mp4", "url": url},
                ]
                entities.append(
                    {
                        "type": "video",
                        "id_str": mid,
                        "media_key": f"7_{mid}",
                        "media_url_https": url + ".jpg",
                        "video_info": {"duration_millis": 4000, "variants": variants},
                    }
                )
            else:
                entities.append({"type": "photo", "id_str": mid, "media_key": f"3_{mid}", "media_url_https": url})
        user = {
            "__typename": "User",
            "rest_id": "4200",
            "core": {"screen_name": username, "name": username, "created_at": "Sat Dec 14 04:35:55 +0000 2013"},
            "legacy": {},
        }
        legacy = {
            "id_str": tweet_id,
            "created_at": "Thu Apr 20 23:21:13 +0000 2023",
            "full_text": "demo",
            "lang": "en",
            "conversation_id_str": tweet_id,
            "user_id_str": "4200",
            "reply_count": 0,
            "retweet_count": 0,
            "favorite_count": 0,
            "quote_count": 0,
            "extended_entities": {"media": entities},
        }
        result = {
            "__typename": "Tweet",
            "rest_id": tweet_id,
            "core": {"user_results": {"result": user}},
            "legacy": legacy,
        }
    entry = {
        "entryId": f"tweet-{tweet_id}",
        "sortIndex": "1",
        "content": {
            "entryType": "TimelineTimelineItem",
            "__typename": "TimelineTimelineItem",
            "itemContent": {
                "itemType": "TimelineTweet",
                "__typename": "TimelineTweet",
                "tweet_results": {"result": result},
            },
        },
    }
    return {
        "data": {
            "threaded_conversation_with_injections_v2": {
                "instructions": [{"type": "TimelineAddEntries", "entries": [entry]}]
            }
        }
    }


def write_db(path: Path, rows: list[tuple[Any, ...]]) -> None:
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE tweets (id TEXT PRIMARY KEY, username TEXT, media_urls TEXT, huggingface_urls TEXT, text TEXT)"
    )
    con.executemany("INSERT INTO tweets VALUES (?,?,?,?,?)", rows)
    con.commit()
    con.close()


def seed_hub(hub_dir: Path, uploads: list[tuple[str, bytes]]) -> None:
    from hfcheck.sim.emulator.store import Store

    store = Store(hub_dir)
    try:
        store.add_user(USER, TOKEN)
        store.create_repo(REPO, owner=USER, private=False, exist_ok=True)
        if uploads:
            store.commit(REPO, uploads, message="demo: initial backup", lfs=True)
    finally:
        store.close()


def write_config(root: Path, media_port: int, scheme: str = "hfcheck-v1", endpoint: str = "http://127.0.0.1:0") -> None:
    (root / "hfcheck.toml").write_text(
        f"""# Demo configuration written by `hfcheck demo init`.
[archive]
db = "{root / "archive.db"}"
media_root = "{root / "media"}"

[hub]
# The Hub emulator `hfcheck demo serve` (and `demo run`) serves this archive on.
endpoint = "{endpoint}"
repos = ["{REPO}"]

[crypto]
key_file = "{root / "archive.key"}"
scheme = "{scheme}"

[run]
data_dir = "{root / "data"}"

[download]
allowed_hosts = [{f'"127.0.0.1:{media_port}"' if media_port else ""}]  # no media server (port 0): none

[twitter]
# X's answers in the demo are canned (x_fixtures.json), handed in by `demo run`: hfcheck/sim/x_canned.py
accounts_db = "{root / "data" / "twscrape_accounts.db"}"
""",
        encoding="utf-8",
    )


def build_demo(
    root: Path,
    *,
    tweets: int = 120,
    seed: int = 7,
    media_port: int = 0,
    endpoint: str = "http://127.0.0.1:0",
    scheme: str = "hfcheck-v1",
) -> Plan:
    """Build the demo archive under `root` (replacing a previous one) and return what was planted.

    The endpoint only shapes the recorded URLs; `demo run` serves the hub on that address.
    `scheme` says how the backups were encrypted (hfcheck-v1, or fernet by plain Fernet code).
    A key file of the other scheme left by a previous build is replaced.
    """
    import shutil

    for sub in ("media", "source", "hub", "data", "restored"):
        shutil.rmtree(root / sub, ignore_errors=True)
    _drop_key_of_other_scheme(root, scheme)
    builder = DemoBuilder(root, tweets, seed, media_port, endpoint, scheme)
    plan = builder.build()
    write_db(root / "archive.db", builder.rows)
    seed_hub(root / "hub", builder.uploads)
    (root / "x_fixtures.json").write_text(json.dumps(builder.x_fixtures, indent=1), encoding="utf-8")
    planted = {
        "counts": plan.counts,
        "gaps": plan.gaps,
        "tweets": plan.tweets,
        "endpoint": endpoint,
        "media_port": media_port,
        "scheme": scheme,
    }
    (root / "planted.json").write_text(json.dumps(planted, indent=1), encoding="utf-8")
    write_config(root, media_port, scheme, endpoint)
    return plan


def _drop_key_of_other_scheme(root: Path, scheme: str) -> None:
    """A demo rebuilt in another scheme gets a key file made as that scheme's users make it."""
    try:
        before = json.loads((root / "planted.json").read_text(encoding="utf-8")).get("scheme", "hfcheck-v1")
    except (OSError, ValueError, AttributeError):
        before = None
    if before != scheme:
        (root / "archive.key").unlink(missing_ok=True)
