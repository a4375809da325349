"""The archive reader: streaming, resume, and every messy row turned into a reported problem."""

import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hfcheck.config import load_config
from hfcheck.db.archive import Archive, RowChange, parse_url_list
from hfcheck.db.gaps import find_gaps
from hfcheck.errors import InputError

HF = "https://huggingface.co/datasets/a/b/resolve/main/encrypted_images/bob/x"
PBS = "https://pbs.twimg.com/media/A.jpg"


def make_db(path: Path, rows: list[tuple], id_type: str = "TEXT") -> None:
    con = sqlite3.connect(path)
    con.execute(
        f"CREATE TABLE tweets (id {id_type} PRIMARY KEY,"
        " username TEXT, media_urls TEXT, huggingface_urls TEXT, text TEXT)"
    )
    con.executemany("INSERT INTO tweets (id, username, media_urls, huggingface_urls) VALUES (?,?,?,?)", rows)
    con.commit()
    con.close()


def cfg_for(db: Path, **kw):
    return load_config(None, {"db": db, **kw}, env={})


async def read_all(cfg, **kw):
    async with Archive(cfg) as a:
        return [r async for r in a.rows(**kw)]


@pytest.mark.parametrize(
    "value, urls, codes",
    [
        (None, [], []),
        ("", [], []),
        ("[]", [], []),
        (json.dumps([HF]), [HF], []),
        ("{not json", [], ["invalid_json"]),
        (json.dumps(HF), [HF], ["not_a_list"]),
        (HF, [HF], ["not_a_list"]),
        (json.dumps({"a": 1}), [], ["not_a_list"]),
        (json.dumps([HF, 3, None]), [HF], ["non_string_item", "non_string_item"]),
        (json.dumps([HF, HF]), [HF], ["duplicate_url"]),
        (json.dumps(["https://evil.example/x"]), ["https://evil.example/x"], ["unexpected_host"]),
        (42, [], ["not_a_list"]),
    ],
)
def test_parse_url_list(value, urls, codes) -> None:
    got, problems = parse_url_list(value, "huggingface_urls", ["huggingface.co"])
    assert got == urls
    assert [p.code for p in problems] == codes


@given(st.one_of(st.none(), st.text(max_size=60), st.integers(), st.binary(max_size=10)))
def test_parse_url_list_never_raises(value) -> None:
    urls, problems = parse_url_list(value, "c", ["huggingface.co"])
    assert all(isinstance(u, str) and u for u in urls)
    assert len(set(urls)) == len(urls)


