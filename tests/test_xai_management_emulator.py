"""The emulator's xAI Management API (`/xai-management`), over HTTP, against the contract doc.

A minted key is real to the inference stand-in, so most cases end with what
ModuleX's own key test says about it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import OrgFactory, TestOrg, start_emulator, stop_emulator
from tests.xai_helpers import MINT_ACLS, XaiTeam, new_team

KEY_FIELDS = {"apiKeyId", "name", "redactedApiKey", "teamId", "userId", "createTime", "modifyTime",
              "disabled", "expireTime", "qps", "qpm", "tpm", "aclStrings"}
CREATE_ROUTE = "POST /xai-management/auth/teams/{team_id}/api-keys"


@pytest.fixture
def team(emulator_url: str) -> XaiTeam:
    return new_team(emulator_url)


def key_test(org: TestOrg, key: str) -> dict[str, Any]:
    """ModuleX's test-temporary on a key: how mxsync would see it."""
    with org.client() as c:
        r = c.post("/credentials/test-temporary", json={
            "integration_name": "xai", "auth_type": "api_key", "auth_data": {"api_key": key}})
    r.raise_for_status()
    return dict(r.json())


def all_keys(team: XaiTeam) -> list[dict[str, Any]]:
    with team.client() as c:
        r = c.get(f"/auth/teams/{team.id}/api-keys", params={"pageSize": 100})
    r.raise_for_status()
    assert "paginationToken" not in r.json()
    return list(r.json()["apiKeys"])


def assert_xai_error(r: httpx.Response, status: int) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"code", "error"} and body["code"] and body["error"]


# -- create and list ------------------------------------------------------------------------
def test_create_returns_the_secret_once_and_the_key_works(team: XaiTeam, new_org: OrgFactory) -> None:
    created = team.mint("mxsync:acme:minted:1", qps=2, qpm=600, tpm="100000",
                        expireTime="2999-01-01T00:00:00Z")
    secret = created["apiKey"]
    assert set(created) == KEY_FIELDS | {"apiKey"}
    assert secret.startswith("xai-") and len(secret) == 84
    assert created["redactedApiKey"] == f"xai-...{secret[-4:]}"
    assert created["teamId"] == team.id and created["name"] == "mxsync:acme:minted:1"
    assert (created["qps"], created["qpm"], created["tpm"]) == (2, 600, "100000")
    assert created["aclStrings"] == MINT_ACLS and created["disabled"] is False
    assert created["expireTime"].startswith("2999-01-01T00:00:00")
    listed = all_keys(team)
    assert [k["apiKeyId"] for k in listed] == [created["apiKeyId"]]
    assert set(listed[0]) == KEY_FIELDS and secret not in str(listed)  # never again
    assert key_test(new_org(), secret)["is_valid"] is True


@pytest.mark.parametrize(("body", "why"), [
    ({"acls": MINT_ACLS}, "name is required"),
    ({"name": "  ", "acls": MINT_ACLS}, "name is required"),
    ({"name": "k", "acls": ["api-key:everything"]}, "invalid ACL"),
    ({"name": "k", "acls": "api-key:model:*"}, "acls must be a list"),
    ({"name": "k", "acls": MINT_ACLS, "qpm": -1}, "qpm must be"),
    ({"name": "k", "acls": MINT_ACLS, "expireTime": "next tuesday"}, "expireTime"),
])
def test_create_refuses_a_bad_body_with_400(team: XaiTeam, body: dict[str, Any], why: str) -> None:
    with team.client() as c:
        r = c.post(f"/auth/teams/{team.id}/api-keys", json=body)
    assert_xai_error(r, 400)
    assert why in r.json()["error"]
    assert all_keys(team) == []


def test_auth_errors_401_and_403(team: XaiTeam) -> None:
    with team.client("mgmt-not-a-key") as c:
        assert_xai_error(c.post(f"/auth/teams/{team.id}/api-keys", json={"name": "k"}), 401)
        assert_xai_error(c.get("/auth/management-keys/validation"), 401)
    with httpx.Client(base_url=team.url) as c:  # no Authorization at all
        assert_xai_error(c.get(f"/auth/teams/{team.id}/api-keys"), 401)
    with team.client() as c:
        assert_xai_error(c.post(f"/auth/teams/{team.other_team}/api-keys", json={"name": "k"}), 403)
        assert_xai_error(c.get(f"/auth/teams/{team.other_team}/api-keys"), 403)
        assert_xai_error(c.get(f"/auth/teams/{team.other_team}/models"), 403)
        assert_xai_error(c.get("/auth/teams/team-nobody-has/models"), 403)
        ok = c.get("/auth/management-keys/validation")
    assert ok.status_code == 200


