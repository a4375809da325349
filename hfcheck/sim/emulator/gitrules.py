"""The two git files the Hub reads at preupload: `.gitattributes` (which paths are LFS) and
`.gitignore` (which paths the client should leave out).

Patterns follow git's wildmatch rules: `*` and `?` stay within one path part, `**` spans parts
(`**/x`, `x/**`, `a/**/b`), `[...]` is a class; a pattern with a `/` before its end is anchored at
the root, one without matches a name at any depth; a trailing `/` matches directories only.
In `.gitattributes` the last line matching a path decides `filter`; in `.gitignore` the last
matching pattern decides, `!` re-includes, and a path under an ignored directory is ignored.
"""

from __future__ import annotations

import functools
import re


@functools.lru_cache(maxsize=4096)
def _regex(pattern: str) -> re.Pattern[str]:
    """A regex for the paths (and directory paths) `pattern` names."""
    anchored = "/" in pattern
    pattern = pattern.lstrip("/")
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("/.*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                out.append(re.escape(c))
                i += 1
                continue
            body = pattern[i + 1 : end]
            neg = body[:1] in ("!", "^")
            body = body[1:] if neg else body
            out.append(f"[{'^' if neg else ''}{body.replace(chr(92), chr(92) * 2)}]")
            i = end + 1
        elif c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    prefix = "" if anchored else "(?:.*/)?"
    return re.compile(prefix + "".join(out) + r"\Z")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def lfs_by_attributes(text: str, path: str) -> bool | None:
    """True if the last `.gitattributes` line matching `path` sets `filter=lfs`, False if it sets
    another filter or unsets it, None if no line speaks of `filter`."""
    decision: bool | None = None
    for line in _lines(text):
        pattern, *attrs = line.split()
        if pattern.endswith("/") or not _regex(pattern).match(path):
            continue
        for attr in attrs:
            if attr.startswith("filter="):
                decision = attr == "filter=lfs"
            elif attr in ("-filter", "!filter"):
                decision = False
    return decision


def ignored(text: str, path: str) -> bool:
    """Whether `.gitignore` text leaves `path` (a file) out."""
    rules = []
    for line in _lines(text):
        negate = line.startswith("!")
        pattern = line[1:] if negate else line
        dir_only = pattern.endswith("/")
        rules.append((_regex(pattern.rstrip("/")), negate, dir_only))
    parts = path.split("/")
    for depth in range(1, len(parts) + 1):  # a directory, once ignored, keeps all below it out
        sub = "/".join(parts[:depth])
        is_dir = depth < len(parts)
        verdict = False
        for regex, negate, dir_only in rules:
            if (is_dir or not dir_only) and regex.match(sub):
                verdict = not negate
        if verdict:
            return True
    return False


# The `.gitattributes` the Hub puts in the initial commit of a new repo: these LFS patterns for a
# model, and media formats besides for a dataset.
_MODEL_GITATTRIBUTES = """\
*.7z filter=lfs diff=lfs merge=lfs -text
*.arrow filter=lfs diff=lfs merge=lfs -text
*.bin filter=lfs diff=lfs merge=lfs -text
*.bz2 filter=lfs diff=lfs merge=lfs -text
*.ckpt filter=lfs diff=lfs merge=lfs -text
*.ftz filter=lfs diff=lfs merge=lfs -text
*.gz filter=lfs diff=lfs merge=lfs -text
*.h5 filter=lfs diff=lfs merge=lfs -text
*.joblib filter=lfs diff=lfs merge=lfs -text
*.lfs.* filter=lfs diff=lfs merge=lfs -text
*.mlmodel filter=lfs diff=lfs merge=lfs -text
*.model filter=lfs diff=lfs merge=lfs -text
*.msgpack filter=lfs diff=lfs merge=lfs -text
*.npy filter=lfs diff=lfs merge=lfs -text
*.npz filter=lfs diff=lfs merge=lfs -text
*.onnx filter=lfs diff=lfs merge=lfs -text
*.ot filter=lfs diff=lfs merge=lfs -text
*.parquet filter=lfs diff=lfs merge=lfs -text
*.pb filter=lfs diff=lfs merge=lfs -text
*.pickle filter=lfs diff=lfs merge=lfs -text
*.pkl filter=lfs diff=lfs merge=lfs -text
*.pt filter=lfs diff=lfs merge=lfs -text
*.pth filter=lfs diff=lfs merge=lfs -text
*.rar filter=lfs diff=lfs merge=lfs -text
*.safetensors filter=lfs diff=lfs merge=lfs -text
saved_model/**/* filter=lfs diff=lfs merge=lfs -text
*.tar.* filter=lfs diff=lfs merge=lfs -text
*.tar filter=lfs diff=lfs merge=lfs -text
*.tflite filter=lfs diff=lfs merge=lfs -text
*.tgz filter=lfs diff=lfs merge=lfs -text
*.wasm filter=lfs diff=lfs merge=lfs -text
*.xz filter=lfs diff=lfs merge=lfs -text
*.zip filter=lfs diff=lfs merge=lfs -text
*.zst filter=lfs diff=lfs merge=lfs -text
*tfevents* filter=lfs diff=lfs merge=lfs -text
"""
_DATASET_EXTRA = """\
# Audio files - uncompressed
*.pcm filter=lfs diff=lfs merge=lfs -text
*.sam filter=lfs diff=lfs merge=lfs -text
*.raw filter=lfs diff=lfs merge=lfs -text
# Audio files - compressed
*.aac filter=lfs diff=lfs merge=lfs -text
*.flac filter=lfs diff=lfs merge=lfs -text
*.mp3 filter=lfs diff=lfs merge=lfs -text
*.ogg filter=lfs diff=lfs merge=lfs -text
*.wav filter=lfs diff=lfs merge=lfs -text
# Image files - uncompressed
*.bmp filter=lfs diff=lfs merge=lfs -text
*.gif filter=lfs diff=lfs merge=lfs -text
*.png filter=lfs diff=lfs merge=lfs -text
*.tiff filter=lfs diff=lfs merge=lfs -text
# Image files - compressed
*.jpg filter=lfs diff=lfs merge=lfs -text
*.jpeg filter=lfs diff=lfs merge=lfs -text
*.webp filter=lfs diff=lfs merge=lfs -text
# Video files - compressed
*.mp4 filter=lfs diff=lfs merge=lfs -text
*.webm filter=lfs diff=lfs merge=lfs -text
"""


def default_gitattributes(repo_type: str) -> str:
    """The `.gitattributes` of a new repo of this type, as the Hub writes it."""
    return _MODEL_GITATTRIBUTES + (_DATASET_EXTRA if repo_type == "dataset" else "")
