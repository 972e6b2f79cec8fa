"""Both clients (ModuleX, xAI's Management API) against a server that attacks them: every
mode ends in a clear MxsyncError, within the run's own bounds (counted in requests and in
the waits the client chose, never timed), and the canary token and key appear nowhere
(error text, repr, DEBUG logs, or a whole CLI run with --debug).

The canary token has no known shape, so only redaction by value can hide it; the echo
puts it (and the key) past the point where an error text is cut, so a fragment left by
cutting before redacting would show too."""

from __future__ import annotations

import asyncio
import logging
from email.utils import formatdate
from pathlib import Path

import pytest

from mxsync._http.retry import RetryPolicy
from mxsync.errors import MxsyncError
from mxsync.xai_management import MAX_PAGES
from tests.cli_helpers import mxsync, write_manifest
from tests.conftest import OrgFactory
from tests.hostile.client import CANARY_KEY, CANARY_TOKEN, MODULEX, TARGETS, XAI, Target, attack
from tests.hostile.server import (
    Handler,
    HostileServer,
    Reply,
    Seen,
    canned,
    drip,
    echo,
    echo_text,
    endless,
    gzip_bomb,
    huge_declared,
    json_reply,
)

CANARIES = (CANARY_TOKEN, CANARY_KEY)


def assert_no_canary(text: str) -> None:
    """Not the whole value, and not any 6-character piece of it."""
    for canary in CANARIES:
        pieces = {canary[i:i + 6] for i in range(len(canary) - 5)}
        found = [p for p in pieces if p in text]
        assert not found, f"a piece of a canary leaked: {found[:3]}"


def _padded_echo(status: int) -> Handler:
    """The token placed where an error text is cut (300 characters), then the key: cutting
    before redacting would leave a piece of the token that no pattern recognises."""
    def handle(seen: Seen) -> Reply:
        token = seen.headers.get("authorization", "").removeprefix("Bearer ")
        return json_reply({"detail": "p" * 280 + " " + token + " " + seen.raw()}, status)

    return handle


MODES: dict[str, Handler] = {
    "echo-json-400": echo(400),
    "echo-json-401": echo(401),
    "echo-text-500": echo_text(500),
    "echo-padded-403": _padded_echo(403),
    "echo-padded-409": _padded_echo(409),
    "huge": huge_declared(10**12),
    "endless": endless(),
    "drip": drip(0.05),
    "gzip-bomb": gzip_bomb(40 * 1024 * 1024),
    "wrong-shape": canned([json_reply(["a", {"b": None}])]),
    "not-json": canned([Reply(200, {"content-type": "text/html"}, b"<h1>hello</h1>")]),
    "redirect": canned([Reply(307, {"location": "http://127.0.0.1:9/elsewhere"})]),
}


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("call", ["read", "list", "create", "write"])
@pytest.mark.parametrize("mode", list(MODES))
def test_every_mode_is_a_clear_error_without_secrets(mode: str, call: str, target: str,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="mxsync")
    attacked = TARGETS[target]
    with HostileServer(MODES[mode]) as server:
        error, _ = attack(attacked, server.url, attacked.calls[call], timeout_s=0.5,
                          max_bytes=64 * 1024)
    assert isinstance(error, MxsyncError), repr(error)
    assert error.message and "Traceback" not in str(error)
    for text in (str(error), repr(error), repr(error.__dict__), caplog.text):
        assert_no_canary(text)
    if mode.startswith("echo-json") and call != "create":
        assert "(sensitive)" in str(error)  # the echo was there, and hidden
    if mode == "redirect":
        assert "redirect refused" in str(error) and len(server.seen) == 1


def test_the_echo_really_carries_the_canaries() -> None:
    """The attack is real: what the server sees holds both canaries."""
    with HostileServer(echo(400)) as server:
        attack(MODULEX, server.url, MODULEX.calls["create"])
    raw = server.seen[0].raw()
    assert CANARY_TOKEN in raw and CANARY_KEY in raw


