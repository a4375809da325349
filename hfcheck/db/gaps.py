"""Gaps: tweets with media and no (or a partial) backup, and backups with an empty media list.

Counted in SQL (SQLite's JSON functions) so the table is never loaded into memory. Rows whose
columns are not valid JSON are left to the reader, which reports them as malformed rows; those
without a backup URL, which verify does not read, are found here (`unreadable_media_rows`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from hfcheck.db.archive import Archive

TOP_ACCOUNTS = 20


@dataclass
class GapSummary:
    """What `verify --check-missing` reports; keys are the same words as in the report."""

    unbacked: int = 0  # media_urls not empty, no backup URL at all
    partial: int = 0  # fewer backup URLs than media
    empty_media: int = 0  # backup URLs recorded, media_urls empty
    unbacked_media: int = 0  # media files behind `unbacked` + the missing part of `partial`
    per_account: list[dict[str, Any]] = field(default_factory=list)  # top accounts by tweets with gaps

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _conditions(archive: Archive) -> dict[str, str]:
    c = archive.cfg.columns
    media, hf = f'"{c.media_urls}"', f'"{c.huggingface_urls}"'
    n_media = (
        f"(CASE WHEN json_valid({media}) AND json_type({media}) = 'array' THEN json_array_length({media}) ELSE 0 END)"
    )
    n_hf = f"(CASE WHEN json_valid({hf}) AND json_type({hf}) = 'array' THEN json_array_length({hf}) ELSE 0 END)"
    no_hf = f"({hf} IS NULL OR trim({hf}) IN ('', '[]'))"
    no_media = f"({media} IS NULL OR trim({media}) IN ('', '[]'))"
    return {
        "n_media": n_media,
        "n_hf": n_hf,
        "unbacked": f"({n_media} > 0 AND {no_hf})",
        "partial": f"({n_media} > 0 AND {n_hf} > 0 AND {n_hf} < {n_media})",
        "empty_media": f"({no_media} AND {n_hf} > 0)",
    }


async def find_gaps(archive: Archive, top: int = TOP_ACCOUNTS) -> GapSummary:
    """Count every kind of gap, in total and for the `top` accounts with most gap tweets."""
    cond = _conditions(archive)
    table, user = f'"{archive.cfg.table}"', f'"{archive.cfg.columns.username}"'
    sql = f"""
        SELECT
          coalesce(sum({cond["unbacked"]}), 0),
          coalesce(sum({cond["partial"]}), 0),
          coalesce(sum({cond["empty_media"]}), 0),
          coalesce(sum({unbacked_media_sql(archive)}), 0)
        FROM {table}"""
    (row,) = await archive.select(sql)
    unbacked, partial, empty_media, unbacked_media = map(int, row)
    summary = GapSummary(unbacked, partial, empty_media, unbacked_media)
    per_account = f"""
        SELECT {user}, sum({cond["unbacked"]}) AS unbacked, sum({cond["partial"]}) AS partial
        FROM {table} WHERE {cond["unbacked"]} OR {cond["partial"]}
        GROUP BY {user} ORDER BY unbacked + partial DESC, {user} LIMIT ?"""
    for username, unbacked, partial in await archive.select(per_account, (top,)):
        summary.per_account.append({"username": username, "unbacked": int(unbacked), "partial": int(partial)})
    return summary


async def unreadable_media_rows(archive: Archive) -> list[dict[str, Any]]:
    """The problems of rows without backup URLs whose media list is not a JSON array (invalid
    JSON, a bare string...): verify reads only rows with backups, and the gap counts skip these
    rows, so without this they would be reported nowhere. Same shape as verify's row problems."""
    c = archive.cfg.columns
    media, hf = f'"{c.media_urls}"', f'"{c.huggingface_urls}"'
    where = (
        f"({hf} IS NULL OR trim({hf}) IN ('', '[]')) AND {media} IS NOT NULL AND trim({media}) NOT IN ('', '[]')"
        f" AND NOT (json_valid({media}) AND json_type({media}) = 'array')"
    )
    out: list[dict[str, Any]] = []
    async for row in archive.rows(where=where):
        out += [
            {"tweet_id": row.tweet_id, "column": p.column, "code": p.code, "detail": p.detail}
            for p in row.problems
            if p.column == c.media_urls
        ]
    return out


def unbacked_media_sql(archive: Archive) -> str:
    """SQL expression: a row's media files without backup (all of an unbacked tweet's, the
    missing part of a partial one's); summed for the total and per account."""
    cond = _conditions(archive)
    return f"""(CASE WHEN {cond["unbacked"]} THEN {cond["n_media"]}
                     WHEN {cond["partial"]} THEN {cond["n_media"]} - {cond["n_hf"]} ELSE 0 END)"""


def gap_tweets_sql(archive: Archive, kinds: tuple[str, ...] = ("unbacked", "partial")) -> str:
    """SQL condition selecting the tweets of the given gap kinds (for `backup` and the plan)."""
    cond = _conditions(archive)
    return " OR ".join(cond[k] for k in kinds)
