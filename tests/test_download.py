"""The downloader against the real media server (aiohttp, in a thread), and its URL rules."""

from __future__ import annotations

import asyncio
import ipaddress
import os
from pathlib import Path
from typing import Iterator

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hfcheck.net.download import Downloader, original_photo_url
from hfcheck.net.hosts import AllowList, parse_host_entry, url_problem
from hfcheck.net.retry import RetryPolicy, retry_after_seconds
from hfcheck.sim.mediaserver import MediaServerHandle, start_media_server

PHOTO = os.urandom(70_000)
VIDEO = os.urandom(300_000)


@pytest.fixture
def media_dir(tmp_path: Path) -> Path:
    d = tmp_path / "served"
    d.mkdir()
    (d / "a.jpg").write_bytes(PHOTO)
    (d / "b.mp4").write_bytes(VIDEO)
    (d / "empty.jpg").write_bytes(b"")
    return d


@pytest.fixture
def server(media_dir: Path) -> Iterator[MediaServerHandle]:
    with start_media_server(media_dir) as srv:
        yield srv


@pytest.fixture
def other_server(media_dir: Path) -> Iterator[MediaServerHandle]:
    """Stands for a host that is not allowed: it must never see a request."""
    with start_media_server(media_dir) as srv:
        yield srv


@pytest.fixture
def root(tmp_path: Path) -> Path:
    d = tmp_path / "media"
    d.mkdir()
    return d


