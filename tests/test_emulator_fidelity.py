"""The emulator as the real service is: fixtures loaded to the letter, health, usage and
audit, pages capped below the limit asked, and API keys locked to one organization."""

from __future__ import annotations

from pathlib import Path

import httpx
import yaml

from tests.conftest import OrgFactory, TestOrg, fake_key, start_emulator, stop_emulator


def xai_cred(name: str, **fields: object) -> dict[str, object]:
    return {"integration_name": "xai", "display_name": name, "api_key": fake_key(), **fields}


def defaults(org: TestOrg) -> list[str]:
    return [c["display_name"] for c in org.xai() if c["is_default"]]


def test_a_fixture_loads_exactly_its_defaults(new_org: OrgFactory) -> None:
    none = new_org(credentials=[xai_cred("a", is_default=False), xai_cred("b", is_default=False)])
    assert defaults(none) == []  # an org whose default was deleted: nothing is promoted
    second = new_org(credentials=[xai_cred("a", is_default=False), xai_cred("b", is_default=True)])
    assert defaults(second) == ["b"]
    unsaid = new_org(credentials=[xai_cred("a"), xai_cred("b")])
    assert defaults(unsaid) == ["a"]  # saying nothing: the first, as a create would


def test_usage_from_the_fixture_or_zeros(new_org: OrgFactory) -> None:
    org = new_org(credentials=[
        xai_cred("busy", usage={"total_calls": 10, "successful_calls": 2, "failed_calls": 8}),
        xai_cred("idle")])
    ids = {c["display_name"]: c["credential_id"] for c in org.xai()}
    foreign_id = new_org(credentials=[xai_cred("x")]).xai()[0]["credential_id"]
    with org.client() as c:
        busy = c.get(f"/credentials/{ids['busy']}/usage",
                     params={"start_date": "2026-01-01T00:00:00Z"}).json()
        idle = c.get(f"/credentials/{ids['idle']}/usage").json()
        foreign = c.get(f"/credentials/{foreign_id}/usage")
    assert busy["credential_id"] == ids["busy"]
    assert (busy["total_calls"], busy["successful_calls"], busy["failed_calls"]) == (10, 2, 8)
    assert busy["success_rate"] == 20.0 and busy["start_date"] == "2026-01-01T00:00:00Z"
    assert set(busy) == {"credential_id", "total_calls", "successful_calls", "failed_calls",
                         "success_rate", "action_breakdown", "start_date", "end_date"}
    assert (idle["total_calls"], idle["failed_calls"], idle["success_rate"]) == (0, 0, 0.0)
    assert foreign.status_code == 404


def test_a_bad_usage_in_the_world_is_refused(emulator_url: str) -> None:
    r = httpx.post(f"{emulator_url}/_emulator/world", json={"orgs": [{"id": "org-bad-usage",
        "credentials": [xai_cred("x", usage={"successful_calls": -1})]}]})
    assert r.status_code == 422 and "usage.successful_calls" in r.json()["detail"]


def test_audit_lists_changes_newest_first_and_never_the_key(new_org: OrgFactory) -> None:
    org = new_org()
    key = fake_key("audit")
    with httpx.Client(base_url=org.url, headers={**org.headers(), "User-Agent": "audit-test/1"}) as c:
        first = c.post("/credentials", json={"integration_name": "xai", "display_name": "a",
                                             "auth_data": {"api_key": key}}).json()
        cid = first["credential_id"]
        c.put(f"/credentials/{cid}", json={"display_name": "b"})
        c.post(f"/credentials/{cid}/test")
        second = c.post("/credentials", json={"integration_name": "xai", "make_default": True,
                                              "auth_data": {"api_key": fake_key()}}).json()
        c.post(f"/credentials/{cid}/set-default")
        audit = c.get(f"/credentials/{cid}/audit")
        page = c.get(f"/credentials/{cid}/audit", params={"limit": 2, "offset": 1}).json()
        bad = c.get(f"/credentials/{cid}/audit", params={"limit": 0})
    events = audit.json()
    assert [e["event_type"] for e in events] == [
        "default_set", "default_unset", "tested", "updated", "default_set", "created"]
    assert events[3]["changes"] == {"display_name": {"old": "a", "new": "b"}}
    assert {e["user_agent"] for e in events} == {"audit-test/1"}
    assert {e["credential_id"] for e in events} == {cid} and second["is_default"]
    assert page == events[1:3]
    assert bad.status_code == 422
    assert key not in audit.text


def test_max_page_size_caps_pages_but_not_total_count(tmp_path: Path) -> None:
    token = "mx_live_pages_0123456789"
    fixture = tmp_path / "fixture.yaml"
    fixture.write_text(yaml.safe_dump({
        "users": [{"token": token, "memberships": {"org-p": "owner"}}],
        "orgs": [{"id": "org-p", "credentials": [xai_cred(f"c{i}") for i in range(5)]}]}))
    emu = start_emulator("--fixture", str(fixture), "--max-page-size", "2", rate_limit=0)
    try:
        with httpx.Client(base_url=emu.url, headers={"Authorization": f"Bearer {token}",
                                                     "X-Organization-ID": "org-p"}) as c:
            pages = [c.get("/credentials", params={"integration_name": "xai", "limit": 100,
                                                   "offset": offset}).json()
                     for offset in (0, 2, 4)]
            grouped = c.get("/credentials", params={"limit": 3}).json()
    finally:
        stop_emulator(emu)
    assert [len(p["credentials"]) for p in pages] == [2, 2, 1]
    assert {p["total_count"] for p in pages} == {5}
    assert pages[0]["filters"]["limit"] == 100  # the limit asked, not the cap
    names = [c["display_name"] for p in pages for c in p["credentials"]]
    assert names == [f"c{i}" for i in range(5)]
    assert len(grouped["integrations"]["xai"]["credentials"]) == 2
    assert grouped["total_credentials"] == 5


def test_a_token_locked_to_one_org_gets_403_elsewhere(new_org: OrgFactory) -> None:
    other = new_org()
    org = new_org(extra_memberships={other.id: "owner"})
    locked = new_org(extra_memberships={other.id: "owner"})
    httpx.post(f"{org.url}/_emulator/world", json={"users": [
        {"token": locked.token, "locked_to_org": locked.id}]}).raise_for_status()
    for token, expected in ((org.token, 200), (locked.token, 403)):
        r = httpx.get(f"{org.url}/credentials",
                      headers={"Authorization": f"Bearer {token}", "X-Organization-ID": other.id})
        assert r.status_code == expected
    assert "locked" in r.json()["detail"]
    assert locked.xai() == []  # its own org still answers
    listed = httpx.get(f"{org.url}/auth/me/organizations",
                       headers={"Authorization": f"Bearer {locked.token}"}).json()
    # What the service lists for a locked key is not public: the emulator lists every
    # membership, the worst case for a client (it then meets the 403).
    assert {o["id"] for o in listed["organizations"]} == {locked.id, other.id}
