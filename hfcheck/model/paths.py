"""The URL and path model: backup URLs, paths in the repo, local media paths.

Every path built from database values goes through here, so that confinement is checked in
one place: a username or file name with `..`, a separator, a NUL or an absolute path is
rejected (`UnsafePath`), never followed.

    local   images/{username}/{tweet_id}_{index}.{ext}
    remote  encrypted_images/{username}/{encrypted name}
    URL     {endpoint}/datasets/{repo_id}/resolve/{revision}/{remote path}
            {endpoint}/buckets/{NS}/{NAME}/resolve/{remote path}      (a Storage Bucket: no revision)

A destination is named by its id: `NS/NAME` for a dataset repo (as ever), `hf://buckets/NS/NAME`
for a bucket (`destination_id` reads both `hf://` forms); the id is what state.db, reports and
placement key on, so a bucket's files can never be taken for a repo's.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

from hfcheck.errors import MalformedURL, UnsafePath
from hfcheck.report.catalog import msg

if TYPE_CHECKING:
    from hfcheck.crypto import NameCodec

# Whole-string patterns: `\Z`, not `$`, which also matches before a trailing newline ("bob\n").
TWEET_ID = "[0-9]{1,20}"
USERNAME_RE = re.compile(r"^[A-Za-z0-9_]{1,15}\Z")
TWEET_ID_RE = re.compile(rf"^{TWEET_ID}\Z")
LOCAL_NAME_RE = re.compile(rf"^(?P<tweet_id>{TWEET_ID})_(?P<index>[0-9]{{1,4}})\.(?P<ext>[A-Za-z0-9]{{1,5}})\Z")
REPO_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*\Z")
BUCKET_PREFIX = "hf://buckets/"
DATASET_PREFIX = "hf://datasets/"


def is_bucket(repo_id: str) -> bool:
    """Whether a destination id names a Storage Bucket (`hf://buckets/NS/NAME`)."""
    return repo_id.startswith(BUCKET_PREFIX)


def bucket_name(repo_id: str) -> str:
    """`NS/NAME` of a bucket id (what the Hub's bucket API takes)."""
    return repo_id.removeprefix(BUCKET_PREFIX)


def destination_id(text: str) -> str:
    """A configured destination as its id: `hf://datasets/NS/NAME` and `NS/NAME` are the dataset
    repo `NS/NAME`; `hf://buckets/NS/NAME` stays as written. UnsafePath naming it otherwise."""
    if text.startswith(DATASET_PREFIX):
        name = text.removeprefix(DATASET_PREFIX)
    elif text.startswith(BUCKET_PREFIX):
        name = text.removeprefix(BUCKET_PREFIX)
    else:
        name = text
    if not REPO_ID_RE.match(name) or ".." in name:
        raise UnsafePath(msg("err_path_not_repo", text=text))
    return BUCKET_PREFIX + name if text.startswith(BUCKET_PREFIX) else name


def joined(pattern: str) -> re.Pattern[str]:
    """Newline-joined values that each match `pattern` (one that cannot match a newline): a
    column of a page of rows checked in one match."""
    return re.compile(rf"(?:{pattern})(?:\n(?:{pattern}))*")


IMAGE_EXTS = frozenset({"jpg", "jpeg", "png", "webp", "gif"})
VIDEO_EXTS = frozenset({"mp4", "mov", "webm"})


class Media(enum.Enum):
    """The two local folders and their encrypted twins in the repo."""

    IMAGE = "images"
    VIDEO = "videos"

    @property
    def remote_dir(self) -> str:
        return f"encrypted_{self.value}"

    @classmethod
    def for_ext(cls, ext: str) -> Media:
        """The extension decides images from videos (as the users' scripts did)."""
        ext = ext.lower()
        if ext in IMAGE_EXTS:
            return cls.IMAGE
        if ext in VIDEO_EXTS:
            return cls.VIDEO
        raise UnsafePath(msg("err_path_extension", ext=ext))


class PathKind(enum.Enum):
    """What a path in the repo is: an encrypted backup, a wrong (unencrypted) path, or unknown."""

    ENCRYPTED = "encrypted"
    WRONG = "wrong_path"
    UNKNOWN = "unknown"


_DRIVE = re.compile(r"^[A-Za-z]:")
_UNSAFE_CHAR = re.compile(r"[/\\\x00-\x1f\x7f]")  # separators, NUL and control characters


def check_component(value: str, what: str) -> str:
    """Accept one path component from the database, or raise UnsafePath naming it."""
    if not value or value in (".", "..") or value.strip() != value or _UNSAFE_CHAR.search(value):
        raise UnsafePath(msg("err_path_unsafe_part", what=what, value=value))
    return value


def check_username(username: str | None) -> str:
    """Usernames are untrusted: only X's own alphabet is used in a path."""
    if username is None or not USERNAME_RE.match(username):
        raise UnsafePath(msg("err_path_username", value=username))
    return username


def _check_relpath_parts(rel: str) -> list[str]:
    if not rel or rel.startswith("/") or "\\" in rel or _DRIVE.match(rel):
        raise UnsafePath(msg("err_path_unsafe", rel=rel))
    parts = rel.split("/")
    for part in parts:
        check_component(part, "path component")
    return parts


def check_relpath(rel: str) -> PurePosixPath:
    """A relative POSIX path of safe components (no absolute path, no `..`)."""
    return PurePosixPath(*_check_relpath_parts(rel))


def confine(root: Path, rel: str) -> Path:
    """`root / rel`, guaranteed to stay under root even through symlinks."""
    path = root / check_relpath(rel)
    resolved_root = root.resolve()
    if not path.resolve().is_relative_to(resolved_root):
        raise UnsafePath(msg("err_path_escapes", rel=rel))
    return path


@dataclass(frozen=True)
class LocalName:
    """`{tweet_id}_{index}.{ext}`: the local file name, and the plaintext of an encrypted name."""

    tweet_id: str
    index: int
    ext: str

    @classmethod
    def parse(cls, name: str) -> LocalName:
        m = LOCAL_NAME_RE.match(name)
        if not m:
            raise UnsafePath(msg("err_path_media_name", name=name))
        return cls(m["tweet_id"], int(m["index"]), m["ext"])

    def __str__(self) -> str:
        return f"{self.tweet_id}_{self.index}.{self.ext}"

    @property
    def media(self) -> Media:
        return Media.for_ext(self.ext)


def local_relpath(username: str, name: LocalName) -> str:
    """`images/alice/123_0.jpg`: where a medium lives under the media root."""
    return f"{name.media.value}/{check_username(username)}/{name}"


def parse_local_relpath(rel: str) -> tuple[Media, str, LocalName]:
    """Split `videos/alice/123_0.mp4` into its parts; the extension decides the media type."""
    parts = check_relpath(rel).parts
    if len(parts) != 3 or parts[0] not in ("images", "videos"):
        raise UnsafePath(msg("err_path_local", rel=rel))
    name = LocalName.parse(parts[2])
    return name.media, check_username(parts[1]), name


def remote_parent(media: Media, username: str) -> str:
    """The repo folder of one account's media; also the associated data of its names."""
    return f"{media.remote_dir}/{check_username(username)}"


def remote_path_for(key: NameCodec, local_rel: str) -> str:
    """`videos/alice/1_0.mp4` -> `encrypted_videos/alice/<encrypted name>` (deterministic)."""
    media, username, name = parse_local_relpath(local_rel)
    parent = remote_parent(media, username)
    return f"{parent}/{key.encrypt_name(parent, str(name))}"


def local_path_for(key: NameCodec, remote_path: str) -> str:
    """The reverse of `remote_path_for`; raises CryptoError when the name does not decrypt."""
    parts = check_relpath(remote_path).parts
    if len(parts) != 3 or parts[0] not in ("encrypted_images", "encrypted_videos"):
        raise UnsafePath(msg("err_path_not_encrypted", path=remote_path))
    parent = f"{parts[0]}/{check_username(parts[1])}"
    name = LocalName.parse(key.decrypt_name(parent, parts[2]))
    return f"{parts[0].removeprefix('encrypted_')}/{parts[1]}/{name}"


def find_by_tweet(
    root: Path | None, username: str | None, tweet_id: str, index: int, media: Media | None = None
) -> str | None:
    """The local media file of (tweet id, media index), whatever its extension: how a file is
    found when its remote name cannot be decrypted (one-way names, an older scheme), as the
    users' own scripts did. `media` limits the search to images or videos."""
    if root is None or username is None or not USERNAME_RE.match(username):
        return None
    for m in [media] if media else list(Media):
        folder = root / m.value / username
        if not folder.is_dir():
            continue
        for p in sorted(folder.glob(f"{tweet_id}_{index}.*")):
            try:
                name = LocalName.parse(p.name)
                if name.media is m and p.is_file():
                    return local_relpath(username, name)
            except UnsafePath:
                continue
    return None


def remote_media(remote_path: str) -> Media:
    """images or videos, from an encrypted path's folder (`encrypted_videos/...`)."""
    top = remote_path.split("/", 1)[0]
    for m in Media:
        if top == m.remote_dir:
            return m
    raise UnsafePath(msg("err_path_not_encrypted", path=remote_path))


def classify_path(path: str) -> PathKind:
    """Encrypted backup, wrong (unencrypted `images/`/`videos/` path) or unknown."""
    parts = path.split("/")
    if len(parts) == 3 and all(parts):
        if parts[0] in ("encrypted_images", "encrypted_videos"):
            return PathKind.ENCRYPTED
        if parts[0] in ("images", "videos") and LOCAL_NAME_RE.match(parts[2]):
            return PathKind.WRONG
    return PathKind.UNKNOWN


@dataclass(frozen=True)
class BackupURL:
    """A recorded backup URL, parsed: `{endpoint}/datasets/{repo_id}/resolve/{revision}/{path}`,
    or for a bucket (`repo_id` = `hf://buckets/NS/NAME`) `{endpoint}/buckets/NS/NAME/resolve/{path}`,
    whose revision is always "" (a bucket has none; one given is dropped)."""

    endpoint: str
    repo_id: str
    revision: str
    path: str

    def __post_init__(self) -> None:
        if self.revision and self.repo_id.startswith(BUCKET_PREFIX):
            object.__setattr__(self, "revision", "")

    @classmethod
    def parse(cls, url: str) -> BackupURL:
        """Parse a recorded URL; raise MalformedURL with the reason."""
        if not isinstance(url, str) or not url:
            raise MalformedURL("empty URL")
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise MalformedURL(f"unparsable URL: {exc}") from None
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise MalformedURL("not an http(s) URL")
        at_dataset, at_bucket = parts.path.find("/datasets/"), parts.path.find("/buckets/")
        bucket = at_bucket >= 0 and (at_dataset < 0 or at_bucket < at_dataset)
        prefix, sep, rest = parts.path.partition("/buckets/" if bucket else "/datasets/")
        segs = rest.split("/")
        if not sep or len(segs) < (4 if bucket else 5) or segs[2] != "resolve":
            raise MalformedURL(
                "not a resolve URL (/datasets/OWNER/NAME/resolve/REV/PATH or /buckets/OWNER/NAME/resolve/PATH)"
            )
        repo_id = f"{segs[0]}/{segs[1]}"
        if not REPO_ID_RE.match(repo_id):
            raise MalformedURL(f"invalid {'bucket' if bucket else 'repo'} id {repo_id!r}")
        revision = "" if bucket else unquote(segs[3])
        path = unquote("/".join(segs[3 if bucket else 4 :]))
        try:
            _check_relpath_parts(path)  # validation only: no PurePosixPath per URL
        except UnsafePath as exc:
            raise MalformedURL(str(exc)) from None
        if not bucket and not revision:
            raise MalformedURL("empty revision")
        endpoint = f"{parts.scheme.lower()}://{parts.netloc.lower()}{prefix}"
        return cls(endpoint, BUCKET_PREFIX + repo_id if bucket else repo_id, revision, path)

    def __str__(self) -> str:
        if self.repo_id.startswith(BUCKET_PREFIX):
            return f"{self.endpoint}/buckets/{self.repo_id[len(BUCKET_PREFIX) :]}/resolve/{quote(self.path)}"
        return f"{self.endpoint}/datasets/{self.repo_id}/resolve/{quote(self.revision, safe='')}/{quote(self.path)}"

    @property
    def kind(self) -> PathKind:
        return classify_path(self.path)


def media_ext_from_url(url: str) -> str:
    """The file extension a media URL will be saved under (`?format=` wins, as on pbs.twimg.com)."""
    parts = urlsplit(url)
    m = re.search(r"(?:^|&)format=([A-Za-z0-9]{1,5})(?:&|$)", parts.query)
    if m:
        return m.group(1).lower()
    suffix = PurePosixPath(parts.path).suffix.lstrip(".").lower()
    if suffix in IMAGE_EXTS or suffix in VIDEO_EXTS:
        return suffix
    return "mp4" if parts.hostname == "video.twimg.com" else "jpg"
