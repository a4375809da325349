"""X's GraphQL answered from canned JSON: the demo's and the tests' stand-in for X.

twscrape's real code runs (its client, its account pool, hfcheck's reading of the answers);
only the network is replaced, by an httpx transport. A test hands `FixtureTransport` to a
`TweetSource`; a `hfcheck` child process gets it through this module's entry point, which
installs it (`net.twitter.stand_in_for_x`) and then runs the command line as usual:

    python -m hfcheck.sim.x_canned ANSWERS.json repair --config demo/hfcheck.toml

`ANSWERS.json` maps tweet ids to TweetDetail answers (the demo writes `x_fixtures.json`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx


@dataclass(frozen=True)
class FixtureReply:
    """A canned answer with a status and headers (rate limits, server errors)."""

    status: int = 200
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


NOT_FOUND_ANSWER = {
    "data": {},
    "errors": [{"message": "_Missing: No status found with that ID.", "code": 144, "kind": "NonFatal"}],
}


class FixtureTransport(httpx.MockTransport):
    """Answers TweetDetail GraphQL requests from canned JSON keyed by tweet id.

    The id is read from the `variables` query parameter (`focalTweetId`). Unknown ids get X's
    own "No status found" answer (200 + error 144); any other request gets a 404. `requests`
    records the ids asked for, in order."""

    def __init__(self, responses: Mapping[str, Any | FixtureReply | Callable[[], FixtureReply]]) -> None:
        self.responses = dict(responses)
        self.requests: list[str] = []
        super().__init__(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/TweetDetail"):
            return httpx.Response(404, json={"errors": [{"message": "not served", "code": 34}]})
        try:
            tweet_id = str(json.loads(request.url.params.get("variables", "{}"))["focalTweetId"])
        except (ValueError, KeyError, TypeError):
            return httpx.Response(400, json={"errors": [{"message": "bad variables", "code": 214}]})
        self.requests.append(tweet_id)
        reply = self.responses.get(tweet_id, NOT_FOUND_ANSWER)
        if callable(reply):
            reply = reply()
        if not isinstance(reply, FixtureReply):
            reply = FixtureReply(json=reply)
        return httpx.Response(reply.status, json=reply.json, headers=dict(reply.headers))


def main(argv: list[str] | None = None) -> None:
    """`python -m hfcheck.sim.x_canned ANSWERS.json ARGS...`: `hfcheck ARGS...` with X answered
    from ANSWERS.json (read when the command runs, so a test may change it between runs)."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        sys.exit("usage: python -m hfcheck.sim.x_canned ANSWERS.json HFCHECK-ARGS...")
    from hfcheck.cli import main as hfcheck
    from hfcheck.net.twitter import stand_in_for_x

    stand_in_for_x(FixtureTransport(json.loads(Path(args[0]).read_text(encoding="utf-8"))))
    hfcheck(args[1:])


if __name__ == "__main__":
    main()