def test_a_key_of_another_team_is_out_of_reach(emulator_url: str) -> None:
    mine, theirs = new_team(emulator_url), new_team(emulator_url)
    key_id = theirs.mint()["apiKeyId"]
    with mine.client() as c:
        assert_xai_error(c.delete(f"/auth/api-keys/{key_id}"), 403)
        assert_xai_error(c.put(f"/auth/api-keys/{key_id}", json={
            "apiKey": {"disabled": True}, "fieldMask": "disabled"}), 403)
    assert [k["apiKeyId"] for k in all_keys(theirs)] == [key_id]


def test_list_pages_by_token_and_a_delete_while_paging_skips_nothing(team: XaiTeam) -> None:
    ids = [team.mint(f"k{i}")["apiKeyId"] for i in range(7)]
    seen: list[str] = []
    tokens: list[str | None] = []
    token: str | None = None
    with team.client() as c:
        while True:
            params: dict[str, Any] = {"pageSize": 3}
            if token:
                params["paginationToken"] = token
            body = c.get(f"/auth/teams/{team.id}/api-keys", params=params).json()
            seen += [k["apiKeyId"] for k in body["apiKeys"]]
            token = body.get("paginationToken")
            tokens.append(token)
            if len(seen) == 3:  # between pages, a key already handed out goes away
                assert c.delete(f"/auth/api-keys/{ids[0]}").status_code == 200
            if not token:
                break
        assert seen == ids  # creation order, none skipped, none twice
        assert len(tokens) == 3 and tokens[-1] is None
        assert_xai_error(c.get(f"/auth/teams/{team.id}/api-keys", params={"pageSize": "many"}), 400)
        assert_xai_error(c.get(f"/auth/teams/{team.id}/api-keys",
                               params={"paginationToken": "not-a-token!"}), 400)


# -- update, delete, propagation --------------------------------------------------------------
def test_disable_refuses_then_enable_restores(team: XaiTeam, new_org: OrgFactory) -> None:
    created = team.mint()
    org = new_org()
    with team.client() as c:
        r = c.put(f"/auth/api-keys/{created['apiKeyId']}",
                  json={"apiKey": {"disabled": True, "name": "renamed"}, "fieldMask": "disabled,name"})
        assert r.status_code == 200 and r.json()["disabled"] is True and r.json()["name"] == "renamed"
        assert "apiKey" not in r.json()
        assert r.json()["modifyTime"] > created["modifyTime"] == created["createTime"]
        refused = key_test(org, created["apiKey"])
        assert refused["is_valid"] is False and refused["status_code"] == 403
        assert "disabled" in refused["message"]
        c.put(f"/auth/api-keys/{created['apiKeyId']}",
              json={"apiKey": {"disabled": False}, "fieldMask": "disabled"}).raise_for_status()
        assert key_test(org, created["apiKey"])["is_valid"] is True
        key_url = f"/auth/api-keys/{created['apiKeyId']}"
        assert_xai_error(c.put(key_url, json={"apiKey": {"teamId": "x"}, "fieldMask": "teamId"}), 400)
        assert_xai_error(c.put(key_url, json={"apiKey": {"name": "x"}}), 400)  # no fieldMask
        assert_xai_error(c.put(key_url, json={"apiKey": {}, "fieldMask": "name"}), 400)
        assert_xai_error(c.put("/auth/api-keys/no-such-key",
                               json={"apiKey": {"disabled": True}, "fieldMask": "disabled"}), 404)


