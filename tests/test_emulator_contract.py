"""The emulator against the ModuleX API contract, rule by rule, over real HTTP."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import OrgFactory, TestOrg, fake_key

CRED_FIELDS = {
    "credential_id", "integration_name", "integration_type", "display_name", "auth_type",
    "is_default", "created_at", "updated_at", "last_used_at", "expires_at", "credentials_metadata",
}


def create(org: TestOrg, key: str | None = None, **body: object) -> httpx.Response:
    payload = {"integration_name": "xai", "auth_data": {"api_key": key or fake_key()}, **body}
    with org.client() as c:
        return c.post("/credentials", json=payload)


# -- auth and roles ------------------------------------------------------------------------
def test_health_needs_no_auth(emulator_url: str) -> None:
    body = httpx.get(f"{emulator_url}/system/health").json()
    assert body["status"] == "healthy" and set(body) == {"status", "service", "version"}


@pytest.mark.parametrize(
    ("headers", "detail_part"),
    [
        ({}, "Not authenticated"),
        ({"Authorization": "Bearer mx_live_nobody"}, "Invalid API key"),
        ({"Authorization": "Basic abc"}, "Invalid authentication"),
    ],
)
def test_401_without_a_valid_token(emulator_url: str, new_org: OrgFactory,
                                   headers: dict[str, str], detail_part: str) -> None:
    org = new_org()
    r = httpx.get(f"{emulator_url}/credentials", headers={**headers, "X-Organization-ID": org.id})
    assert r.status_code == 401
    assert detail_part in r.json()["detail"]


def test_400_without_org_header_by_default(new_org: OrgFactory) -> None:
    """The API reference's answer; `--missing-org-status 401` (test_emulator_defaults) gives
    the product page's."""
    org = new_org()
    r = httpx.get(f"{org.url}/credentials", headers={"Authorization": f"Bearer {org.token}"})
    assert r.status_code == 400
    assert "X-Organization-ID" in r.json()["detail"]


@pytest.mark.parametrize("member", [True, False], ids=["member", "non-member"])
def test_403_for_member_or_non_member(new_org: OrgFactory, member: bool) -> None:
    org = new_org(role="member") if member else new_org()
    target = org.id if member else new_org().id
    for path in ("/credentials", "/integrations/llm-providers/xai"):
        r = httpx.get(f"{org.url}{path}",
                      headers={"Authorization": f"Bearer {org.token}", "X-Organization-ID": target})
        assert r.status_code == 403, path
        assert isinstance(r.json()["detail"], str)


def test_admin_role_may_manage(new_org: OrgFactory) -> None:
    org = new_org(role="admin")
    assert create(org).status_code == 201


def test_me_and_my_organizations(new_org: OrgFactory) -> None:
    org = new_org(extra_memberships={"org-elsewhere": "member"})
    auth = {"Authorization": f"Bearer {org.token}"}
    me = httpx.get(f"{org.url}/auth/me", headers=auth).json()
    assert set(me) >= {"id", "email", "username", "role", "is_active", "organization_ids",
                       "primary_organization_id"}
    assert set(me["organization_ids"]) == {org.id, "org-elsewhere"}
    body = httpx.get(f"{org.url}/auth/me/organizations", headers=auth).json()
    assert body["success"] is True and body["total"] == 2
    roles = {o["id"]: o["role"] for o in body["organizations"]}
    assert roles == {org.id: "owner", "org-elsewhere": "member"}
    assert set(body["organizations"][0]) >= {"id", "name", "slug", "domain", "role", "joined_at",
                                             "is_default"}
    only_members = httpx.get(f"{org.url}/auth/me/organizations", headers=auth,
                             params={"role": "member"}).json()
    assert [o["id"] for o in only_members["organizations"]] == ["org-elsewhere"]


