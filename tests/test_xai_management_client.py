"""mxsync's client for xAI's Management API, against the emulator over HTTP.

Fault cases count the calls that must happen exactly once; the canary case
proves the management key never reaches an exception or a debug log.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest

from mxsync._http.retry import RetryPolicy
from mxsync.api import OutcomeUnknown, Unreachable
from mxsync.errors import MxsyncError
from mxsync.secrets import Secret
from mxsync.xai_management import (
    ManagementKeyInfo,
    XaiApiKey,
    XaiManagementClient,
    XaiManagementError,
    check_management_url,
)
from tests.conftest import OrgFactory
from tests.xai_helpers import MINT_ACLS, XaiTeam, new_team

T = TypeVar("T")
CREATE_ROUTE = "POST /xai-management/auth/teams/{team_id}/api-keys"
LIST_ROUTE = "GET /xai-management/auth/teams/{team_id}/api-keys"
FAST = RetryPolicy(base_s=0.01, cap_s=0.05)


@pytest.fixture
def team(emulator_url: str) -> XaiTeam:
    return new_team(emulator_url)


def run(team: XaiTeam, call: Callable[[XaiManagementClient], Awaitable[T]], token: str | None = None,
        retry: RetryPolicy = FAST, timeout_s: float = 30.0) -> T:
    async def scenario() -> T:
        async with XaiManagementClient(Secret(token or team.token), team.url, retry=retry,
                                       token_source="$XAI_MANAGEMENT_KEY",
                                       timeout_s=timeout_s) as client:
            return await call(client)

    return asyncio.run(scenario())


def route_count(emulator_url: str, route: str) -> int:
    return int(httpx.get(f"{emulator_url}/_emulator/stats").json()["routes"].get(route, 0))


# -- the calls ------------------------------------------------------------------------------
def test_mint_returns_the_secret_once_and_hides_it(team: XaiTeam, new_org: OrgFactory) -> None:
    expiry = datetime(2999, 1, 1, tzinfo=UTC)
    key = run(team, lambda c: c.create_key(team.id, name="mxsync/acme/minted/1", acls=MINT_ACLS,
                                           qpm=600, tpm=100_000, expire_time=expiry))
    assert key.secret is not None
    secret = key.secret.reveal()
    assert secret not in repr(key) and secret not in str(key)
    assert key.name == "mxsync/acme/minted/1" and key.team_id == team.id
    assert key.acls == tuple(MINT_ACLS) and (key.qpm, key.tpm) == (600, 100_000)
    assert key.expires_at == expiry and key.usable()
    assert key.redacted == f"xai-...{secret[-4:]}"
    age = key.age()
    assert age is not None and age >= timedelta(0)
    listed = run(team, lambda c: c.list_keys(team.id))
    assert [k.api_key_id for k in listed] == [key.api_key_id]
    assert listed[0].secret is None  # only the create ever carries it
    with new_org().client() as c:  # the key works where mxsync puts it
        test = c.post("/credentials/test-temporary", json={
            "integration_name": "xai", "auth_type": "api_key", "auth_data": {"api_key": secret}})
    assert test.json()["is_valid"] is True


def test_list_follows_every_page(team: XaiTeam, emulator_url: str) -> None:
    ids = [team.mint(f"k{i}")["apiKeyId"] for i in range(5)]
    before = route_count(emulator_url, LIST_ROUTE)
    listed = run(team, lambda c: c.list_keys(team.id, page_size=2))
    assert [k.api_key_id for k in listed] == ids
    assert route_count(emulator_url, LIST_ROUTE) - before == 3  # 2 + 2 + 1


def test_find_get_update_delete_and_propagation(team: XaiTeam, new_org: OrgFactory) -> None:
    mine = team.mint("mxsync/acme/a/1")["apiKeyId"]
    team.mint("someone-else")

    async def scenario(c: XaiManagementClient) -> dict[str, Any]:
        found = await c.find_keys(team.id, name_prefix="mxsync/")
        disabled = await c.set_disabled(mine)
        renamed = await c.update_key(mine, name="mxsync/acme/a/1-old", qps=3)
        got = await c.get_key(team.id, mine)
        propagated = await c.is_propagated(mine)
        first, second = await c.delete_key(mine), await c.delete_key(mine)
        return {"found": [k.api_key_id for k in found], "disabled": disabled, "renamed": renamed,
                "got": got, "propagated": propagated, "deletes": (first, second),
                "after": await c.get_key(team.id, mine)}

    out = run(team, scenario)
    assert out["found"] == [mine]
    assert out["disabled"].disabled is True and not out["disabled"].usable()
    assert out["renamed"].name == "mxsync/acme/a/1-old" and out["renamed"].qps == 3
    assert out["renamed"].disabled is True  # untouched by a mask that does not name it
    assert isinstance(out["got"], XaiApiKey) and out["got"].name == "mxsync/acme/a/1-old"
    assert out["propagated"] is True
    assert out["deletes"] == (True, False)  # 404 on the second: already gone
    assert out["after"] is None


def test_wait_propagated_reports_progress_and_gives_up(emulator_url: str) -> None:
    slow = new_team(emulator_url, propagation_s=3600)
    key_id = slow.mint()["apiKeyId"]
    waits: list[float] = []
    done = run(slow, lambda c: c.wait_propagated(key_id, timeout_s=0.2, interval_s=0.05,
                                                 on_wait=waits.append))
    assert done is False and waits and waits == sorted(waits)
    fast = new_team(emulator_url, propagation_s=0)
    ready = fast.mint()["apiKeyId"]
    assert run(fast, lambda c: c.wait_propagated(ready, timeout_s=5, on_wait=waits.append)) is True


def test_validate_and_team_models(team: XaiTeam) -> None:
    assert team.id in run(team, lambda c: c.validate()).team_ids
    assert run(team, lambda c: c.team_models(team.id)) == ["grok-4-0709", "grok-code-fast-1", "grok-4-fast"]


# -- each error status ------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "call", "hint"), [
    (400, lambda t, c: c.create_key(t.id, name="k", acls=["api-key:all"]), "mint settings"),
    (401, lambda t, c: c.validate(), "Management Keys"),
    (403, lambda t, c: c.list_keys(t.other_team), "team_id"),
    (403, lambda t, c: c.team_models(t.other_team), "team_id"),
    (404, lambda t, c: c.set_disabled("no-such-key"), "does not exist"),
    (404, lambda t, c: c.is_propagated("no-such-key"), "does not exist"),
])
def test_error_statuses_become_errors_with_hints(
        team: XaiTeam, emulator_url: str, status: int,
        call: Callable[[XaiTeam, XaiManagementClient], Awaitable[Any]], hint: str) -> None:
    token = "mgmt-wrong-key" if status == 401 else None
    with pytest.raises(XaiManagementError) as caught:
        run(team, lambda c: call(team, c), token=token)
    assert caught.value.status == status
    assert caught.value.hint is not None and hint in caught.value.hint
    assert f"answered {status}" in caught.value.message


def test_a_bad_create_is_sent_once(team: XaiTeam, emulator_url: str) -> None:
    before = route_count(emulator_url, CREATE_ROUTE)
    with pytest.raises(XaiManagementError):
        run(team, lambda c: c.create_key(team.id, name="", acls=MINT_ACLS))
    assert route_count(emulator_url, CREATE_ROUTE) - before == 1


# -- faults ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["500", "503", "reset", "lost-response"])
def test_a_create_is_never_replayed_blindly(team: XaiTeam, emulator_url: str, kind: str) -> None:
    before = route_count(emulator_url, CREATE_ROUTE)
    team.faults({kind: 1.0})
    try:
        with pytest.raises(OutcomeUnknown) as caught:
            run(team, lambda c: c.create_key(team.id, name="mxsync/x/y/1", acls=MINT_ACLS))
    finally:
        team.faults({})
    assert route_count(emulator_url, CREATE_ROUTE) - before == 1
    assert caught.value.hint and "by name" in caught.value.hint
    # What the caller then does: list by name. Only lost-response got through to xAI.
    found = run(team, lambda c: c.find_keys(team.id, name_prefix="mxsync/x/y/"))
    assert len(found) == (1 if kind == "lost-response" else 0)


def test_a_429_on_create_is_waited_out_and_mints_once(team: XaiTeam, emulator_url: str) -> None:
    """429 says nothing was done, so the create is repeated after Retry-After (1 s here)."""
    before = route_count(emulator_url, CREATE_ROUTE)
    team.faults({"429": 0.5}, seed=3)
    try:
        key = run(team, lambda c: c.create_key(team.id, name="mxsync/busy/1", acls=MINT_ACLS))
        faults = httpx.get(f"{emulator_url}/_emulator/stats").json()
    finally:
        team.faults({})
    calls = route_count(emulator_url, CREATE_ROUTE) - before
    assert key.secret is not None
    assert calls >= 2, "seed 3 must make the first try a 429, or this test proves nothing"
    assert faults["faults"]["429"] >= calls - 1
    assert [k.api_key_id for k in run(team, lambda c: c.find_keys(team.id, name_prefix="mxsync/busy/"))
            ] == [key.api_key_id]


@pytest.mark.parametrize("kind", ["500", "502", "503", "reset", "timeout"])
def test_reads_and_idempotent_writes_are_retried(team: XaiTeam, kind: str) -> None:
    ids = [team.mint(f"k{i}")["apiKeyId"] for i in range(3)]
    faulted_before = _faults(team.emulator_url, kind)
    team.faults({kind: 0.5}, seed=1, hold_s=2.0)  # a held answer outlasts the client's 0.5 s

    async def scenario(c: XaiManagementClient) -> tuple[list[str], bool, bool]:
        listed = await c.list_keys(team.id, page_size=1)
        disabled = await c.set_disabled(ids[0])
        deleted = await c.delete_key(ids[1])
        return [k.api_key_id for k in listed], disabled.disabled, deleted

    try:
        listed, disabled, deleted = run(
            team, scenario, retry=RetryPolicy(attempts=12, base_s=0.01, cap_s=0.05), timeout_s=0.5)
    finally:
        team.faults({})
    assert _faults(team.emulator_url, kind) > faulted_before  # there were failures to retry
    assert listed == ids and disabled is True
    remaining = [k["apiKeyId"] for k in _raw_list(team)]
    assert remaining == [ids[0], ids[2]]  # deleted exactly the one, whatever `deleted` says
    assert isinstance(deleted, bool)


def _faults(emulator_url: str, kind: str) -> int:
    return int(httpx.get(f"{emulator_url}/_emulator/stats").json()["faults"].get(kind, 0))


def _raw_list(team: XaiTeam) -> list[dict[str, Any]]:
    with team.client() as c:
        return list(c.get(f"/auth/teams/{team.id}/api-keys").json()["apiKeys"])


def test_retries_end_in_an_error_with_xais_text(team: XaiTeam) -> None:
    team.faults({"503": 1.0})
    try:
        with pytest.raises(XaiManagementError) as caught:
            run(team, lambda c: c.list_keys(team.id))
    finally:
        team.faults({})
    assert caught.value.status == 503 and caught.value.hint and "re-run later" in caught.value.hint


def test_a_closed_port_is_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(Unreachable):
        asyncio.run(_validate_at(f"http://127.0.0.1:{port}"))


async def _validate_at(url: str) -> None:
    async with XaiManagementClient(Secret("mgmt-x"), url, retry=FAST) as c:
        await c.validate()


def test_redirects_are_refused() -> None:
    # Following a redirect would resend the key to wherever it points.
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(307, headers={"Location": "https://elsewhere.example/steal"})

    async def scenario() -> None:
        async with _mock_client(handler) as c:
            await c.request("GET", "/auth/management-keys/validation")

    with pytest.raises(XaiManagementError) as caught:
        asyncio.run(scenario())
    assert "redirect refused" in caught.value.message


def test_cleartext_to_a_remote_host_is_refused() -> None:
    with pytest.raises(MxsyncError, match="plain http"):
        check_management_url("http://management-api.x.ai")
    assert check_management_url("http://127.0.0.1:1/xai-management/") == "http://127.0.0.1:1/xai-management"


@pytest.mark.parametrize(("body", "expected"), [
    # xAI's published shape: a team-scoped key names its team in teamId and scopeId
    ({"apiKeyId": "mk-1", "teamId": "team-a", "scope": "SCOPE_TEAM", "scopeId": "team-a",
      "name": "ci"}, ManagementKeyInfo(("team-a",), "mk-1", "ci", "SCOPE_TEAM")),
    # the older shape
    ({"valid": True, "teamIds": ["team-a", "team-b"]}, ManagementKeyInfo(("team-a", "team-b"))),
    # another scope's id is not a team; odd field types are skipped, not trusted
    ({"scope": "SCOPE_USER", "scopeId": "user-1", "teamId": 7, "name": ["x"]},
     ManagementKeyInfo((), scope="SCOPE_USER")),
    ([], ManagementKeyInfo(())),
])
def test_the_validation_answer_is_read_in_either_shape(body: Any, expected: ManagementKeyInfo) -> None:
    assert ManagementKeyInfo.from_wire(body) == expected


@pytest.mark.parametrize("body", [
    {"apiKeyId": "mk-1", "teamId": "team-a", "scope": "SCOPE_TEAM", "scopeId": "team-a", "name": "ci"},
    {"valid": True, "teamIds": ["team-a"]},
])
def test_validate_over_http_reads_either_shape(body: dict[str, Any]) -> None:
    async def scenario() -> ManagementKeyInfo:
        async with _mock_client(lambda _: httpx.Response(200, json=body)) as c:
            return await c.validate()

    assert asyncio.run(scenario()).team_ids == ("team-a",)


def test_a_validation_that_says_not_valid_is_a_rejection() -> None:
    async def scenario() -> None:
        async with _mock_client(lambda _: httpx.Response(200, json={"valid": False})) as c:
            await c.validate()

    with pytest.raises(XaiManagementError) as caught:
        asyncio.run(scenario())
    assert caught.value.status == 401 and "Management Keys" in (caught.value.hint or "")


def test_endpoints_and_rotate_read_their_assumed_shapes() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.raw_path.decode()}")
        if request.url.path.endswith("/endpoints"):
            return httpx.Response(200, json={"endpoints": [{"name": "chat"}, "image", {"x": 1}, 3]})
        return httpx.Response(200, json={"apiKeyId": "k/1", "apiKey": "xai-" + "r" * 80})

    async def scenario() -> tuple[list[str], XaiApiKey]:
        async with _mock_client(handler) as c:
            return await c.team_endpoints("team-a"), await c.rotate_key("k/1")

    endpoints, rotated = asyncio.run(scenario())
    assert endpoints == ["chat", "image"]
    assert rotated.secret is not None and rotated.secret.reveal() == "xai-" + "r" * 80
    assert seen == ["GET /auth/teams/team-a/endpoints", "POST /auth/api-keys/k%2F1/rotate"]


def test_a_lost_rotate_is_never_replayed() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        return httpx.Response(503, json={"code": "unavailable", "error": "try later"})

    async def scenario() -> None:
        async with _mock_client(handler) as c:
            await c.rotate_key("k1")

    with pytest.raises(OutcomeUnknown):
        asyncio.run(scenario())
    assert calls == ["POST"]


def test_key_objects_ignore_unknown_fields_and_tolerate_missing_ones() -> None:
    key = XaiApiKey.from_wire({"apiKeyId": "k1", "somethingNew": {"x": 1}, "tpm": "n/a",
                               "createTime": "2026-01-01T00:00:00.123456789Z"})
    assert key.api_key_id == "k1" and key.tpm is None and key.secret is None
    assert key.created_at == datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    with pytest.raises(ValueError, match="apiKeyId"):
        XaiApiKey.from_wire({"name": "no id"})


# -- the canary: the management key never leaks -------------------------------------------------------
def test_canary_management_key_never_in_errors_or_debug_logs(
        emulator_url: str, caplog: pytest.LogCaptureFixture) -> None:
    canary = f"mgmt-CANARY-{uuid.uuid4().hex}"  # not shaped like any key: only the value can catch it
    httpx.post(f"{emulator_url}/_emulator/world", json={"xai": {
        "management_keys": [{"token": canary, "teams": [f"team-canary-{canary[-6:]}"]}]}}
    ).raise_for_status()
    team = XaiTeam(id=f"team-canary-{canary[-6:]}", token=canary, emulator_url=emulator_url,
                   other_team="team-elsewhere")
    errors: list[BaseException] = []

    async def attempt(call: Awaitable[Any]) -> None:
        try:
            await call
        except (MxsyncError, ValueError) as exc:
            errors.append(exc)

    async def scenario(c: XaiManagementClient) -> None:
        key = await c.create_key(team.id, name="canary", acls=MINT_ACLS)
        await attempt(c.list_keys(team.other_team))                              # 403
        await attempt(c.create_key(team.id, name="", acls=MINT_ACLS))            # 400
        await attempt(c.delete_key("nope"))                                      # 404 -> False
        await attempt(c.set_disabled("nope"))                                    # 404
        await attempt(c.request("GET", "/auth/management-keys/validation/"))     # 404
        team.faults({"lost-response": 1.0})
        try:
            await attempt(c.create_key(team.id, name="lost", acls=MINT_ACLS))   # outcome unknown
        finally:
            team.faults({})
        assert key.secret is not None
        errors.append(RuntimeError(repr(key)))

    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    run(team, scenario)
    echo = _echoing_server_error(canary, caplog)
    assert len(errors) == 6 and echo
    for text in [caplog.text, *(str(e) for e in errors), *(repr(e) for e in errors), echo]:
        assert canary not in text
    assert "xai " in caplog.text  # the client's own debug lines were there to be read


def _echoing_server_error(canary: str, caplog: pytest.LogCaptureFixture) -> str:
    """A server that echoes the Authorization header in its error text: the client scrubs it."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"code": "denied",
                                         "error": f"key {request.headers['authorization']} denied"})

    async def scenario() -> str:
        async with XaiManagementClient(Secret(canary), "https://management-api.x.ai",
                                       transport=httpx.MockTransport(handler)) as c:
            try:
                await c.validate()
            except XaiManagementError as exc:
                return f"{exc} {exc!r} {exc.detail} {exc.code}"
        return ""

    return asyncio.run(scenario())