# -- Retry-After that is no wait at all -----------------------------------------------------
FLOOR_S, TOTAL_S = 0.02, 0.2
# Backoff far below the floor and attempts far above what the total allows: only the floor
# and the total can bound these runs.
BOUNDED = RetryPolicy(attempts=1000, base_s=0.001, cap_s=0.002, min_rate_limit_wait_s=FLOOR_S,
                      max_wait_s=TOTAL_S)
NO_WAITS = {
    "zero": "0",
    "negative": "-30",
    "nan": "nan",
    "infinite": "inf",
    "garbage": "soon",
    "past-date": formatdate(0, usegmt=True),
    "overflowing-date": "Mon, 01 Jan 2024 00:00:00 +99999999999999999999",
    "year-99999": "Mon, 01 Jan 99999 00:00:00 GMT",
}


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("retry_after", list(NO_WAITS))
def test_a_429_that_asks_for_no_wait_still_waits_the_floor_and_ends(retry_after: str,
                                                                    target: str) -> None:
    """Each retry waits at least the floor, and the waits stop at the total: the number of
    requests is bounded by total / floor, whatever `Retry-After` says."""
    attacked = TARGETS[target]
    reply = json_reply({"detail": "slow down", "code": "rate", "error": "slow down"}, 429,
                       {"retry-after": NO_WAITS[retry_after]})
    with HostileServer(canned([reply])) as server:
        error, stats = attack(attacked, server.url, attacked.calls["read"], retry=BOUNDED)
    sent = len(server.seen)
    assert isinstance(error, MxsyncError) and getattr(error, "status", None) == 429, repr(error)
    assert "internal error" not in str(error).lower()
    assert 2 <= sent <= round(TOTAL_S / FLOOR_S) + 1
    assert stats.calls == sent and stats.rate_limited == sent - 1
    assert stats.waited_s >= (sent - 1) * FLOOR_S * 0.999  # never a wait under the floor
    assert stats.waited_s <= TOTAL_S * 1.001  # and never past the total


def test_a_429_that_asks_for_a_reasonable_wait_gets_it_and_then_the_answer() -> None:
    """The floor does not shorten a real wait: `Retry-After: 0.05` is waited as given."""
    replies = [json_reply({"detail": "slow"}, 429, {"retry-after": "0.05"}),
               json_reply({"organizations": []})]
    for target in TARGETS.values():
        then = json_reply({"organizations": []} if target is MODULEX else {"teamId": "team-a"})
        with HostileServer(canned(replies[:1], then=then)) as server:
            result, stats = _returning(target, server.url)
        assert len(server.seen) == 2 and stats.rate_limited == 1
        assert stats.waited_s == pytest.approx(0.05)
        assert result is not None


def _returning(target: Target, url: str) -> tuple[object, object]:
    async def go() -> tuple[object, object]:
        async with target.open(url, retry=BOUNDED) as client:
            return await target.calls["read"](client), client.stats

    return asyncio.run(go())


# -- listings that never end ----------------------------------------------------------------
@pytest.mark.parametrize("target", list(TARGETS))
def test_a_listing_that_never_ends_stops_at_the_page_cap(target: str) -> None:
    """A new paginationToken on every page (xAI), or a total_count never reached (ModuleX)."""
    attacked = TARGETS[target]
    with HostileServer(attacked.endless_page) as server:
        error, stats = attack(attacked, server.url, attacked.calls["list"], max_pages=5)
    assert isinstance(error, MxsyncError), repr(error)
    assert "paging did not end after 5 pages" in str(error)
    assert len(server.seen) == stats.calls == 5


def test_a_repeated_pagination_token_ends_the_listing_at_once() -> None:
    page = json_reply({"apiKeys": [{"apiKeyId": "k-1"}], "paginationToken": "again"})
    with HostileServer(canned([page])) as server:
        error, _ = attack(XAI, server.url, XAI.calls["list"])
    assert isinstance(error, MxsyncError) and "a second time" in str(error)
    assert len(server.seen) == 2  # the first page, and the one whose token repeats


