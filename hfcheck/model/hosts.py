"""The syntax of an allow-list entry (`download.allowed_hosts`): pure, so that the settings
refuse a bad entry when they are read (config), and `net/hosts.py` builds its allow list from
the same parse."""

from __future__ import annotations

from hfcheck.report.catalog import msg


def norm_host(host: str) -> str:
    return host.strip().lower().rstrip(".")


def parse_host_entry(entry: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[v6]` or `[v6]:port` -> (normalised host, port or None)."""
    entry = entry.strip()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest.removeprefix(":") if rest.startswith(":") else None
        if rest and port is None:
            raise ValueError(msg("err_host_entry", entry=entry))
    elif entry.count(":") == 1:
        host, port = entry.split(":")
    else:
        host, port = entry, None
    host = norm_host(host)
    if not host or any(c in host for c in "/@?#\\ "):
        raise ValueError(msg("err_host_entry", entry=entry))
    if port is not None:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(msg("err_host_port", entry=entry))
        return host, int(port)
    return host, None