def test_deleted_key_is_rejected_and_gone(team: XaiTeam, new_org: OrgFactory) -> None:
    created = team.mint()
    key_id = created["apiKeyId"]
    with team.client() as c:
        r = c.delete(f"/auth/api-keys/{key_id}")
        assert r.status_code == 200 and r.json() == {}
        assert_xai_error(c.delete(f"/auth/api-keys/{key_id}"), 404)
        assert_xai_error(c.get(f"/auth/api-keys/{key_id}/propagation"), 404)
    rejected = key_test(new_org(), created["apiKey"])
    assert rejected["is_valid"] is False and rejected["status_code"] == 400
    assert all_keys(team) == []


def test_a_key_is_rejected_until_it_has_propagated(emulator_url: str, new_org: OrgFactory) -> None:
    slow, fast = new_team(emulator_url, propagation_s=3600), new_team(emulator_url, propagation_s=0)
    org = new_org()
    pending, ready = slow.mint(), fast.mint()
    with slow.client() as c:
        assert c.get(f"/auth/api-keys/{pending['apiKeyId']}/propagation").json() == {"propagated": False}
    with fast.client() as c:
        assert c.get(f"/auth/api-keys/{ready['apiKeyId']}/propagation").json() == {"propagated": True}
    early = key_test(org, pending["apiKey"])
    assert early["is_valid"] is False and early["status_code"] == 400
    assert key_test(org, ready["apiKey"])["is_valid"] is True


def test_propagation_option_of_the_emulator(tmp_path: Path) -> None:
    """`--xai-propagation-s` holds every new key back; a fixture team may override it."""
    fixture = tmp_path / "f.yaml"
    fixture.write_text(
        "users: [{token: mx_live_prop_0123456789, id: u, email: u@example.com,"
        " memberships: {org-p: owner}}]\n"
        "xai:\n  teams: [{id: team-a}, {id: team-b, propagation_s: 0}]\n"
        "  management_keys: [{token: mgmt-prop, teams: [team-a, team-b]}]\n")
    emu = start_emulator("--fixture", str(fixture), "--xai-propagation-s", "3600", rate_limit=0)
    try:
        base = f"{emu.url}/xai-management"
        with httpx.Client(base_url=base, headers={"Authorization": "Bearer mgmt-prop"}) as c:
            answers = {}
            for team_id in ("team-a", "team-b"):
                key = c.post(f"/auth/teams/{team_id}/api-keys",
                             json={"name": "k", "acls": MINT_ACLS}).json()
                answers[team_id] = c.get(f"/auth/api-keys/{key['apiKeyId']}/propagation").json()
    finally:
        stop_emulator(emu)
    assert answers == {"team-a": {"propagated": False}, "team-b": {"propagated": True}}


def test_expired_key_is_rejected(team: XaiTeam, new_org: OrgFactory) -> None:
    past = team.mint(expireTime="2020-01-01T00:00:00Z")
    result = key_test(new_org(), past["apiKey"])
    assert result["is_valid"] is False and result["status_code"] == 400


@pytest.mark.parametrize(("acls", "status", "text"), [
    ([], 403, "not permitted to use the chat endpoint"),
    (["api-key:model:*", "api-key:endpoint:image"], 403, "not permitted to use the chat endpoint"),
    (["api-key:model:*", "api-key:endpoint:responses"], 403, "not permitted to use the chat"),
    # The endpoint is granted, the model is not: xAI's 404, as for a model that does not exist.
    (["api-key:model:grok-4-0709", "api-key:endpoint:chat"], 404,
     "The model grok-4-fast does not exist or your team"),
])
def test_a_key_may_call_only_what_its_acls_grant(team: XaiTeam, new_org: OrgFactory,
                                                 acls: list[str], status: int, text: str) -> None:
    created = team.mint(acls=acls)
    result = key_test(new_org(), created["apiKey"])  # ModuleX tests chat on grok-4-fast
    assert result["is_valid"] is False and result["status_code"] == status
    assert text in result["message"]


def test_keys_of_an_unfunded_team_are_refused(emulator_url: str, new_org: OrgFactory) -> None:
    """429 with the credits text, as xAI answers chat completions (fixture default)."""
    team = new_team(emulator_url, unfunded=True)
    result = key_test(new_org(), team.mint()["apiKey"])
    assert result["status_code"] == 429 and "used all available credits" in result["message"]