# -- the proxy policy is the same for both --------------------------------------------------
PROXIES = {"HTTPS_PROXY": "http://proxy.example:3128", "HTTP_PROXY": "http://plain.example:80",
           "ALL_PROXY": "http://all.example:80"}


@pytest.mark.parametrize("target", list(TARGETS))
def test_both_clients_use_one_url_guard_and_proxy_policy(target: str) -> None:
    """https goes through HTTPS_PROXY (a tunnel that never sees a header); plain http (to
    loopback only) never goes through a proxy, whatever the environment says; a URL with a
    password in it is refused before anything is sent."""
    attacked = TARGETS[target]

    def proxy_of(url: str, environ: dict[str, str]) -> str | None:
        client = attacked.open(url, retry=BOUNDED, environ=environ)
        asyncio.run(client.__aexit__())
        return client.proxy

    assert proxy_of("https://api.example.com", PROXIES) == "http://proxy.example:3128"
    assert proxy_of("https://api.example.com", {**PROXIES, "NO_PROXY": ".example.com"}) is None
    assert proxy_of("http://127.0.0.1:9", PROXIES) is None
    with pytest.raises(MxsyncError, match="not usable"):
        proxy_of("https://api.example.com", {"HTTPS_PROXY": "ftp://proxy.example"})
    with pytest.raises(MxsyncError, match="plain http"):
        proxy_of("http://api.example.com", {})
    with pytest.raises(MxsyncError, match="user name or password"):
        proxy_of("https://me:pw@api.example.com", {})


@pytest.mark.parametrize("mode", ["echo-padded-403", "drip", "huge", "wrong-shape"])
@pytest.mark.slow
def test_a_whole_cli_run_with_debug_leaks_nothing(mode: str, tmp_path: Path) -> None:
    with HostileServer(MODES[mode]) as server:
        path = write_manifest(tmp_path / "m.yaml", [{"id": "org-a", "xai": {"credentials": [
            {"name": "primary", "api_key_env": "K1"}]}}])
        run = mxsync("--debug", "plan", "-f", path, "--timeout", "0.5",
                     env={"MODULEX_BASE_URL": server.url, "MODULEX_API_KEY": CANARY_TOKEN,
                          "K1": CANARY_KEY})
    assert run.code == 1, run.out + run.err
    assert "internal error" not in (run.out + run.err).lower()
    assert_no_canary(run.out + run.err)


def test_a_plan_against_an_endless_key_list_ends_with_a_clear_error(new_org: OrgFactory,
                                                                     tmp_path: Path) -> None:
    """The attack as a user meets it: `mxsync plan` whose Management API hands out a new
    paginationToken on every page stops at the page cap, says why, and leaks nothing."""
    org = new_org()
    with HostileServer(XAI.endless_page) as server:
        path = write_manifest(
            tmp_path / "m.yaml",
            [{"id": org.id, "token_env": "MX_TOKEN", "xai": {"default": "minted", "credentials": [
                {"name": "minted", "mint": {"acls": ["api-key:model:*"]}}]}}],
            api={"url": org.url},
            xai_management={"team_id": "team-a", "key_env": "MGMT_KEY", "url": server.url})
        # The operator points mxsync at this server (a manifest alone may not).
        run = mxsync("--debug", "plan", "-f", path,
                     env={"MX_TOKEN": org.token, "MGMT_KEY": CANARY_TOKEN,
                          "MODULEX_BASE_URL": org.url, "XAI_MANAGEMENT_URL": server.url})
    said = run.out + run.err
    assert len(server.seen) == MAX_PAGES
    assert run.code == 1, said
    assert f"paging did not end after {MAX_PAGES:,} pages" in said
    assert "internal error" not in said.lower() and "Traceback" not in said
    assert_no_canary(said)
