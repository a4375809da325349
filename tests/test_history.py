"""The history search (`write/history.newest_other`) against modelled histories: it finds the
newest commit that still had the file, in about 2·log2(k) probes (k: commits since the
deletion), or log2 of the commits since the upload when that commit is known."""

from __future__ import annotations

import asyncio
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from hfcheck.write.history import State, newest_other


def search(states: list[State], anchor: int | None = None) -> tuple[int | None, int]:
    """(the index found, paths-info probes it cost) on a history given newest first."""
    probes: list[int] = []

    async def state_at(i: int) -> State:
        probes.append(i)
        return states[i]

    found = asyncio.run(newest_other(state_at, len(states), states[0], anchor))
    assert 0 not in probes  # the head's state is given, never asked
    return found, len(probes)


@st.composite
def one_deletion(draw: st.DrawFn) -> tuple[list[State], int, int]:
    """A file uploaded at commit `a`, deleted at `d - 1` (indices newest first), with commits
    before its upload (where it is absent too) and after its deletion."""
    n = draw(st.integers(2, 3000))
    d = draw(st.integers(1, n - 1))
    a = draw(st.integers(d, n - 1))
    return [None] * d + ["blob1"] * (a - d + 1) + [None] * (n - 1 - a), d, a


@settings(max_examples=300, deadline=None)
@given(one_deletion())
def test_the_newest_commit_with_the_file_is_found_when_the_gallop_lands_in_it(case) -> None:
    states, d, a = case
    found, probes = search(states)
    gallop = [min(2**k, len(states) - 1) for k in range(0, 13)]
    if any(d <= g <= a for g in gallop):  # the gallop lands in the file's lifetime
        assert found == d
        assert probes <= 2 * math.ceil(math.log2(d + 1)) + 2
    else:
        assert found is None  # a short life between two probes: only the upload's commit finds it


@settings(max_examples=300, deadline=None)
@given(one_deletion(), st.data())
def test_the_recorded_upload_commit_bounds_the_search(case, data) -> None:
    states, d, a = case
    anchor = data.draw(st.integers(d, a))
    found, probes = search(states, anchor)
    assert found == d
    assert probes <= math.ceil(math.log2(anchor + 1)) + 1


def test_a_file_alive_for_one_commit_between_gallop_probes() -> None:
    states: list[State] = [None] * 5 + ["blob1"] + [None] * 10  # uploaded at 5, deleted right after
    assert search(states) == (None, 5)  # probes 1, 2, 4, 8, 15: all absent
    assert search(states, anchor=5)[0] == 5


@given(st.lists(st.sampled_from([None, "good", "bad"]), min_size=1, max_size=200), st.data())
def test_any_history_gives_a_boundary_or_nothing(states, data) -> None:
    anchor = data.draw(st.none() | st.integers(0, len(states) - 1))
    found, _ = search(states, anchor)
    if found is not None:
        assert states[found] != states[0] and states[found - 1] == states[0]


def test_an_older_good_version_under_a_corrupted_one() -> None:
    states: list[State] = ["bad"] * 40 + ["good"] * 100 + [None] * 3
    assert search(states)[0] == 40


def test_squashed_history_has_nothing() -> None:
    assert search([None]) == (None, 0)
