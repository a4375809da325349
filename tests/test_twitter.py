"""twscrape driven for real (its pool, queue client, httpx client and parser) on canned
TweetDetail answers in X's shape, served through an injected httpx transport: no network."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest

from hfcheck.errors import IncompleteError
from hfcheck.net import twitter
from hfcheck.net.twitter import TweetSource, add_cookie_account
from hfcheck.net.x_answers import MediaItem, classify_raw
from hfcheck.sim.x_canned import FixtureReply, FixtureTransport

FIXTURES = Path(__file__).parent / "fixtures" / "twitter"
COOKIES = "auth_token=SECRET-AUTH-TOKEN; ct0=SECRET-CT0"

PHOTOS = "1700000000000000001"
VIDEO = "1700000000000000002"
GIF = "1700000000000000003"
DELETED = "1700000000000000004"
PROTECTED = "1700000000000000005"
RETWEET = "1700000000000000006"
MIXED = "1700000000000000007"
HLS_ONLY = "1700000000000000008"
MISSING = "1700000000000000009"

ANSWERS = {
    PHOTOS: "photos",
    VIDEO: "video",
    GIF: "gif",
    DELETED: "deleted",
    PROTECTED: "protected",
    RETWEET: "retweet",
    MIXED: "mixed",
    HLS_ONLY: "hls_only",
}


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def canned() -> dict[str, dict]:
    return {tid: fixture(name) for tid, name in ANSWERS.items()}


@pytest.fixture
async def accounts_db(tmp_path: Path) -> Path:
    db = tmp_path / "accounts.db"
    await add_cookie_account(db, "acc1", COOKIES)
    return db


def source(db: Path, transport: httpx.AsyncBaseTransport, **kw: float) -> TweetSource:
    """Small waits: a rate limit must end the run in well under a second, not hang."""
    opts = {"wait_timeout": 0.2, "wait_interval": 0.05, "call_timeout": 10.0, **kw}
    return TweetSource(db, transport=transport, **opts)


async def test_photos_in_order_as_originals(accounts_db: Path) -> None:
    transport = FixtureTransport(canned())
    found = await source(accounts_db, transport).lookup(PHOTOS)
    assert found.status == "ok"
    assert found.media == [
        MediaItem("photo", "https://pbs.twimg.com/media/P11?format=jpg&name=orig"),
        MediaItem("photo", "https://pbs.twimg.com/media/P12?format=png&name=orig"),
    ]
    assert transport.requests == [PHOTOS]


async def test_video_picks_the_highest_bitrate_mp4(accounts_db: Path) -> None:
    found = await source(accounts_db, FixtureTransport(canned())).lookup(VIDEO)
    assert found.status == "ok"
    assert found.media == [
        MediaItem("video", "https://video.twimg.com/ext_tw_video/21/pu/vid/1280x720/best.mp4?tag=12")
    ]


async def test_gif_gives_its_mp4(accounts_db: Path) -> None:
    found = await source(accounts_db, FixtureTransport(canned())).lookup(GIF)
    assert found.media == [MediaItem("gif", "https://video.twimg.com/tweet_video/G31.mp4")]


async def test_mixed_media_keep_x_order(accounts_db: Path) -> None:
    """twscrape groups media by kind; the archive's indices follow X's order."""
    found = await source(accounts_db, FixtureTransport(canned())).lookup(MIXED)
    assert [m.kind for m in found.media] == ["photo", "video", "photo"]
    assert found.media[2].url.endswith("P73?format=webp&name=orig")


async def test_video_without_mp4_keeps_its_slot(accounts_db: Path) -> None:
    found = await source(accounts_db, FixtureTransport(canned())).lookup(HLS_ONLY)
    assert found.status == "ok"
    assert found.media == [MediaItem("video", "")]
    assert "media 0" in found.reason


async def test_retweet_without_own_media_uses_the_original(accounts_db: Path) -> None:
    found = await source(accounts_db, FixtureTransport(canned())).lookup(RETWEET)
    assert found.status == "ok"
    assert found.media == [MediaItem("photo", "https://pbs.twimg.com/media/P61?format=jpg&name=orig")]
    assert "1700000000000000060" in found.reason


async def test_deleted_tweet_is_a_tombstone(accounts_db: Path) -> None:
    found = await source(accounts_db, FixtureTransport(canned())).lookup(DELETED)
    assert found.status == "deleted"
    assert found.media == []
    assert "deleted by the Post author" in found.reason


async def test_protected_tweet_is_unavailable_with_reason(accounts_db: Path) -> None:
    found = await source(accounts_db, FixtureTransport(canned())).lookup(PROTECTED)
    assert found.status == "protected"
    assert "Protected" in found.reason


async def test_unknown_tweet_is_not_found(accounts_db: Path) -> None:
    found = await source(accounts_db, FixtureTransport(canned())).lookup(MISSING)
    assert found.status == "not_found"
    assert "No status found" in found.reason


async def test_suspended_tweet_is_unavailable() -> None:
    answer = fixture("protected")
    result = answer["data"]["threaded_conversation_with_injections_v2"]["instructions"][0]["entries"][0]
    result["content"]["itemContent"]["tweet_results"]["result"]["reason"] = "Suspended"
    assert classify_raw(answer, PROTECTED).status == "unavailable"


async def test_bad_tweet_id_is_an_error_without_request(accounts_db: Path) -> None:
    transport = FixtureTransport(canned())
    found = await source(accounts_db, transport).lookup("12e3")
    assert found.status == "error"
    assert transport.requests == []


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(
            lambda: FixtureReply(
                429,
                {"errors": [{"code": 88, "message": "Rate limit exceeded"}]},
                {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(time.time()) + 900)},
            ),
            id="rate-limit-headers",
        ),
        pytest.param(lambda: FixtureReply(429, None), id="bare-429"),
    ],
)
async def test_rate_limit_with_one_account_stops_with_a_clear_error(accounts_db: Path, reply) -> None:
    transport = FixtureTransport({PHOTOS: reply})
    started = time.monotonic()
    with pytest.raises(IncompleteError, match="rate-limited") as err:
        await source(accounts_db, transport).lookup(PHOTOS)
    assert time.monotonic() - started < 5
    assert transport.requests == [PHOTOS]  # locked after one answer, never hammered
    assert "SECRET" not in str(err.value)


async def test_no_accounts_db_is_a_clear_error(tmp_path: Path) -> None:
    transport = FixtureTransport(canned())
    with pytest.raises(IncompleteError, match="no active twscrape account.*add_cookie"):
        await source(tmp_path / "none.db", transport).lookup(PHOTOS)
    assert transport.requests == []


async def test_inactive_account_is_a_clear_error(accounts_db: Path) -> None:
    from twscrape import AccountsPool

    await AccountsPool(str(accounts_db)).set_active("acc1", False)
    with pytest.raises(IncompleteError, match="no active twscrape account"):
        await source(accounts_db, FixtureTransport(canned())).lookup(PHOTOS)


async def test_banned_account_mid_run_is_a_clear_error(accounts_db: Path) -> None:
    """A 403 without errors deactivates the account; with no other one the run stops."""
    transport = FixtureTransport({PHOTOS: FixtureReply(403, None)})
    with pytest.raises(IncompleteError, match="no active twscrape account"):
        await source(accounts_db, transport).lookup(PHOTOS)


async def test_outdated_features_stop_the_run(accounts_db: Path) -> None:
    answer = {"errors": [{"code": 336, "message": "The following features cannot be null: x"}]}
    with pytest.raises(IncompleteError, match="upgrade twscrape"):
        await source(accounts_db, FixtureTransport({PHOTOS: answer})).lookup(PHOTOS)


async def test_requests_carry_the_account_session(accounts_db: Path) -> None:
    """twscrape's own client built the request: bearer token, csrf header, cookies."""
    seen: list[httpx.Request] = []
    inner = FixtureTransport(canned())

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return inner.handle_request(request)

    await source(accounts_db, httpx.MockTransport(handler)).lookup(PHOTOS)
    (req,) = seen
    assert req.url.host == "x.com" and req.url.path.endswith("/TweetDetail")
    assert req.headers["authorization"].startswith("Bearer ")
    assert req.headers["x-csrf-token"] == "SECRET-CT0"
    assert "auth_token=SECRET-AUTH-TOKEN" in req.headers["cookie"]


