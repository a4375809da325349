"""Which archive rows a restore reads back: tweet ids, one account, or everything."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from hfcheck.db.archive import Archive, TweetRow
from hfcheck.errors import ConfigError, UnsafePath
from hfcheck.model.paths import TWEET_ID_RE, check_username


@dataclass(frozen=True)
class Selection:
    """Which tweets to restore: exactly one of tweet ids, one account, or everything."""

    tweets: tuple[str, ...] = ()
    user: str | None = None
    everything: bool = False

    def validate(self) -> Selection:
        given = sum([bool(self.tweets), self.user is not None, self.everything])
        if given != 1:
            raise ConfigError("choose exactly one of --tweet ID, --user NAME or --all")
        for t in self.tweets:
            if not TWEET_ID_RE.match(t):
                raise ConfigError(f"--tweet expects a numeric tweet id, not {t!r}")
        if self.user is not None:
            try:
                check_username(self.user)
            except UnsafePath:
                raise ConfigError(f"--user expects an account name [A-Za-z0-9_]{{1,15}}, not {self.user!r}") from None
        return self


def user_sql(archive: Archive, sel: Selection) -> str:
    """The SQL condition of `--user` ('' for the others)."""
    if sel.user is None:
        return ""
    # check_username() allowed only [A-Za-z0-9_]: safe to write into the SQL literal.
    return f"\"{archive.cfg.columns.username}\" = '{check_username(sel.user)}'"


async def selected_rows(archive: Archive, sel: Selection) -> AsyncIterator[TweetRow]:
    """The rows a selection names, streamed (only rows that record a backup URL)."""
    if sel.tweets:
        for tweet_id in sel.tweets:
            row = await archive.get(tweet_id)
            if row is not None:
                yield row
        return
    where = archive.has_backup_sql()
    if sel.user is not None:
        where += f" AND {user_sql(archive, sel)}"
    async for row in archive.rows(where=where):
        yield row


__all__ = ["Selection", "selected_rows", "user_sql"]