class Wire:
    """Counts every request, DNS lookup and connection the client starts."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.config = aiohttp.TraceConfig()
        for name in ("on_request_start", "on_dns_resolvehost_start", "on_connection_create_start"):
            getattr(self.config, name).append(self._record(name))

    def _record(self, name: str):
        async def record(session, ctx, params) -> None:
            self.events.append(name)

        return record


def downloader(server: MediaServerHandle, root: Path, wire: Wire | None = None, **kw) -> Downloader:
    opts = {"backoff_base": 0.01, "retry_after_cap": 0.05, "retries": 3, **kw}
    traces = [wire.config] if wire else []
    return Downloader([server.host_port, "pbs.twimg.com"], root=root, trace_configs=traces, **opts)


def leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def test_ok_download_lands_complete(server: MediaServerHandle, root: Path) -> None:
    dest = root / "images" / "alice" / "1_0.jpg"
    async with downloader(server, root) as dl:
        res = await dl.fetch(server.media_url("a.jpg"), dest)
    assert res.status == "ok" and res.size == len(PHOTO)
    assert dest.read_bytes() == PHOTO
    assert leftovers(root) == ["images/alice/1_0.jpg"]


async def test_existing_file_is_never_requested(server: MediaServerHandle, root: Path) -> None:
    dest = root / "1_0.jpg"
    dest.write_bytes(b"mine")
    wire = Wire()
    async with downloader(server, root, wire) as dl:
        res = await dl.fetch(server.media_url("a.jpg"), dest)
    assert res.status == "exists"
    assert dest.read_bytes() == b"mine"
    assert server.count() == 0 and wire.events == []


@pytest.mark.parametrize("status", [404, 410])
async def test_missing_media_are_gone(server: MediaServerHandle, root: Path, status: int) -> None:
    server.set_fault("a.jpg", status)
    async with downloader(server, root) as dl:
        res = await dl.fetch(server.media_url("a.jpg"), root / "1_0.jpg")
    assert res.status == "gone"
    assert str(status) in res.reason and server.media_url("a.jpg") in res.reason
    assert server.count("a.jpg") == 1  # not retried
    assert leftovers(root) == []


async def test_unknown_file_is_gone(server: MediaServerHandle, root: Path) -> None:
    async with downloader(server, root) as dl:
        res = await dl.fetch(server.media_url("nope.jpg"), root / "1_0.jpg")
    assert res.status == "gone"


async def test_rate_limit_then_ok(server: MediaServerHandle, root: Path) -> None:
    server.set_fault("b.mp4", 429, times=2, retry_after=30)  # capped to 0.05 s here
    async with downloader(server, root) as dl:
        res = await dl.fetch(server.media_url("b.mp4"), root / "1_0.mp4")
    assert res.status == "ok"
    assert (root / "1_0.mp4").read_bytes() == VIDEO
    assert server.count("b.mp4") == 3


async def test_server_errors_then_ok(server: MediaServerHandle, root: Path) -> None:
    server.set_fault("a.jpg", 500, times=2)
    async with downloader(server, root) as dl:
        res = await dl.fetch(server.media_url("a.jpg"), root / "1_0.jpg")
    assert res.status == "ok" and server.count("a.jpg") == 3


async def test_persistent_server_error_fails_after_retries(server: MediaServerHandle, root: Path) -> None:
    server.set_fault("a.jpg", 503)
    async with downloader(server, root, retries=2) as dl:
        res = await dl.fetch(server.media_url("a.jpg"), root / "1_0.jpg")
    assert res.status == "failed" and "503" in res.reason
    assert server.count("a.jpg") == 3
    assert leftovers(root) == []


async def test_truncated_body_fails_and_leaves_nothing(server: MediaServerHandle, root: Path) -> None:
    server.set_fault("b.mp4", "truncate")
    async with downloader(server, root) as dl:
        res = await dl.fetch(server.media_url("b.mp4"), root / "v" / "1_0.mp4")
    assert res.status == "failed" and "cut off" in res.reason
    assert leftovers(root) == []  # neither the file nor its .part


async def test_truncated_once_then_ok(server: MediaServerHandle, root: Path) -> None:
    server.set_fault("b.mp4", "truncate", times=1)
    async with downloader(server, root) as dl:
        res = await dl.fetch(server.media_url("b.mp4"), root / "1_0.mp4")
    assert res.status == "ok" and (root / "1_0.mp4").read_bytes() == VIDEO


async def test_html_error_page_is_rejected(server: MediaServerHandle, root: Path) -> None:
    server.set_fault("a.jpg", "html")
    async with downloader(server, root) as dl:
        res = await dl.fetch(server.media_url("a.jpg"), root / "1_0.jpg")
    assert res.status == "rejected" and "text/html" in res.reason
    assert leftovers(root) == []


async def test_empty_body_fails(server: MediaServerHandle, root: Path) -> None:
    async with downloader(server, root) as dl:
        res = await dl.fetch(server.media_url("empty.jpg"), root / "1_0.jpg")
    assert res.status == "failed" and "empty" in res.reason
    assert leftovers(root) == []


async def test_redirect_to_disallowed_host_is_never_followed(
    server: MediaServerHandle, other_server: MediaServerHandle, root: Path
) -> None:
    server.set_fault("a.jpg", "redirect", location=other_server.media_url("a.jpg"))
    async with downloader(server, root) as dl:
        res = await dl.fetch(server.media_url("a.jpg"), root / "1_0.jpg")
    assert res.status == "rejected" and f"redirected to {other_server.url}" in res.reason
    assert server.count("a.jpg") == 1
    assert other_server.count() == 0
    assert leftovers(root) == []


async def test_redirect_to_metadata_address_is_never_followed(server: MediaServerHandle, root: Path) -> None:
    server.set_fault("a.jpg", "redirect", location="http://169.254.169.254/latest/meta-data/")
    async with downloader(server, root) as dl:
        res = await dl.fetch(server.media_url("a.jpg"), root / "1_0.jpg")
    assert res.status == "rejected" and "link-local" in res.reason


async def test_redirect_within_allowed_host_is_followed(server: MediaServerHandle, root: Path) -> None:
    server.set_fault("/old/a.jpg", "redirect", location="/media/a.jpg")
    async with downloader(server, root) as dl:
        res = await dl.fetch(f"{server.url}/old/a.jpg", root / "1_0.jpg")
    assert res.status == "ok" and (root / "1_0.jpg").read_bytes() == PHOTO


async def test_redirect_loop_stops(server: MediaServerHandle, root: Path) -> None:
    server.set_fault("a.jpg", "redirect", location=server.media_url("a.jpg"))
    async with downloader(server, root) as dl:
        res = await dl.fetch(server.media_url("a.jpg"), root / "1_0.jpg")
    assert res.status == "rejected" and "redirects" in res.reason
    assert server.count("a.jpg") == 6


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://pbs.twimg.com/media/x.jpg",
        "http://10.0.0.1/media/a.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/media/a.jpg",
        "http://[::ffff:10.0.0.1]/media/a.jpg",
        "http://127.0.0.1:1/media/a.jpg",
        "http://localhost/media/a.jpg",
        "http://user:secret@pbs.twimg.com/media/a.jpg",
        "https://pbs.twimg.com:8443/media/a.jpg",
        "https://evil.example/media/a.jpg",
        "not a url",
    ],
)
async def test_refused_urls_cause_no_io(server: MediaServerHandle, root: Path, url: str) -> None:
    wire = Wire()
    async with downloader(server, root, wire) as dl:
        res = await dl.fetch(url, root / "1_0.jpg")
    assert res.status == "rejected", res
    assert wire.events == [] and server.count() == 0
    assert "secret" not in res.reason or "credentials" in res.reason


async def test_destination_outside_root_is_refused(server: MediaServerHandle, root: Path, tmp_path: Path) -> None:
    async with downloader(server, root) as dl:
        res = await dl.fetch(server.media_url("a.jpg"), root / ".." / "escape.jpg")
        res2 = await dl.fetch(server.media_url("a.jpg"), tmp_path / "elsewhere.jpg")
    assert res.status == res2.status == "rejected"
    assert server.count() == 0
    assert not (tmp_path / "escape.jpg").exists()


async def test_planted_part_symlink_is_not_followed(server: MediaServerHandle, root: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    (root / "1_0.jpg.part").symlink_to(victim)
    async with downloader(server, root) as dl:
        res = await dl.fetch(server.media_url("a.jpg"), root / "1_0.jpg")
    assert res.status == "ok" and (root / "1_0.jpg").read_bytes() == PHOTO
    assert victim.read_bytes() == b"keep"


async def test_concurrent_fetches_of_one_file_write_it_once(server: MediaServerHandle, root: Path) -> None:
    async with downloader(server, root) as dl:
        results = await asyncio.gather(*(dl.fetch(server.media_url("b.mp4"), root / "1_0.mp4") for _ in range(3)))
    assert sorted(r.status for r in results) == ["exists", "exists", "ok"]
    assert server.count("b.mp4") == 1


async def test_control_endpoint_sets_faults(server: MediaServerHandle, root: Path) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.url}/_control/faults", json={"path": "a.jpg", "kind": 500, "times": 1}) as r:
            assert r.status == 200
        async with downloader(server, root) as dl:
            res = await dl.fetch(server.media_url("a.jpg"), root / "1_0.jpg")
        async with http.get(f"{server.url}/_control/stats") as r:
            stats = await r.json()
    assert res.status == "ok"
    assert stats["paths"]["/media/a.jpg"] == 2


async def test_hostname_resolving_to_loopback_is_refused(server: MediaServerHandle, root: Path) -> None:
    """DNS rebinding: an allowed *name* that resolves to a private address is not contacted."""
    async with Downloader(["localhost"], root=root, retries=0) as dl:
        res = await dl.fetch("http://localhost/media/a.jpg", root / "1_0.jpg")
    assert res.status == "rejected" and "private" in res.reason


async def test_hostname_listed_with_port_may_resolve_to_loopback(server: MediaServerHandle, root: Path) -> None:
    port = server.host_port.rsplit(":", 1)[1]
    async with Downloader([f"localhost:{port}"], root=root, retries=0) as dl:
        res = await dl.fetch(f"http://localhost:{port}/media/a.jpg", root / "1_0.jpg")
    assert res.status == "ok"


def test_retry_after_is_parsed_and_capped() -> None:
    capped = RetryPolicy(max_retry_after=60).wait_for
    assert capped(retry_after_seconds({"Retry-After": "5"})) == 5
    assert capped(retry_after_seconds({"Retry-After": "600"})) == 60
    assert capped(retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0
    assert retry_after_seconds({"Retry-After": "soon"}, default=2.5) == 2.5
    assert retry_after_seconds({}, default=2.5) == 2.5


# --- properties ------------------------------------------------------------------------

MEDIA_ID = st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True)
EXT = st.sampled_from(["jpg", "png", "webp", "JPG"])
SIZE = st.sampled_from(["small", "medium", "large", "orig", "4096x4096"])


@given(MEDIA_ID, EXT, SIZE, st.integers(0, 2))
def test_original_photo_url_canonical(media_id: str, ext: str, size: str, form: int) -> None:
    url = [
        f"https://pbs.twimg.com/media/{media_id}.{ext}",
        f"https://pbs.twimg.com/media/{media_id}.{ext}:{size}",
        f"https://pbs.twimg.com/media/{media_id}?format={ext}&name={size}",
    ][form]
    out = original_photo_url(url)
    assert out == f"https://pbs.twimg.com/media/{media_id}?format={ext.lower()}&name=orig"
    assert original_photo_url(out) == out


@given(st.text(max_size=80))
def test_original_photo_url_leaves_other_urls(text: str) -> None:
    out = original_photo_url(text)
    if "pbs.twimg.com/media/" not in text:
        assert out == text


HOST = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,20}){1,3}", fullmatch=True)
PRIVATE_IP = st.one_of(
    st.ip_addresses(v=4, network="10.0.0.0/8"),
    st.ip_addresses(v=4, network="192.168.0.0/16"),
    st.ip_addresses(v=4, network="127.0.0.0/8"),
    st.ip_addresses(v=4, network="169.254.0.0/16"),
    st.ip_addresses(v=6, network="fe80::/10"),
    st.ip_addresses(v=6, network="::1/128"),
)
PORT = st.integers(1, 65535)


@given(HOST, st.sampled_from(["http", "https"]), PORT)
def test_bare_host_allows_default_port_only(host: str, scheme: str, port: int) -> None:
    allowed = AllowList([host])
    default = 80 if scheme == "http" else 443
    assert url_problem(f"{scheme}://{host}/media/x.jpg", allowed) is None
    assert url_problem(f"{scheme}://{host.upper()}:{default}/x", allowed) is None
    if port != default:
        assert url_problem(f"{scheme}://{host}:{port}/x", allowed) is not None
    assert url_problem(f"{scheme}://{host}.evil.example/x", allowed) is not None
    assert url_problem(f"{scheme}://x{host}/x", allowed) is not None


@given(PRIVATE_IP, PORT)
def test_private_ip_needs_explicit_host_port(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> None:
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    url = f"http://{host}:{port}/media/a.jpg"
    assert url_problem(url, AllowList([])) is not None
    assert url_problem(url, AllowList([host])) is not None  # a bare IP entry is not enough
    assert url_problem(url, AllowList([f"{host}:{port}"])) is None
    assert parse_host_entry(f"{host}:{port}") == (str(ip), port)


@given(st.text(max_size=60))
def test_url_problem_never_raises(text: str) -> None:
    result = url_problem(text, AllowList(["pbs.twimg.com", "127.0.0.1:8080"]))
    assert result is None or isinstance(result, str)