def test_team_models_and_key_info(team: XaiTeam, emulator_url: str) -> None:
    created = team.mint("info")
    with team.client() as c:
        models = c.get(f"/auth/teams/{team.id}/models").json()
    assert models == {"models": [{"id": "grok-4-0709"}, {"id": "grok-code-fast-1"}, {"id": "grok-4-fast"}]}
    info = httpx.get(f"{emulator_url}/v1/api-key",
                     headers={"Authorization": f"Bearer {created['apiKey']}"}).json()
    assert info["api_key_id"] == created["apiKeyId"] and info["team_id"] == team.id
    assert info["name"] == "info" and info["acls"] == MINT_ACLS
    assert info["modified_by"] == created["userId"]  # the management key's user made it


# -- faults, stats, persistence -------------------------------------------------------------------
def stats(emulator_url: str) -> dict[str, Any]:
    return dict(httpx.get(f"{emulator_url}/_emulator/stats").json())


def test_lost_response_on_create_leaves_a_key_whose_secret_nobody_saw(
        team: XaiTeam, emulator_url: str) -> None:
    before = stats(emulator_url)
    team.faults({"lost-response": 1.0})
    try:
        with team.client() as c, pytest.raises(httpx.TransportError):
            c.post(f"/auth/teams/{team.id}/api-keys", json={"name": "lost", "acls": MINT_ACLS})
    finally:
        team.faults({})
    after = stats(emulator_url)
    assert [k["name"] for k in all_keys(team)] == ["lost"]
    assert after["routes"][CREATE_ROUTE] - before["routes"].get(CREATE_ROUTE, 0) == 1
    assert after["orgs"][team.id] - before["orgs"].get(team.id, 0) == 1  # counted for its team
    assert after["faults"]["lost-response"] - before["faults"].get("lost-response", 0) == 1


def test_faults_are_keyed_by_team_also_on_key_routes(team: XaiTeam, emulator_url: str) -> None:
    key_id = team.mint()["apiKeyId"]
    bystander = new_team(emulator_url)
    team.faults({"503": 1.0})
    try:
        with team.client() as c:
            r = c.get(f"/auth/api-keys/{key_id}/propagation")
            listed = c.get(f"/auth/teams/{team.id}/api-keys")
        bystander.mint()  # another team's calls are untouched
    finally:
        team.faults({})
    assert_xai_error(r, 503)
    assert_xai_error(listed, 503)


def test_a_deleted_keys_routes_still_meet_its_teams_faults(team: XaiTeam) -> None:
    """A DELETE retried after a lost answer must meet the same faults as the first one."""
    key_id = team.mint()["apiKeyId"]
    with team.client() as c:
        c.delete(f"/auth/api-keys/{key_id}").raise_for_status()
        team.faults({"502": 1.0})
        try:
            again = c.delete(f"/auth/api-keys/{key_id}")
        finally:
            team.faults({})
        assert_xai_error(again, 502)
        assert_xai_error(c.delete(f"/auth/api-keys/{key_id}"), 404)


