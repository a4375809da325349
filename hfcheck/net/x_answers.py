"""Reading X's GraphQL TweetDetail answers: what became of a tweet, and its media in order.

Pure: no network, no account, no state. `net/twitter.py` fetches the raw answers through
twscrape; this module turns one into a `MediaLookup`, and tests feed it canned answers directly.

Why the raw answer and not twscrape's parsed tweet: twscrape returns None for a deleted,
protected, tombstoned or missing tweet alike, and repair must tell them apart (a deleted tweet's
media are gone for good; a protected one may come back with another account). So we read
`__typename` and `errors` of the raw answer ourselves, then let twscrape's `parse_tweet` (with an
*int* id: a str never matches) turn the tweet into media, kept in X's order.

twscrape's parser is imported on first use, not with this module: twscrape costs 0.4 s and
46 MiB to load (CONVENTIONS: heavy imports stay in the functions that need them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from hfcheck.net.download import original_photo_url

if TYPE_CHECKING:
    from twscrape.models import Tweet

Status = Literal["ok", "deleted", "protected", "unavailable", "not_found", "error"]
MediaKind = Literal["photo", "video", "gif"]

# TweetUnavailable.reason values (X's GraphQL enum) that mean the tweet is gone for good / private.
_DELETED_REASONS = frozenset({"Deleted", "BounceDeleted", "Missing", "Deactivated"})
_PROTECTED_REASONS = frozenset({"Protected", "Limited"})
# Legacy error codes seen in a TweetDetail `errors` list without data.
_NOT_FOUND_CODES = frozenset({144, 8})
_PROTECTED_CODES = frozenset({179})
_UNAVAILABLE_CODES = frozenset({63, 421, 422})


@dataclass(frozen=True)
class MediaItem:
    """One medium in media order. `url` is "" when X offers no downloadable file for it
    (e.g. a video with only an HLS playlist): the slot is kept so that indices stay aligned
    with the archive's `{tweet_id}_{index}` names; callers skip and report it."""

    kind: MediaKind
    url: str


@dataclass
class MediaLookup:
    """What a lookup found: a status, the media (only for "ok") and a human-readable reason."""

    tweet_id: str
    status: Status
    media: list[MediaItem] = field(default_factory=list)
    reason: str = ""


def twscrape_telemetry_off() -> None:
    """Call before twscrape is first imported. twscrape counts telemetry events at import-time
    call sites; it only sends them from its own CLI, but there is no reason to even count them
    for hfcheck."""
    os.environ.setdefault("TWS_TELEMETRY", "0")


# --- classification of a raw TweetDetail answer --------------------------------------------


def _walk(obj: Any) -> Any:
    """Every dict inside a JSON value, depth first."""
    stack = [obj]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            yield cur
            stack.extend(reversed(list(cur.values())))
        elif isinstance(cur, list):
            stack.extend(reversed(cur))


def _focal_result(raw: Any, tweet_id: str) -> dict | None:
    """The `tweet_results.result` of the entry for this tweet (`tweet-ID`), or of any Tweet
    whose rest_id is the id. Tombstones carry no rest_id, hence the entryId route first."""
    wanted = f"tweet-{tweet_id}"
    for obj in _walk(raw):
        entry_id = obj.get("entryId")
        if not isinstance(entry_id, str) or not (entry_id == wanted or entry_id.endswith("-" + wanted)):
            continue
        for inner in _walk(obj):
            results = inner.get("tweet_results")
            if isinstance(results, dict) and isinstance(results.get("result"), dict):
                return results["result"]
    for obj in _walk(raw):
        if obj.get("__typename") == "Tweet" and str(obj.get("rest_id")) == tweet_id:
            return obj
    return None


def _tombstone_text(result: dict) -> str:
    text = ((result.get("tombstone") or {}).get("text") or {}).get("text")
    return text.strip() if isinstance(text, str) and text.strip() else "tweet is tombstoned"


def _classify_tombstone(tweet_id: str, result: dict) -> MediaLookup:
    """A TweetTombstone: X's text says why. Deleted unless the text says otherwise."""
    text = _tombstone_text(result)
    low = text.lower()
    if "limits who can view" in low or "protected" in low:
        status: Status = "protected"
    elif "deleted" in low or "no longer exists" in low:
        status = "deleted"
    elif "suspended" in low or "age-restricted" in low or "unavailable" in low:
        status = "unavailable"
    else:
        status = "deleted"
    return MediaLookup(tweet_id, status, reason=text)


def _classify_unavailable(tweet_id: str, result: dict) -> MediaLookup:
    reason = str(result.get("reason") or result.get("unavailable_reason") or "Unavailable")
    status: Status = "unavailable"
    if reason in _PROTECTED_REASONS:
        status = "protected"
    elif reason in _DELETED_REASONS:
        status = "deleted"
    message = result.get("unavailable_message")
    text = message.get("text") if isinstance(message, dict) else None
    return MediaLookup(tweet_id, status, reason=f"TweetUnavailable: {reason}" + (f" ({text})" if text else ""))


