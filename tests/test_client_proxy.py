"""The proxy policy: the token never reaches a proxy in clear text.

A capturing proxy on loopback records every byte it is sent; it must never see the
token: no proxy at all for an http:// API URL, only a CONNECT tunnel for https://."""

from __future__ import annotations

import socket

import pytest

from mxsync._http.proxies import bypassed, proxy_for
from mxsync.api import Unreachable
from mxsync.errors import MxsyncError
from mxsync.secrets import Secret
from tests.hostile.client import CANARY_TOKEN, outcome, with_client
from tests.hostile.server import HostileServer, Reply, canned, json_reply

HTTPS = "https://api.modulex.dev"


@pytest.mark.parametrize(("url", "env", "expected"), [
    ("http://127.0.0.1:8080", {"HTTP_PROXY": "http://p:1", "ALL_PROXY": "http://p:1",
                               "HTTPS_PROXY": "http://p:1"}, None),
    (HTTPS, {"HTTP_PROXY": "http://p:1"}, None),  # HTTP_PROXY is never used
    (HTTPS, {"HTTPS_PROXY": "http://p:1"}, "http://p:1"),
    (HTTPS, {"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:1"}, "http://lower:1"),
    (HTTPS, {"ALL_PROXY": "http://all:1"}, "http://all:1"),
    (HTTPS, {"HTTPS_PROXY": "p:3128"}, "http://p:3128"),
    (HTTPS, {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "modulex.dev"}, None),
    (HTTPS, {"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".modulex.dev"}, None),
    (HTTPS, {"HTTPS_PROXY": "http://p:1", "no_proxy": "*"}, None),
    (HTTPS, {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com, api.modulex.dev:443"}, None),
    (HTTPS, {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "api.modulex.dev:8443"}, "http://p:1"),
    (HTTPS, {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "odulex.dev,x-modulex.dev"}, "http://p:1"),
    ("https://10.1.2.3", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.0.0.0/8"}, None),
    ("https://[::1]:9", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "::1"}, None),
])
def test_policy(url: str, env: dict[str, str], expected: str | None) -> None:
    assert proxy_for(url, env) == expected


@pytest.mark.parametrize("proxy", ["ftp://p:1", "http://p:notaport", "http://"])
def test_an_unusable_proxy_is_a_clear_error(proxy: str) -> None:
    with pytest.raises(MxsyncError, match="HTTPS_PROXY/ALL_PROXY"):
        proxy_for(HTTPS, {"HTTPS_PROXY": proxy})


def test_no_proxy_ignores_blank_entries() -> None:
    assert not bypassed(HTTPS, " , ,")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _orgs(client: object) -> object:
    return client.my_organizations(Secret(CANARY_TOKEN))  # type: ignore[attr-defined]


def test_an_http_api_url_never_goes_through_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    with HostileServer(canned([Reply(502)])) as proxy, \
            HostileServer(canned([json_reply({"organizations": []})])) as api:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
            monkeypatch.setenv(name, proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        assert with_client(api.url, _orgs, environ=None) == []
    assert proxy.seen == [] and len(api.seen) == 1


def test_an_https_api_url_is_only_tunnelled(monkeypatch: pytest.MonkeyPatch) -> None:
    with HostileServer(canned([Reply(403)])) as proxy:
        user_proxy = proxy.url.replace("http://", "http://proxyuser:pr0xyPASSWORD@")
        monkeypatch.setenv("HTTPS_PROXY", user_proxy)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        error = outcome("https://api.modulex.invalid", _orgs, environ=None)
    assert proxy.seen and {s.method for s in proxy.seen} == {"CONNECT"}
    assert all(s.path == "api.modulex.invalid:443" or "api.modulex.invalid:443" in s.raw()
               for s in proxy.seen)
    captured = "".join(s.raw() for s in proxy.seen)
    assert CANARY_TOKEN not in captured
    assert not any("authorization" in s.headers for s in proxy.seen)  # only proxy-authorization
    assert isinstance(error, Unreachable) and "proxy http://127.0.0.1:" in str(error)
    assert "pr0xyPASSWORD" not in str(error)


def test_no_proxy_sends_an_https_url_direct(monkeypatch: pytest.MonkeyPatch) -> None:
    with HostileServer(canned([Reply(403)])) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
        error = outcome(f"https://127.0.0.1:{_closed_port()}", _orgs, environ=None)
    assert proxy.seen == []
    assert isinstance(error, Unreachable) and "cannot reach the ModuleX API" in str(error)