@pytest.mark.slow
def test_minted_keys_survive_a_restart_with_state(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    doc = {"xai": {"teams": [{"id": "team-s"}],
                   "management_keys": [{"token": "mgmt-state", "teams": ["team-s"]}]}}
    auth = {"Authorization": "Bearer mgmt-state"}
    emu = start_emulator("--state", str(state), rate_limit=0)
    try:
        httpx.post(f"{emu.url}/_emulator/world", json=doc).raise_for_status()
        created = httpx.post(f"{emu.url}/xai-management/auth/teams/team-s/api-keys", headers=auth,
                             json={"name": "kept", "acls": MINT_ACLS}).json()
        gone = httpx.post(f"{emu.url}/xai-management/auth/teams/team-s/api-keys", headers=auth,
                          json={"name": "gone", "acls": MINT_ACLS}).json()
        httpx.delete(f"{emu.url}/xai-management/auth/api-keys/{gone['apiKeyId']}",
                     headers=auth).raise_for_status()
    finally:
        stop_emulator(emu)
    emu = start_emulator("--state", str(state), rate_limit=0)
    try:
        listed = httpx.get(f"{emu.url}/xai-management/auth/teams/team-s/api-keys", headers=auth).json()
        kept = httpx.post(f"{emu.url}/v1/chat/completions", json={"model": "grok-4-fast"},
                          headers={"Authorization": f"Bearer {created['apiKey']}"})
        deleted = httpx.post(f"{emu.url}/v1/chat/completions", json={"model": "grok-4-fast"},
                             headers={"Authorization": f"Bearer {gone['apiKey']}"})
    finally:
        stop_emulator(emu)
    assert [k["name"] for k in listed["apiKeys"]] == ["kept"]
    assert (kept.status_code, deleted.status_code) == (200, 400)


# -- the published validation answer, endpoints, rotate, unknown routes ------------------------
def test_validation_answers_the_published_shape(team: XaiTeam) -> None:
    with team.client() as c:
        first = c.get("/auth/management-keys/validation").json()
        again = c.get("/auth/management-keys/validation").json()
    assert first["teamId"] == first["scopeId"] == team.id and first["scope"] == "SCOPE_TEAM"
    assert first["apiKeyId"] and first["apiKeyId"] == again["apiKeyId"]  # stable, not the token
    assert team.token not in str(first) and isinstance(first["name"], str)
    # The older shape rides along until every client reads the published one.
    assert first["valid"] is True and first["teamIds"] == [team.id]


def test_endpoints_list_what_an_acl_may_grant(emulator_url: str, new_org: OrgFactory) -> None:
    team = new_team(emulator_url)
    with team.client() as c:
        listed = c.get(f"/auth/teams/{team.id}/endpoints")
        assert_xai_error(c.get(f"/auth/teams/{team.other_team}/endpoints"), 403)
        unknown = c.post(f"/auth/teams/{team.id}/api-keys", json={
            "name": "k", "acls": ["api-key:model:*", "api-key:endpoint:teleport"]})
    assert listed.status_code == 200
    names = [e["name"] for e in listed.json()["endpoints"]]
    assert {"chat", "image", "responses"} <= set(names)
    assert_xai_error(unknown, 400)
    assert "teleport" in unknown.json()["error"]
    for name in names:  # every listed name is accepted in an ACL
        team.mint(f"k-{name}", acls=["api-key:model:*", f"api-key:endpoint:{name}"])
    narrow = new_team(emulator_url, endpoints=["chat", "video"])
    narrow.mint(acls=["api-key:model:*", "api-key:endpoint:video"])
    with narrow.client() as c:
        refused = c.post(f"/auth/teams/{narrow.id}/api-keys", json={
            "name": "k", "acls": ["api-key:endpoint:responses"]})
    assert_xai_error(refused, 400)


def test_rotate_gives_the_same_key_a_new_secret(team: XaiTeam, new_org: OrgFactory) -> None:
    created = team.mint("rotated")
    with team.client() as c:
        rotated = c.post(f"/auth/api-keys/{created['apiKeyId']}/rotate")
        assert_xai_error(c.post("/auth/api-keys/no-such-key/rotate"), 404)
    assert rotated.status_code == 200
    body = rotated.json()
    assert body["apiKeyId"] == created["apiKeyId"] and body["name"] == "rotated"
    assert body["apiKey"] != created["apiKey"] and body["apiKey"].startswith("xai-")
    assert body["redactedApiKey"] == f"xai-...{body['apiKey'][-4:]}"
    org = new_org()
    assert key_test(org, created["apiKey"])["status_code"] == 400  # the old secret is gone
    assert key_test(org, body["apiKey"])["is_valid"] is True
    assert [k["apiKeyId"] for k in all_keys(team)] == [created["apiKeyId"]]
    assert "apiKey" not in all_keys(team)[0]


def test_unknown_routes_answer_in_xais_shape(team: XaiTeam, emulator_url: str) -> None:
    with team.client() as c:
        for r in (c.get("/auth/nothing-here"), c.get("/auth/management-keys/validation/"),
                  c.delete("/auth/management-keys/validation")):
            assert_xai_error(r, 404)
            assert r.json()["error"].startswith("No handler found on route /xai-management/")
    for r in (httpx.get(f"{emulator_url}/v1/nothing-here"),
              httpx.get(f"{emulator_url}/v1/chat/completions")):
        assert_xai_error(r, 404)
        assert "No handler found on route /v1/" in r.json()["error"]
