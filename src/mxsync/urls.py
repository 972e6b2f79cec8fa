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