# -- create and defaults ----------------------------------------------------------------------
def test_create_returns_the_record_without_the_secret(new_org: OrgFactory) -> None:
    org = new_org()
    key = fake_key()
    r = create(org, key, display_name="primary", metadata={"team": "ml"})
    assert r.status_code == 201
    body = r.json()
    assert set(body) == CRED_FIELDS
    assert body["integration_type"] == "llm" and body["auth_type"] == "api_key"
    assert body["display_name"] == "primary"
    assert body["credentials_metadata"] == {"team": "ml"}
    assert key not in r.text


def test_display_name_defaults_to_xai(new_org: OrgFactory) -> None:
    assert create(new_org()).json()["display_name"] == "xAI"


def test_first_credential_becomes_default_and_make_default_moves_it(new_org: OrgFactory) -> None:
    org = new_org()
    first = create(org).json()
    assert first["is_default"] is True
    second = create(org).json()
    assert second["is_default"] is False
    third = create(org, make_default=True).json()
    assert third["is_default"] is True
    defaults = [c["credential_id"] for c in org.xai() if c["is_default"]]
    assert defaults == [third["credential_id"]]


@pytest.mark.parametrize(
    ("auth_data", "detail_part"),
    [
        ({"api_key": "xai-short"}, "api_key"),
        ({"api_key": "sk-notxai000000000000000000000"}, "api_key"),
        ({"api_key": fake_key(), "base_url": "ftp://gateway"}, "base_url"),
        ({}, "api_key"),
    ],
)
def test_create_rejects_bad_auth_data_with_400(new_org: OrgFactory, auth_data: dict,
                                                detail_part: str) -> None:
    org = new_org()
    with org.client() as c:
        r = c.post("/credentials", json={"integration_name": "xai", "auth_data": auth_data})
    assert r.status_code == 400
    assert detail_part in r.json()["detail"]
    assert "xai-short" not in r.text  # the value is never echoed
    assert org.xai() == []


def test_create_without_integration_name_is_422(new_org: OrgFactory) -> None:
    org = new_org()
    with org.client() as c:
        r = c.post("/credentials", json={"auth_data": {"api_key": fake_key()}})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert isinstance(detail, list) and {"loc", "msg", "type"} <= set(detail[0])


def test_expires_at_is_stored_and_returned(new_org: OrgFactory) -> None:
    org = new_org()
    body = create(org, expires_at="2027-06-01T00:00:00+00:00").json()
    assert body["expires_at"].startswith("2027-06-01T00:00:00")


# -- list -------------------------------------------------------------------------------------
def test_grouped_and_flat_lists(new_org: OrgFactory) -> None:
    org = new_org(credentials=[{"integration_name": "openai", "api_key": "sk-1",
                                "display_name": "oa"}])
    create(org, display_name="a")
    create(org, display_name="b")
    with org.client() as c:
        grouped = c.get("/credentials").json()
        flat = c.get("/credentials", params={"integration_name": "xai"}).json()
    assert grouped["total_credentials"] == 3 and grouped["total_integrations"] == 2
    xai = grouped["integrations"]["xai"]
    assert xai["integration_type"] == "llm" and xai["total_count"] == 2
    assert xai["auth_types"] == ["api_key"]
    assert [c["display_name"] for c in xai["credentials"]] == ["a", "b"]
    assert set(grouped["filters"]) >= {"integration_name", "auth_type", "limit", "offset"}
    assert flat["integration_name"] == "xai" and flat["total_count"] == 2
    assert [c["display_name"] for c in flat["credentials"]] == ["a", "b"]


def test_paging_with_offset_and_total_count(new_org: OrgFactory) -> None:
    org = new_org()
    for i in range(5):
        create(org, display_name=f"c{i}")
    names = []
    with org.client() as c:
        for offset in (0, 2, 4):
            page = c.get("/credentials", params={"integration_name": "xai", "limit": 2,
                                                 "offset": offset}).json()
            assert page["total_count"] == 5
            names += [x["display_name"] for x in page["credentials"]]
    assert names == [f"c{i}" for i in range(5)]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"offset": -1},
                                    {"limit": "many"}])
