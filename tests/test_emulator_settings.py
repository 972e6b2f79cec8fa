"""Org settings over real HTTP: which Grok models members see, and the Assistant's model
and credential (`/organizations/settings`), with the contract's shapes and rules."""

from __future__ import annotations

import asyncio

import httpx
import modulex
import pytest
from modulex.types.organizations import (
    ComposerLLMResponse,
    LLMModelVisibilityResponse,
    OrgSettingsResponse,
)

from tests.conftest import OrgFactory, TestOrg, fake_key

VISIBILITY = "/organizations/settings/llm-model-visibility"
COMPOSER = "/organizations/settings/composer-llm"


def settings(org: TestOrg) -> dict:
    with org.client() as c:
        r = c.get("/organizations/settings")
    r.raise_for_status()
    return r.json()


def put(org: TestOrg, path: str, body: dict) -> httpx.Response:
    with org.client() as c:
        return c.put(path, json=body)


def settings_creds(org: TestOrg) -> list[dict]:
    with org.client() as c:
        groups = c.get("/credentials").json()["integrations"]
    return [cred for group in groups.values() for cred in group["credentials"]]


def composer(model: str = "grok-4-fast", credential_id: str | None = None) -> dict:
    body = {"integration_name": "xai", "provider_id": "xai", "model_id": model}
    return {**body, "credential_id": credential_id} if credential_id else body


def test_a_new_org_has_no_settings(new_org: OrgFactory) -> None:
    assert settings(new_org()) == {"llm_model_visibility": {}, "composer_llm": None}


def test_model_visibility_set_and_reset(new_org: OrgFactory) -> None:
    org = new_org()
    r = put(org, VISIBILITY, {"integration_name": "xai", "models": [
        {"id": "grok-4-fast"}, {"id": "grok-code-fast-1", "display_name": "Code"}]})
    assert r.status_code == 200
    expected = {"xai": [{"id": "grok-4-fast", "display_name": "Grok 4 Fast"},
                        {"id": "grok-code-fast-1", "display_name": "Code"}]}
    assert r.json() == {"llm_model_visibility": expected}
    assert settings(org)["llm_model_visibility"] == expected
    # An empty list goes back to the provider's full list: the integration is left out.
    reset = put(org, VISIBILITY, {"integration_name": "xai", "models": []})
    assert reset.json() == {"llm_model_visibility": {}}
    assert settings(org)["llm_model_visibility"] == {}


@pytest.mark.parametrize(("body", "status", "detail_part"), [
    ({"integration_name": "xai", "models": [{"id": "grok-9"}]}, 400, "grok-9"),
    ({"integration_name": "openai", "models": [{"id": "grok-4-fast"}]}, 400, "grok-4-fast"),
    ({"integration_name": "github", "models": []}, 400, "Unknown LLM integration"),
    ({"integration_name": "xai", "models": [{"id": "grok-4-fast"}, {"id": "grok-4-fast"}]},
     400, "only once"),
    ({"integration_name": "xai"}, 422, None),
])
def test_model_visibility_rejects_what_the_catalog_does_not_have(
        new_org: OrgFactory, body: dict, status: int, detail_part: str | None) -> None:
    org = new_org()
    r = put(org, VISIBILITY, body)
    assert r.status_code == status
    if detail_part:
        assert detail_part in r.json()["detail"]
    assert settings(org)["llm_model_visibility"] == {}  # nothing changed


