"""Every answer is checked before use; error answers are read for what they mean.

A wrong shape is a MalformedAnswer naming the endpoint and what was wrong (never a
KeyError or TypeError); paging believes `total_count`, not short pages, within a bound;
a missing organization is recognised as 400 or 401; a 409 is a conflict; a billing
denial shows its reason."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mxsync.answers import describe_error
from mxsync.api import ApiError, MalformedAnswer, ModulexClient, OutcomeUnknown
from mxsync.secrets import Secret
from tests.conftest import OrgFactory
from tests.hostile.client import CANARY_TOKEN, outcome, with_client
from tests.hostile.server import HostileServer, Reply, Seen, canned, json_reply

TOKEN = Secret(CANARY_TOKEN)


def _nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


def _record(n: int) -> dict[str, Any]:
    return {"credential_id": f"c-{n}", "display_name": f"k{n}", "credentials_metadata": {}}


def _malformed(body: Any, call: Any) -> MalformedAnswer:
    reply = body if isinstance(body, Reply) else json_reply(body)
    with HostileServer(canned([reply])) as server:
        error = outcome(server.url, call)
    assert isinstance(error, MalformedAnswer), repr(error)
    return error


def _orgs(client: ModulexClient) -> Any:
    return client.my_organizations(TOKEN)


def _creds(client: ModulexClient) -> Any:
    return client.list_credentials(TOKEN, "org-a")


@pytest.mark.parametrize(("body", "call", "what"), [
    ([{"id": "org-a"}], _orgs, "the answer is a list, expected an object"),
    ({"organizations": {"id": "org-a"}}, _orgs, "'organizations' is an object, expected a list"),
    ({"orgs": []}, _orgs, "'organizations' is missing, expected a list"),
    ({"organizations": ["org-a"]}, _orgs, "'organizations'[0] is a string, expected an object"),
    ({"organizations": [{"name": "A"}]}, _orgs, "'organizations'[0] has no usable 'id' (missing)"),
    ({"credentials": [_record(1), {"display_name": "x"}], "total_count": 2}, _creds,
     "'credentials'[1] has no usable 'credential_id' (missing)"),
    ({"credentials": [_record(1), 7]}, _creds, "'credentials'[1] is a number, expected an object"),
    ({"credentials": [{"credential_id": 12}]}, _creds, "has no usable 'credential_id' (a number)"),
    ({"credentials": [{**_record(1), "credentials_metadata": ["a"]}]}, _creds,
     "'credentials_metadata' is a list, expected an object"),
    ({"credentials": [], "total_count": "5"}, _creds, "'total_count' is a string, expected a count"),
    (Reply(200, {"content-type": "application/json"}, b"[" * 100_000 + b"]" * 100_000), _orgs,
     "nested deeper than 64 levels"),
    ({"organizations": [{"id": "o", "x": _nested(100)}]}, _orgs, "nested deeper than 64 levels"),
    (Reply(200, {"content-type": "text/html"}, b"<html>proxy login</html>"), _orgs,
     "the answer is not JSON"),
])
def test_a_wrong_shape_names_the_endpoint_and_the_fault(body: Any, call: Any, what: str) -> None:
    error = _malformed(body, call)
    assert what in str(error)
    assert "ModuleX API GET /auth/me/organizations" in str(error) or "for org org-a" in str(error)


def test_a_malformed_detail_record_is_named() -> None:
    error = _malformed([], lambda c: c.get_credential(TOKEN, "org-a", "c-1"))
    assert "GET /credentials/c-1 for org org-a" in str(error)


def test_a_create_with_an_unusable_answer_is_an_unknown_outcome() -> None:
    """It may have been created: the executor must re-list, not create again blindly."""
    with HostileServer(canned([json_reply({"ok": True}, 201)])) as server:
        error = outcome(server.url, lambda c: c.create_credential(
            TOKEN, "org-a", key=Secret("xai-" + "m" * 30), base_url=None, display_name="m",
            metadata={}, make_default=False, expires_at=None))
    assert isinstance(error, OutcomeUnknown) and "credential_id" in str(error)
    assert server.count("POST", "/credentials") == 1


def _pager(records: int, cap: int, total: Any = "records") -> Any:
    """Pages capped at `cap` whatever `limit` asks; `total_count` as given."""
    def handle(seen: Seen) -> Reply:
        offset = int(seen.query["offset"])
        page = [_record(n) for n in range(offset, min(records, offset + cap))]
        body: dict[str, Any] = {"credentials": page, "integration_name": "xai"}
        if total == "records":
            body["total_count"] = records
        elif total is not None:
            body["total_count"] = total
        return json_reply(body)

    return handle


@pytest.mark.parametrize(("cap", "total", "calls"), [
    (2, "records", 3),  # short pages while total_count says more: keep going
    (500, "records", 1),
    (2, None, 4),  # no total_count: until an empty page
])
def test_paging_never_stops_at_a_short_page(cap: int, total: Any, calls: int) -> None:
    with HostileServer(_pager(5, cap, total)) as server:
        found = with_client(server.url, _creds)
    assert [r["credential_id"] for r in found] == [f"c-{n}" for n in range(5)]
    assert server.count("GET", "/credentials") == calls


def test_a_server_whose_total_never_comes_true_is_stopped() -> None:
    with HostileServer(_pager(10**9, 1, 10**9)) as server:
        error = outcome(server.url, _creds, max_pages=5)
    assert isinstance(error, MalformedAnswer)
    assert "paging did not end after 5 pages" in str(error) and "for org org-a" in str(error)
    assert server.count("GET", "/credentials") == 5


@pytest.mark.parametrize("status", [400, 401])
def test_a_missing_organization_is_read_as_such_from_400_or_401(status: int) -> None:
    reply = json_reply({"detail": "X-Organization-ID header is required"}, status)
    with HostileServer(canned([reply])) as server:
        error = outcome(server.url, _creds)
    assert isinstance(error, ApiError) and error.kind == "missing-org"
    assert "the organization is missing" in str(error) and "X-Organization-ID" in str(error)


def test_a_missing_organization_over_the_emulator(new_org: OrgFactory) -> None:
    org = new_org()

    async def call(client: ModulexClient) -> Any:
        return await client.request("GET", "/credentials", token=Secret(org.token))

    error = outcome(org.url, call)
    assert isinstance(error, ApiError) and error.kind == "missing-org"


def test_a_plain_401_is_not_a_missing_organization() -> None:
    with HostileServer(canned([json_reply({"detail": "Invalid API key"}, 401)])) as server:
        error = outcome(server.url, _orgs)
    assert isinstance(error, ApiError) and error.kind == "unauthorized"


def test_a_409_is_reported_as_a_conflict_with_the_service_text() -> None:
    reply = json_reply({"detail": "display name 'prod' is already taken"}, 409)
    with HostileServer(canned([reply])) as server:
        error = outcome(server.url, lambda c: c.update_credential(
            TOKEN, "org-a", "c-1", display_name="prod", metadata=None))
    assert isinstance(error, ApiError) and error.kind == "conflict"
    assert "answered 409 (a conflict): display name 'prod' is already taken" in str(error)
    assert len(server.seen) == 1


ENVELOPE = {"code": "QUOTA_EXCEEDED", "layer": "org", "key": "requests_per_month",
            "current": 10000, "limit": 10000, "reason": "Monthly request limit reached"}


@pytest.mark.parametrize(("status", "body"), [
    (402, ENVELOPE), (403, {"detail": ENVELOPE}), (429, {"detail": ENVELOPE}),
])
def test_a_billing_denial_shows_its_reason(status: int, body: dict[str, Any]) -> None:
    headers = {"retry-after": "1000"} if status == 429 else {}
    with HostileServer(canned([json_reply(body, status, headers)])) as server:
        from mxsync._http.retry import RetryPolicy

        error = outcome(server.url, _orgs, retry=RetryPolicy(max_retry_after_s=5))
    assert isinstance(error, ApiError) and error.status == status
    assert "Monthly request limit reached (billing: QUOTA_EXCEEDED)" in str(error)


@pytest.mark.parametrize(("body", "expected"), [
    (b'{"detail": [{"loc": ["query", "limit"], "msg": "too small", "type": "x"}]}',
     "query.limit: too small"),
    (b'{"detail": {"reason": "no"}}', "no"),
    (b'{"reason": "over budget", "code": "B", "layer": "user"}', "over budget (billing: B)"),
    (b'{"detail": {"weird": 1}}', '{"weird": 1}'),
    (b'{"error": "x"}', "x"),
    (b'[1, 2]', "1; 2"),
    (b"", "Bad Gateway"),
    (b"plain\x1b[31mred\x07 text", "plain?[31mred? text"),
    (b"x" * 5000, "x" * 297 + "..."),
])
def test_describe_error(body: bytes, expected: str) -> None:
    assert describe_error(body, "Bad Gateway") == expected


def test_describe_error_redacts_before_cutting() -> None:
    secret = "a-token-of-no-known-shape-" + "s" * 40
    body = b"y" * 280 + secret.encode()
    text = describe_error(body, "", (secret,))
    assert "s" * 8 not in text and "(sensitive)" in text


def test_paging_stays_one_org(new_org: OrgFactory) -> None:
    """Over the emulator: a page size of 2 for 5 credentials gives them all, once each."""
    org = new_org(credentials=[
        {"integration_name": "xai", "display_name": f"k{i}", "api_key": "xai-" + f"{i}" * 24,
         "is_default": i == 0, "metadata": {}} for i in range(5)])

    async def call(client: ModulexClient) -> Any:
        return await client.list_credentials(Secret(org.token), org.id, page_size=2)

    found = asyncio.run(_with(org.url, call))
    assert sorted(r["display_name"] for r in found) == [f"k{i}" for i in range(5)]


async def _with(url: str, call: Any) -> Any:
    async with ModulexClient(url) as client:
        return await call(client)