def test_list_parameter_validation_is_422(new_org: OrgFactory, params: dict) -> None:
    org = new_org()
    with org.client() as c:
        r = c.get("/credentials", params=params)
    assert r.status_code == 422
    assert isinstance(r.json()["detail"], list)


def test_limit_500_is_allowed(new_org: OrgFactory) -> None:
    with new_org().client() as c:
        assert c.get("/credentials", params={"limit": 500}).status_code == 200


# -- detail, update, delete, set-default ----------------------------------------------------
def test_detail_masks_only_when_asked(new_org: OrgFactory) -> None:
    org = new_org()
    key = fake_key()
    cid = create(org, key).json()["credential_id"]
    with org.client() as c:
        plain = c.get(f"/credentials/{cid}").json()
        masked = c.get(f"/credentials/{cid}", params={"include_masked": "true"}).json()
    assert plain["auth_data_masked"] is None
    assert plain["organization_id"] == org.id
    assert plain["created_by"] and plain["created_by_email"]
    head, _, tail = masked["auth_data_masked"].partition("...")
    assert key.startswith(head) and key.endswith(tail) and len(head) + len(tail) < len(key)
    assert key not in str(masked)


def test_unknown_or_foreign_credential_is_404(new_org: OrgFactory) -> None:
    org, other = new_org(), new_org()
    foreign = create(other).json()["credential_id"]
    with org.client() as c:
        for cid in ("00000000-0000-0000-0000-000000000000", foreign):
            assert c.get(f"/credentials/{cid}").status_code == 404
            assert c.delete(f"/credentials/{cid}").status_code == 404
            assert c.put(f"/credentials/{cid}", json={"display_name": "x"}).status_code == 404
    assert len(other.xai()) == 1


def test_update_replaces_metadata_whole(new_org: OrgFactory) -> None:
    org = new_org()
    cid = create(org, metadata={"a": "1", "b": "2"}).json()["credential_id"]
    with org.client() as c:
        body = c.put(f"/credentials/{cid}", json={"metadata": {"c": "3"}}).json()
        assert body["credentials_metadata"] == {"c": "3"}
        body = c.put(f"/credentials/{cid}", json={"display_name": "renamed"}).json()
    assert body["display_name"] == "renamed"
    assert body["credentials_metadata"] == {"c": "3"}


def test_delete_default_leaves_no_default(new_org: OrgFactory) -> None:
    org = new_org()
    first = create(org).json()["credential_id"]
    create(org)
    with org.client() as c:
        r = c.delete(f"/credentials/{first}")
    assert r.status_code == 204 and r.content == b""
    remaining = org.xai()
    assert len(remaining) == 1 and not remaining[0]["is_default"]


def test_set_default_unsets_the_previous(new_org: OrgFactory) -> None:
    org = new_org()
    first = create(org).json()["credential_id"]
    second = create(org).json()["credential_id"]
    with org.client() as c:
        body = c.post(f"/credentials/{second}/set-default").json()
    assert body["is_default"] is True
    assert {c["credential_id"]: c["is_default"] for c in org.xai()} == {first: False, second: True}


def test_one_default_per_integration(new_org: OrgFactory) -> None:
    org = new_org(credentials=[{"integration_name": "openai", "api_key": "sk-x",
                                "is_default": True}])
    create(org)  # first xai credential: default of xai, openai's default stays
    with org.client() as c:
        groups = c.get("/credentials").json()["integrations"]
    assert groups["openai"]["credentials"][0]["is_default"] is True
    assert groups["xai"]["credentials"][0]["is_default"] is True