# -- a misbehaving server ---------------------------------------------------------------------
class _Trickle(httpx.AsyncByteStream):
    """A body that never ends, one byte at a time: per-read timeouts alone never fire."""

    async def __aiter__(self) -> Any:
        while True:
            await asyncio.sleep(0.02)
            yield b" "


def _mock_client(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any
                 ) -> XaiManagementClient:
    return XaiManagementClient(Secret("mgmt-mock"), "https://management-api.x.ai", retry=FAST,
                               transport=httpx.MockTransport(handler), **kwargs)


@pytest.mark.parametrize("server", ["flood", "trickle"])
def test_a_flooding_or_trickling_answer_is_bounded(server: str) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if server == "flood":
            return httpx.Response(200, content=b"[" + b"0," * 600_000 + b"0]")
        return httpx.Response(200, stream=_Trickle())

    async def scenario() -> tuple[BaseException, BaseException]:
        async with _mock_client(handler, timeout_s=0.2, max_answer_bytes=1_000_000) as c:
            with pytest.raises(MxsyncError) as read:
                await c.list_keys("team-x")
            before = len(calls)
            with pytest.raises(OutcomeUnknown) as create:
                await c.create_key("team-x", name="k", acls=MINT_ACLS)
            assert len(calls) - before == 1  # the create is never sent twice
            return read.value, create.value

    read, create = asyncio.run(scenario())
    if server == "flood":
        assert isinstance(read, XaiManagementError) and "1,000,000" in str(read)
    else:
        assert isinstance(read, Unreachable)  # retried, then given up
    assert "by name" in (create.hint or "")


def test_plain_http_to_loopback_ignores_proxy_variables(
        team: XaiTeam, monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy would read the key on plain http; the emulator is reached directly."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{dead}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert team.id in run(team, lambda c: c.validate()).team_ids
