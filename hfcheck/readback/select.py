"""Which archive rows a restore reads back: tweet ids, one account, or everything."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from hfcheck.db.archive import Archive, TweetRow
from hfcheck.errors import ConfigError, UnsafePath
from hfcheck.model.paths import TWEET_ID_RE, check_username
from hfcheck.report.catalog import msg


@dataclass(frozen=True)
class Selection:
    """Which tweets to restore: exactly one of tweet ids, one account, or everything."""

    tweets: tuple[str, ...] = ()
    user: str | None = None
    everything: bool = False

    def validate(self) -> Selection:
        given = sum([bool(self.tweets), self.user is not None, self.everything])
        if given != 1:
            raise ConfigError(msg("err_select_one"))
        for t in self.tweets:
            if not TWEET_ID_RE.match(t):
                raise ConfigError(msg("err_select_tweet", value=t))
        if self.user is not None:
            try:
                check_username(self.user)
            except UnsafePath:
                raise ConfigError(msg("err_select_user", value=self.user)) from None
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
