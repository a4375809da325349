"""Which hosts the media downloader may contact, and why: the allow list.

URLs come from the archive's database and from X's answers: untrusted. So before any I/O a URL
must be http(s), carry no credentials, name a host of the allow list (exact name, or
`host:port`), and not be a private/loopback/link-local IP literal unless that exact `host:port`
is listed (the tests and the demo list `127.0.0.1:PORT`). A resolver guard refuses hostnames
that resolve to private addresses (DNS rebinding) unless listed with a port. The same parser
(yarl) that aiohttp connects with is the one checked, so no parser disagreement can smuggle a
host through. `net/download.py` applies these rules to every URL and every redirect hop.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Iterable

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from hfcheck.errors import BlockedAddress
from hfcheck.model.hosts import norm_host, parse_host_entry

DEFAULT_PORTS = {"http": 80, "https": 443}


def _special_ip(host: str) -> bool:
    """True for IP literals no public media host uses (private, loopback, link-local, ...)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


class AllowList:
    """Exact host names (any default port) and exact `host:port` pairs."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.bare: set[str] = set()
        self.exact: set[tuple[str, int]] = set()
        for entry in entries:
            host, port = parse_host_entry(entry)
            if port is None:
                self.bare.add(host)
            else:
                self.exact.add((host, port))

    def explicit(self, host: str, port: int) -> bool:
        return (norm_host(host), port) in self.exact

    def problem(self, host: str, port: int, scheme: str) -> str | None:
        """Why (host, port) may not be contacted, or None when it may."""
        host = norm_host(host)
        if (host, port) in self.exact:
            return None
        if _special_ip(host):
            return f"{host} is a private, loopback or link-local address (list {host}:{port} to allow it)"
        if host in self.bare and port == DEFAULT_PORTS.get(scheme):
            return None
        return f"host {host}:{port} is not in the allowed hosts"


def url_problem(url: str | URL, allowed: AllowList) -> str | None:
    """Why this URL must not be fetched, or None. Pure: no I/O."""
    try:
        u = url if isinstance(url, URL) else URL(url)
        scheme, host, port = u.scheme.lower(), u.raw_host, u.port
    except (ValueError, TypeError) as exc:
        return f"unparsable URL: {exc}"
    if scheme not in DEFAULT_PORTS:
        return f"scheme {scheme or '(none)'!r} is not http or https"
    if not host:
        return "URL has no host"
    if u.raw_user is not None or u.raw_password is not None:
        return "URL carries credentials"
    if port is None:
        return "URL has no usable port"
    return allowed.problem(host.strip("[]"), port, scheme)


# --- resolver guard ----------------------------------------------------------------------


class GuardedResolver(AbstractResolver):
    """Drops private addresses from DNS answers unless the host is listed with its port."""

    def __init__(self, allowed: AllowList) -> None:
        self._inner = DefaultResolver()
        self._allowed = allowed

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if self._allowed.explicit(host, port):
            return results
        public = [r for r in results if not _special_ip(r["host"])]
        if not public:
            raise BlockedAddress(f"{host} resolves only to private addresses")
        return public

    async def close(self) -> None:
        await self._inner.close()
