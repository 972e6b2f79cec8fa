"""Which proxy, if any, the ModuleX client goes through: a policy that keeps the token in TLS.

A proxy for a plain-http URL sees every header, `Authorization` included. So:
  * an `http://` API URL (allowed only to loopback) never goes through a proxy;
  * an `https://` API URL uses `HTTPS_PROXY` (else `ALL_PROXY`) unless `NO_PROXY` matches
    its host: the proxy then only tunnels (CONNECT host:443) and sees no header;
  * `HTTP_PROXY` is never used, and nothing else is read from the environment for it.
"""

from __future__ import annotations

import importlib.util
import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

from mxsync.errors import MxsyncError
from mxsync.urls import host_port

_SCHEMES = ("http", "https", "socks5", "socks5h")


def _env(environ: Mapping[str, str], *names: str) -> str:
    for name in names:
        for variant in (name.lower(), name.upper()):
            value = (environ.get(variant) or "").strip()
            if value:
                return value
    return ""


def _host_matches(host: str, port: int, entry: str) -> bool:
    entry = entry.strip().lower()
    if not entry:
        return False
    if entry == "*":
        return True
    want_port: int | None = None
    if entry.count(":") == 1 and not entry.startswith("["):
        entry, _, port_text = entry.partition(":")
        if not port_text.isdigit():
            return False
        want_port = int(port_text)
    entry = entry.strip("[]")
    if want_port is not None and want_port != port:
        return False
    try:
        network = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        network = None
    if network is not None:
        try:
            return ipaddress.ip_address(host.strip("[]")) in network
        except ValueError:
            return False
    entry = entry.removeprefix("*").lstrip(".")
    return host == entry or host.endswith("." + entry)


def bypassed(url: str, no_proxy: str) -> bool:
    """True when NO_PROXY (comma-separated hosts, .domains, IPs, CIDRs, host:port, `*`)
    says the URL's host is reached directly."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 0
    return any(_host_matches(host, port, entry) for entry in no_proxy.split(","))


def proxy_for(base_url: str, environ: Mapping[str, str]) -> str | None:
    """The proxy URL for this API URL under the policy above, or None for a direct connection."""
    if urlsplit(base_url).scheme != "https":
        return None
    proxy = _env(environ, "HTTPS_PROXY", "ALL_PROXY")
    if not proxy or bypassed(base_url, _env(environ, "NO_PROXY")):
        return None
    if "://" not in proxy:
        proxy = "http://" + proxy  # as curl reads `host:port`
    parts = urlsplit(proxy)
    scheme = parts.scheme.lower()
    try:
        _ = parts.port
    except ValueError:
        scheme = "(bad port)"
    if scheme not in _SCHEMES or not parts.hostname:
        raise MxsyncError(
            f"the proxy in HTTPS_PROXY/ALL_PROXY is not usable (scheme {scheme!r})",
            hint="set it to http://HOST:PORT (or https://, socks5://), or unset it; "
                 "NO_PROXY can exempt the ModuleX host")
    if scheme.startswith("socks") and importlib.util.find_spec("socksio") is None:
        raise MxsyncError(
            "HTTPS_PROXY/ALL_PROXY names a SOCKS proxy, which needs the 'socksio' package",
            hint="pip install socksio, use an http:// proxy, or exempt the host with NO_PROXY")
    return proxy


def describe(proxy: str | None) -> str:
    """For logs: host and port only (a proxy URL may carry a user and password)."""
    if not proxy:
        return "direct"
    return f"proxy {urlsplit(proxy).scheme}://{host_port(proxy)}"