async def test_concurrency_is_capped_at_active_accounts(accounts_db: Path) -> None:
    """One account: lookups run one at a time instead of failing on a busy account."""
    answers = canned()
    in_flight = peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        tid = json.loads(request.url.params["variables"])["focalTweetId"]
        return httpx.Response(200, json=answers[tid])

    src = source(accounts_db, httpx.MockTransport(handler), wait_timeout=0.01)
    found = await asyncio.gather(*(src.lookup(t) for t in (PHOTOS, VIDEO, GIF)))
    assert [f.status for f in found] == ["ok", "ok", "ok"]
    assert peak == 1


async def test_slow_answer_times_out_as_an_error_and_frees_the_account(accounts_db: Path) -> None:
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(30)
        return httpx.Response(200, json=fixture("photos"))

    # 0.7 s: short enough for the suite, long enough for the second (instant) answer on a loaded machine
    src = source(accounts_db, httpx.MockTransport(handler), call_timeout=0.7)
    found = await src.lookup(PHOTOS)
    assert found.status == "error"
    assert "0.7" in found.reason
    assert (await src.lookup(PHOTOS)).status == "ok"  # the cancelled call unlocked its account


async def test_a_stand_in_answers_for_x_in_every_later_source(accounts_db: Path, monkeypatch) -> None:
    """`stand_in_for_x` (how `python -m hfcheck.sim.x_canned` hands canned answers to a child
    process) reaches a source made without a transport; one given its own keeps it."""
    monkeypatch.setattr(twitter, "_stand_in", None)  # restored after the test
    canned_x = FixtureTransport(canned())
    twitter.stand_in_for_x(canned_x)
    found = await TweetSource(accounts_db, wait_timeout=0.2, call_timeout=10.0).lookup(VIDEO)
    assert found.status == "ok" and canned_x.requests == [VIDEO]
    own = FixtureTransport({})
    assert (await source(accounts_db, own).lookup(PHOTOS)).status == "not_found"
    assert own.requests == [PHOTOS] and canned_x.requests == [VIDEO]