def _classify_errors(tweet_id: str, errors: list[Any]) -> MediaLookup:
    """No entry for the tweet: the `errors` list decides (code 144 = "No status found")."""
    codes = {e.get("code") for e in errors if isinstance(e, dict)}
    text = "; ".join(f"({e.get('code', '?')}) {e.get('message', '')}" for e in errors if isinstance(e, dict))
    if codes & _NOT_FOUND_CODES or "no status found" in text.lower():
        return MediaLookup(tweet_id, "not_found", reason=text)
    if codes & _PROTECTED_CODES:
        return MediaLookup(tweet_id, "protected", reason=text)
    if codes & _UNAVAILABLE_CODES:
        return MediaLookup(tweet_id, "unavailable", reason=text)
    return MediaLookup(tweet_id, "error", reason=f"X answered with errors: {text}")


def classify_raw(raw: Any, tweet_id: str) -> MediaLookup:
    """Turn one raw TweetDetail JSON answer into a MediaLookup (pure: used by tests directly)."""
    result = _focal_result(raw, tweet_id)
    if result is not None and result.get("__typename") == "TweetWithVisibilityResults":
        result = result.get("tweet") or result
    typename = result.get("__typename") if result else None
    if result is not None and typename == "TweetTombstone":
        return _classify_tombstone(tweet_id, result)
    if result is not None and typename == "TweetUnavailable":
        return _classify_unavailable(tweet_id, result)
    if result is None or typename not in (None, "Tweet"):
        errors = raw.get("errors") if isinstance(raw, dict) else None
        if isinstance(errors, list) and errors:
            return _classify_errors(tweet_id, errors)
        what = f"an entry of type {typename}" if typename else "no entry for the tweet"
        return MediaLookup(tweet_id, "error", reason=f"X answered with {what}")
    return _media_lookup(raw, tweet_id)


# --- media -------------------------------------------------------------------------------


def _raw_media(raw: Any, tweet_id: int) -> list[dict]:
    """The tweet's `extended_entities.media` in X's order (twscrape groups by kind, which loses
    the order of a mixed photo/video tweet, and drops media it cannot parse)."""
    twscrape_telemetry_off()
    from twscrape.utils import to_old_rep

    try:
        tweets = to_old_rep(raw)["tweets"]
    except Exception:
        return []
    obj = tweets.get(str(tweet_id)) or {}
    media = (obj.get("extended_entities") or {}).get("media") or []
    return [m for m in media if isinstance(m, dict)]


def _parsed_urls(tweet: Tweet) -> dict[str, MediaItem]:
    """twscrape's parsed media keyed by `media_url_https` (photo url / video thumbnail)."""
    out: dict[str, MediaItem] = {}
    for photo in tweet.media.photos:
        out[photo.url] = MediaItem("photo", original_photo_url(photo.url))
    for video in tweet.media.videos:
        best = max(video.variants, key=lambda v: v.bitrate or 0, default=None)
        out[video.thumbnailUrl] = MediaItem("video", best.url if best else "")
    for gif in tweet.media.animated:
        out[gif.thumbnailUrl] = MediaItem("gif", gif.videoUrl or "")
    return out


_RAW_KIND: dict[str, MediaKind] = {"photo": "photo", "video": "video", "animated_gif": "gif"}


def _media_of(raw: Any, tweet: Tweet) -> list[MediaItem]:
    """The tweet's media in X's order, each from twscrape's parse; a slot twscrape dropped
    keeps its place with an empty url."""
    parsed = _parsed_urls(tweet)
    ordered = _raw_media(raw, tweet.id)
    if not ordered:
        return list(parsed.values())
    items: list[MediaItem] = []
    for m in ordered:
        key = m.get("media_url_https", "")
        items.append(parsed.get(key) or MediaItem(_RAW_KIND.get(str(m.get("type")), "photo"), ""))
    return items


def _media_lookup(raw: Any, tweet_id: str) -> MediaLookup:
    twscrape_telemetry_off()
    from twscrape.models import parse_tweet

    tweet = parse_tweet(raw, int(tweet_id))  # int: parse_tweet compares ids as ints
    if tweet is None:
        return MediaLookup(tweet_id, "error", reason="twscrape could not parse the tweet (see its log)")
    media = _media_of(raw, tweet)
    reason = ""
    if not media and tweet.retweetedTweet is not None:
        media = _media_of(raw, tweet.retweetedTweet)
        reason = f"media of retweeted tweet {tweet.retweetedTweet.id_str}"
    missing = [str(i) for i, m in enumerate(media) if not m.url]
    if missing:
        reason = "; ".join(filter(None, [reason, f"no downloadable file for media {', '.join(missing)}"]))
    if not media:
        reason = reason or "the tweet has no media"
    return MediaLookup(tweet_id, "ok", media, reason)