async def test_streams_in_key_order_and_resumes(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    ids = [str(10**18 + i * 7) for i in range(250)]
    make_db(db, [(i, "bob", "[]", json.dumps([HF])) for i in reversed(ids)])
    cfg = cfg_for(db)
    rows = await read_all(cfg)
    assert [r.tweet_id for r in rows] == sorted(ids)
    async with Archive(cfg) as a:
        first = [r async for r in a.rows(page_size=7)]
        assert [r.tweet_id for r in first] == sorted(ids)
        rest = [r async for r in a.rows(after=rows[99].key, page_size=7)]
    assert [r.tweet_id for r in rest] == sorted(ids)[100:]


async def test_integer_ids_stay_exact(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    big = 1876543210987654321  # 19 digits: a float would round it
    make_db(db, [(big, "bob", None, None), (2, "bob", None, None)], id_type="INTEGER")
    rows = await read_all(cfg_for(db))
    assert [r.tweet_id for r in rows] == ["2", str(big)]
    rest = await read_all(cfg_for(db), after=rows[0].key)
    assert [r.tweet_id for r in rest] == [str(big)]


async def test_bad_rows_are_reported_not_fatal(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    make_db(
        db,
        [
            ("1", "../etc", "[]", json.dumps([HF])),
            ("2", None, "{", "[1]"),
            ("3", "bob", json.dumps(["https://evil.example/a.jpg"]), json.dumps([HF, HF])),
            ("x9", "bob", "[]", "[]"),
        ],
    )
    rows = {r.tweet_id: r for r in await read_all(cfg_for(db))}
    assert [p.code for p in rows["1"].problems] == ["unsafe_username"] and rows["1"].username is None
    assert [p.code for p in rows["2"].problems] == ["unsafe_username", "invalid_json", "non_string_item"]
    assert [p.code for p in rows["3"].problems] == ["unexpected_host", "duplicate_url"]
    assert [p.code for p in rows["x9"].problems] == ["bad_tweet_id"]


async def test_read_only_open_leaves_file_untouched(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    make_db(db, [("1", "bob", "[]", "[]")])
    before = db.read_bytes()
    await read_all(cfg_for(db))
    assert db.read_bytes() == before
    assert not (tmp_path / "a.db-wal").exists()


async def test_clear_errors_for_missing_db_table_column(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        await read_all(cfg_for(tmp_path / "nope.db"))
    db = tmp_path / "a.db"
    make_db(db, [])
    with pytest.raises(InputError, match="table 'posts' not found"):
        await read_all(load_config(None, {"db": db}, env={}).__class__(db=db, table="posts"))
    from hfcheck.config import Columns

    with pytest.raises(InputError, match="no column 'hf'"):
        await read_all(load_config(None, {"db": db}, env={}).__class__(db=db, columns=Columns(huggingface_urls="hf")))


async def test_update_rows_is_read_modify_write_in_one_transaction(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    make_db(db, [("1", "bob", json.dumps([PBS]), json.dumps(["u1", "u2"])), ("2", "bob", "[]", "[]")])
    con = sqlite3.connect(db)
    con.execute("UPDATE tweets SET text = 'keep me' WHERE id = '1'")
    con.commit()
    cfg = cfg_for(db)
    async with Archive(cfg, writable=True) as a:
        n = await a.update_rows(
            [("1", lambda r: RowChange(hf_urls=[u if u != "u1" else "v1" for u in r.hf_urls])), ("2", lambda r: None)]
        )
        assert n == 1
        with pytest.raises(RuntimeError):
            await a.update_rows(
                [
                    ("2", lambda r: RowChange(hf_urls=["zz"])),
                    ("1", lambda r: (_ for _ in ()).throw(RuntimeError("boom"))),
                ]
            )
    rows = con.execute("SELECT id, media_urls, huggingface_urls, text FROM tweets ORDER BY id").fetchall()
    assert rows == [("1", json.dumps([PBS]), json.dumps(["v1", "u2"]), "keep me"), ("2", "[]", "[]", None)]


async def test_gaps(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    m2 = json.dumps([PBS, PBS + "2"])
    make_db(
        db,
        [
            ("1", "alice", m2, None),  # unbacked, 2 media
            ("2", "alice", m2, json.dumps([HF])),  # partial, 1 missing
            ("3", "bob", json.dumps([PBS]), "[]"),  # unbacked
            ("4", "bob", "[]", json.dumps([HF])),  # empty media
            ("5", "bob", None, json.dumps([HF])),  # empty media
            ("6", "carol", "{bad", None),  # invalid json: not a gap here
            ("7", "carol", m2, json.dumps([HF, HF + "2"])),  # complete
        ],
    )
    async with Archive(cfg_for(db)) as a:
        g = await find_gaps(a)
    assert (g.unbacked, g.partial, g.empty_media, g.unbacked_media) == (2, 1, 2, 4)
    assert g.per_account == [
        {"username": "alice", "unbacked": 1, "partial": 1},
        {"username": "bob", "unbacked": 1, "partial": 0},
    ]


async def test_concurrent_edits_queue_for_the_one_connection(tmp_path: Path) -> None:
    """Tweets finish concurrently in repair and backup: their transactions must not interleave
    on the shared connection ("cannot start a transaction within a transaction")."""
    import asyncio

    db = tmp_path / "a.db"
    make_db(db, [(str(i), "bob", "[]", "[]") for i in range(1, 41)])

    def add(url: str):
        return lambda r: RowChange(hf_urls=[*r.hf_urls, url])

    async with Archive(cfg_for(db), writable=True) as a:
        counts = await asyncio.gather(
            *(a.update_rows([(str(i), add(f"u{i}")), (str(i % 40 + 1), add(f"v{i}"))]) for i in range(1, 41)),
            a.get("7"),
        )
    assert counts[:40] == [2] * 40
    con = sqlite3.connect(db)
    rows = dict(con.execute("SELECT id, huggingface_urls FROM tweets").fetchall())
    con.close()
    assert all(sorted(json.loads(rows[str(i)])) == sorted([f"u{i}", f"v{(i - 2) % 40 + 1}"]) for i in range(1, 41))


async def test_a_database_locked_by_the_scraper_stops_with_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The users' scraper holds the write lock past the busy timeout: no row changes, and the
    error says the files are on the Hub and that running again records them."""
    import hfcheck.db.archive
    from hfcheck.errors import IncompleteError

    monkeypatch.setattr(hfcheck.db.archive, "BUSY_TIMEOUT_MS", 200)
    db = tmp_path / "a.db"
    make_db(db, [("1", "bob", "[]", "[]")])
    async with Archive(cfg_for(db), writable=True) as a:
        scraper = sqlite3.connect(db, isolation_level=None)
        scraper.execute("BEGIN IMMEDIATE")
        with pytest.raises(IncompleteError, match="run the same command again"):
            await a.update_rows([("1", lambda r: RowChange(hf_urls=["u"]))])
        scraper.execute("ROLLBACK")
        scraper.close()
        assert await a.update_rows([("1", lambda r: RowChange(hf_urls=["u"]))]) == 1  # the run after goes through
    con = sqlite3.connect(db)
    assert con.execute("SELECT huggingface_urls FROM tweets").fetchone() == ('["u"]',)
    con.close()


URL_PARTS = st.sampled_from(
    [
        HF,
        HF + "2",
        PBS,
        "https://pbs.twimg.com/media/B.jpg",
        "http://huggingface.co/x",
        "https://HUGGINGFACE.co/x",
        "https://evil.example/x",
        "",
        " ",
        '"',
        "\\",
        "\n",
        "é",
        "[",
        "]",
        ", ",
        "https://huggingface.co/a b",
    ]
)
COLUMN = st.one_of(
    st.none(),
    st.integers(),
    st.lists(URL_PARTS, max_size=3).map(json.dumps),  # as the scraper writes it
    st.lists(URL_PARTS, max_size=3).map(lambda xs: json.dumps(xs, ensure_ascii=False)),
    st.lists(URL_PARTS, max_size=4).map(lambda xs: "".join(xs)),  # anything else
    st.lists(st.sampled_from(['["', '"]', '", "', HF, PBS, ",", '"', " ", "[]", "\\u0041"]), max_size=6).map("".join),
)
KEY = st.one_of(st.integers(-5, 10**21), st.sampled_from(["17", "017", "1" * 21, "12a", "", "12\n", "١٢", 1.5]))
USER = st.sampled_from(["bob", "alice_1", "", "bad name", "x" * 16, None, 3, "bob\n"])


@given(
    key=KEY,
    user=USER,
    media=st.one_of(st.lists(st.sampled_from([PBS, PBS + "2"]), max_size=2).map(json.dumps), COLUMN),
    hf=st.one_of(st.lists(st.sampled_from([HF, HF + "2"]), min_size=1, max_size=2).map(json.dumps), COLUMN),
)
def test_the_fast_lane_takes_only_rows_to_row_finds_nothing_wrong_with(key, user, media, hf) -> None:
    """`simple_page` (verify's fast lane) answers only for rows `to_row` types without a problem,
    and with the same URLs; for any other row it leaves the decision to `to_row`."""
    archive = Archive(cfg_for(Path("unused.db")))
    archive.to_row(("1", user, None, None))  # a username becomes known once `to_row` has seen it valid
    (urls,) = archive.simple_page([(key, user, media, hf)])
    if urls is not None:
        row = archive.to_row((key, user, media, hf))
        assert row.problems == [] and row.hf_urls == urls and urls


async def test_the_fast_lane_takes_the_rows_a_scraper_writes(tmp_path: Path) -> None:
    make_db(
        tmp_path / "a.db", [("17", "bob", json.dumps([PBS]), json.dumps([HF])), ("18", "bob", None, json.dumps([HF]))]
    )
    async with Archive(cfg_for(tmp_path / "a.db")) as a:
        (page,) = [p async for p in a.raw_pages()]
        assert a.simple_page(page[:1]) == [None]  # "bob" not yet seen valid
        assert a.to_row(page[0]).problems == []
        assert a.simple_page(page) == [[HF], [HF]]


SIMPLE_ROW = st.tuples(
    st.sampled_from(["17", "18", 19, 2**63]),
    st.sampled_from(["bob", "alice_1"]),
    st.sampled_from([None, "", "[]", json.dumps([PBS]), json.dumps([PBS, PBS + "2"])]),
    st.sampled_from([json.dumps([HF]), json.dumps([HF + "2"]), json.dumps([HF, HF + "2"])]),
)
ANY_ROW = st.tuples(KEY, USER, COLUMN, COLUMN)


@given(rows=st.lists(st.one_of(SIMPLE_ROW, SIMPLE_ROW, SIMPLE_ROW, ANY_ROW), min_size=1, max_size=5))
def test_the_fast_lane_answers_each_row_of_a_page_as_to_row_would(rows) -> None:
    """A page is checked a column at a time when every row is simple; the answer for each row is
    still one `to_row` agrees with, and the same as for that row alone."""
    archive = Archive(cfg_for(Path("unused.db")))
    for user in ("bob", "alice_1"):
        archive.to_row(("1", user, None, None))
    answers = archive.simple_page(rows)
    assert len(answers) == len(rows)
    for row, urls in zip(rows, answers, strict=True):
        assert archive.simple_page([row]) == [urls]
        if urls is not None:
            typed = archive.to_row(row)
            assert typed.problems == [] and typed.hf_urls == urls and urls