def test_composer_llm_pins_a_credential_of_this_org(new_org: OrgFactory) -> None:
    org = new_org(credentials=[
        {"integration_name": "xai", "display_name": "primary", "api_key": fake_key()},
        {"integration_name": "openai", "display_name": "oa", "api_key": "sk-not-xai"}])
    ids = {c["display_name"]: c["credential_id"] for c in settings_creds(org)}
    foreign = new_org(credentials=[{"integration_name": "xai", "api_key": fake_key()}])
    r = put(org, COMPOSER, composer(credential_id=ids["primary"]))
    pinned = {"integration_name": "xai", "provider_id": "xai", "model_id": "grok-4-fast",
              "credential_id": ids["primary"]}
    assert r.status_code == 200 and r.json() == {"composer_llm": pinned}
    for bad in (composer(credential_id=ids["oa"]),                      # another integration
                composer(credential_id=foreign.xai()[0]["credential_id"]),  # another org
                composer(credential_id="no-such-credential"),
                composer(model="grok-9")):
        refused = put(org, COMPOSER, bad)
        assert refused.status_code == 400, bad
        assert isinstance(refused.json()["detail"], str)
    assert settings(org)["composer_llm"] == pinned  # refused changes change nothing
    unpinned = put(org, COMPOSER, composer(model="grok-code-fast-1")).json()["composer_llm"]
    assert unpinned["credential_id"] is None and unpinned["model_id"] == "grok-code-fast-1"


def test_deleting_the_pinned_credential_leaves_the_pin_dangling(new_org: OrgFactory) -> None:
    org = new_org(credentials=[{"integration_name": "xai", "api_key": fake_key()}])
    cid = org.xai()[0]["credential_id"]
    put(org, COMPOSER, composer(credential_id=cid)).raise_for_status()
    with org.client() as c:
        assert c.delete(f"/credentials/{cid}").status_code == 204
    assert settings(org)["composer_llm"]["credential_id"] == cid  # the worst case


@pytest.mark.parametrize(("role", "expected"), [("member", 403), ("admin", 200)])
def test_settings_need_owner_or_admin(new_org: OrgFactory, role: str, expected: int) -> None:
    org = new_org(role=role)
    with org.client() as c:
        answers = [c.get("/organizations/settings"),
                   c.put(VISIBILITY, json={"integration_name": "xai", "models": []}),
                   c.put(COMPOSER, json=composer())]
    assert [r.status_code for r in answers] == [expected] * 3


def test_a_fixture_org_carries_its_settings_as_given(new_org: OrgFactory) -> None:
    """Loaded to the letter, even a pin on a credential that does not exist."""
    given = {"llm_model_visibility": {"xai": [{"id": "grok-4-0709", "display_name": "Grok 4"}]},
             "composer_llm": {"integration_name": "xai", "provider_id": "xai",
                              "model_id": "grok-4-0709", "credential_id": "gone-credential"}}
    org = new_org(org_fields={"settings": given})
    assert settings(org) == given


def test_a_malformed_fixture_setting_is_refused(emulator_url: str) -> None:
    r = httpx.post(f"{emulator_url}/_emulator/world", json={"orgs": [
        {"id": "org-bad-settings", "settings": {"llm_model_visibility": {"xai": ["grok-4"]}}}]})
    assert r.status_code == 422 and "llm_model_visibility.xai" in r.json()["detail"]


def test_the_sdk_parses_the_settings(new_org: OrgFactory) -> None:
    org = new_org(credentials=[{"integration_name": "xai", "api_key": fake_key()}])
    cid = org.xai()[0]["credential_id"]

    async def scenario() -> None:
        async with modulex.Modulex(api_key=org.token, organization_id=org.id,
                                   base_url=org.url) as sdk:
            visible = await sdk.organizations.set_llm_model_visibility(
                "xai", [{"id": "grok-4-fast"}])
            assert isinstance(visible, LLMModelVisibilityResponse)
            assert [m.id for m in visible.llm_model_visibility["xai"]] == ["grok-4-fast"]
            pinned = await sdk.organizations.set_composer_llm(
                "xai", "xai", "grok-4-fast", credential_id=cid)
            assert isinstance(pinned, ComposerLLMResponse)
            assert pinned.composer_llm and pinned.composer_llm.credential_id == cid
            read = await sdk.organizations.get_settings()
            assert isinstance(read, OrgSettingsResponse)
            assert read.composer_llm and read.composer_llm.model_id == "grok-4-fast"

    asyncio.run(scenario())