# -- tests of keys ----------------------------------------------------------------------------
def test_test_temporary_valid_and_rejected(new_org: OrgFactory) -> None:
    revoked = fake_key("revoked")
    org = new_org(invalid_keys=[revoked])
    with org.client() as c:
        ok = c.post("/credentials/test-temporary", json={
            "integration_name": "xai", "auth_type": "api_key", "auth_data": {"api_key": fake_key()}})
        bad = c.post("/credentials/test-temporary", json={
            "integration_name": "xai", "auth_type": "api_key", "auth_data": {"api_key": revoked}})
        gw = c.post("/credentials/test-temporary", json={
            "integration_name": "xai", "auth_type": "api_key",
            "auth_data": {"api_key": fake_key(), "base_url": "https://gw.example.com/v1"}})
    assert ok.status_code == 200
    body = ok.json()
    assert body["is_valid"] is True and body["status_code"] == 200
    assert body["test_method"] == "api_call" and body["cost_level"] == "minimal"
    assert body["test_endpoint"] == "https://api.x.ai/v1/chat/completions"
    assert body["integration_name"] == "xai" and body["auth_type"] == "api_key"
    assert bad.status_code == 200
    assert bad.json()["is_valid"] is False and bad.json()["status_code"] == 400
    assert revoked not in bad.text
    assert gw.json()["test_endpoint"] == "https://gw.example.com/v1/chat/completions"
    assert org.xai() == []  # nothing stored


def test_test_stored_credential(new_org: OrgFactory) -> None:
    revoked = fake_key("revoked")
    org = new_org(invalid_keys=[revoked])
    good = create(org).json()["credential_id"]
    bad = create(org, revoked).json()["credential_id"]
    with org.client() as c:
        rg = c.post(f"/credentials/{good}/test").json()
        rb = c.post(f"/credentials/{bad}/test").json()
    assert rg["credential_id"] == good and rg["is_valid"] is True and rg["tested_at"]
    assert rb["is_valid"] is False and isinstance(rb["message"], str)


# -- catalog ----------------------------------------------------------------------------------
def test_catalog_lists_three_grok_models(new_org: OrgFactory) -> None:
    org = new_org()
    with org.client() as c:
        providers = c.get("/integrations/llm-providers").json()
        detail = c.get("/integrations/llm-providers/xai").json()
        unknown = c.get("/integrations/llm-providers/nope")
        tool = c.get("/integrations/tools/xai")
    assert "xai" in {p["name"] for p in providers}
    assert detail["name"] == "xai" and detail["integration_type"] == "llm"
    models = {m["id"]: m for m in detail["models"]}
    assert set(models) == {"grok-4-0709", "grok-code-fast-1", "grok-4-fast"}
    assert models["grok-4-fast"]["max_input_tokens"] == 2_000_000
    assert models["grok-code-fast-1"]["supports_vision"] is False
    assert models["grok-4-0709"]["pricing"] == {"input_per_million": 3.0,
                                                "output_per_million": 15.0, "currency": "USD"}
    fields = {f["name"] for f in detail["auth_schemas"][0]["setup_environment_variables"]}
    assert detail["auth_schemas"][0]["auth_type"] == "api_key" and fields == {"api_key", "base_url"}
    assert unknown.status_code == 404 and unknown.json() == {"detail": "LLM provider not found"}
    assert tool.status_code == 400 and "not a tool" in tool.json()["detail"]


# -- stats ------------------------------------------------------------------------------------
def test_stats_count_by_route_template(new_org: OrgFactory) -> None:
    org = new_org()
    cid = create(org).json()["credential_id"]
    before = httpx.get(f"{org.url}/_emulator/stats").json()
    with org.client() as c:
        c.get(f"/credentials/{cid}")
        c.get(f"/credentials/{cid}")
        c.get("/system/health")
    after = httpx.get(f"{org.url}/_emulator/stats").json()
    key = "GET /credentials/{credential_id}"
    assert after["routes"][key] - before["routes"].get(key, 0) == 2
    assert after["orgs"][org.id] - before["orgs"][org.id] == 2
    assert after["total"] - before["total"] == 2  # health is not counted
