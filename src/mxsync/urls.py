"""URL rules shared by the manifest checks and the API client (kept free of httpx)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

DEFAULT_BASE_URL = "https://api.modulex.dev"  # the official SDK's default


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def cleartext_to_remote(url: str) -> bool:
    """True for plain http to anything but this machine: a secret sent there is readable."""
    parts = urlsplit(url)
    return parts.scheme == "http" and not is_loopback(parts.hostname or "")


def host_port(url: str) -> str:
    """host:port of a URL, for a message or a log: never its path, user or password."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a port out of range: leave it out
        port = ""
    return f"{parts.hostname or '(no host)'}{port}"  # never the URL itself: it may hold a password
