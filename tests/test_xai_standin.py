"""The built-in xAI stand-in answers as the real `api.x.ai` does, seen through ModuleX.

Each case goes over HTTP through ModuleX's own test routes, the way mxsync meets
it: the ModuleX call answers 200 with `is_valid: false`, xAI's status code and
xAI's text, and never the key.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import OrgFactory, TestOrg, fake_key

UNFUNDED_TEXT = "has either used all available credits or reached its monthly spending limit"


def org_with_xai(new_org: OrgFactory, emulator_url: str, **lists: list[str]) -> TestOrg:
    org = new_org()
    httpx.post(f"{emulator_url}/_emulator/world", json={"xai": lists}).raise_for_status()
    return org


def temporary_test(org: TestOrg, key: str) -> dict[str, Any]:
    with org.client() as c:
        r = c.post("/credentials/test-temporary", json={
            "integration_name": "xai", "auth_type": "api_key", "auth_data": {"api_key": key}})
    assert r.status_code == 200
    assert key not in r.text
    return r.json()


@pytest.mark.parametrize(("listing", "status", "text"), [
    ("invalid_keys", 400, "Incorrect API key provided: xa***"),
    ("unfunded_keys", 429, UNFUNDED_TEXT),  # as xAI answers chat completions
    ("disabled_keys", 403, "is disabled"),
    ("rate_limited_keys", 429, "exceeded its rate limit"),
])
def test_temporary_test_carries_xais_status_and_text(
        new_org: OrgFactory, emulator_url: str, listing: str, status: int, text: str) -> None:
    key = fake_key(listing.split("_")[0])
    org = org_with_xai(new_org, emulator_url, **{listing: [key]})
    body = temporary_test(org, key)
    assert body["is_valid"] is False
    assert body["status_code"] == status
    assert text in body["message"] and f"HTTP {status}" in body["message"]


def test_a_key_no_fixture_lists_is_valid(new_org: OrgFactory) -> None:
    body = temporary_test(new_org(), fake_key())
    assert body["is_valid"] is True and body["status_code"] == 200
    assert body["message"] == "Connection successful"


def test_stored_test_reports_xais_text(new_org: OrgFactory, emulator_url: str) -> None:
    key = fake_key("unfunded")
    org = org_with_xai(new_org, emulator_url, unfunded_keys=[key])
    with org.client() as c:
        created = c.post("/credentials", json={"integration_name": "xai", "auth_data": {"api_key": key}})
        result = c.post(f"/credentials/{created.json()['credential_id']}/test")
    assert result.status_code == 200 and key not in result.text
    body = result.json()
    assert body["is_valid"] is False
    assert "HTTP 429" in body["message"] and UNFUNDED_TEXT in body["message"]


def test_standin_refuses_malformed_keys_with_400(emulator_url: str) -> None:
    """ModuleX checks the pattern before testing, so this one is asked of the stand-in itself."""
    for header in ({"Authorization": "Bearer sk-not-an-xai-key"}, {}):
        r = httpx.post(f"{emulator_url}/v1/chat/completions", headers=header,
                       json={"model": "grok-4-fast", "messages": []})
        assert r.status_code == 400
        assert r.json()["code"] == "Client specified an invalid argument"
        assert r.json()["error"].startswith("Incorrect API key provided")
        assert "sk-not-an-xai-key" not in r.text


def test_api_key_info_costs_nothing_and_says_400_for_a_bad_key(
        new_org: OrgFactory, emulator_url: str) -> None:
    revoked, disabled, good = fake_key("revoked"), fake_key("disabled"), fake_key()
    org_with_xai(new_org, emulator_url, invalid_keys=[revoked], disabled_keys=[disabled])

    def info(key: str) -> httpx.Response:
        return httpx.get(f"{emulator_url}/v1/api-key", headers={"Authorization": f"Bearer {key}"})

    ok = info(good)
    assert ok.status_code == 200
    body = ok.json()
    assert set(body) == {"redacted_api_key", "api_key_id", "team_id", "user_id", "name", "acls",
                         "api_key_blocked", "api_key_disabled", "team_blocked", "create_time",
                         "modify_time", "modified_by"}
    assert body["redacted_api_key"] == f"xai-...{good[-4:]}" and good not in ok.text
    assert body["api_key_disabled"] is False
    assert info(good).json()["api_key_id"] == body["api_key_id"]  # stable per key
    assert info(disabled).json()["api_key_disabled"] is True
    assert info(revoked).status_code == 400
    stats = httpx.get(f"{emulator_url}/_emulator/stats").json()
    assert "GET /v1/api-key" not in stats["routes"]  # the stand-in is outside the ModuleX counts
