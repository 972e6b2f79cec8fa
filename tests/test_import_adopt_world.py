"""Issue #24: adopting hand-made keys never pairs the wrong credential, never renames one,
never creates an expired one, reads everything once, and needs one secret for many keys."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from hypothesis import given
from hypothesis import strategies as st

from mxsync import ownership
from mxsync.importer import safe_name
from tests.cli_helpers import mxsync, write_manifest
from tests.conftest import OrgFactory, fake_key

NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"


@dataclass
class World:
    url: str
    token: str
    orgs: list[str]
    keys: dict[str, str]  # credential display name (unique per test) -> key

    def env(self, **more: str) -> dict[str, str]:
        return {"MODULEX_BASE_URL": self.url, "MODULEX_API_KEY": self.token, **more}

    def creds(self, org: str) -> list[dict[str, Any]]:
        with httpx.Client(base_url=self.url, headers={
                "Authorization": f"Bearer {self.token}", "X-Organization-ID": org}) as c:
            r = c.get("/credentials", params={"integration_name": "xai", "limit": 500})
            r.raise_for_status()
            return list(r.json()["credentials"])


def make_world(url: str) -> tuple[World, dict[str, list[dict[str, Any]]]]:
    """Three orgs on one token, as the issue found them: repeated, case-different, unicode,
    blank and very long display names, an expired default, one key held three times, and an
    org without a default."""
    tag = uuid.uuid4().hex[:8]
    token = f"mx_live_test_{uuid.uuid4().hex}"
    shared = fake_key("dup")
    a, b, c = (f"org-w{tag}-{n}" for n in ("a", "b", "c"))

    def cred(name: str, key: str | None = None, **more: Any) -> dict[str, Any]:
        return {"integration_name": "xai", "display_name": name, "api_key": key or fake_key(),
                **more}

    creds = {
        a: [cred("test", is_default=True, expires_at="2025-09-30T00:00:00Z"), cred("test"),
            cred("Prod"), cred("prod"), cred("Ünïcødé kéy"), cred(" "), cred("x" * 300)],
        b: [cred("dup", shared), cred("dup", shared), cred("Dup", shared), cred("ok")],
        c: [cred("other key"), cred("solo", expires_at="2024-01-01T00:00:00Z")],
    }
    doc = {"users": [{"token": token, "id": f"u-{tag}", "email": f"{tag}@example.com",
                      "memberships": dict.fromkeys((a, b, c), "owner")}],
           "orgs": [{"id": o, "name": o, "credentials": cs} for o, cs in creds.items()]}
    httpx.post(f"{url}/_emulator/world", json=doc).raise_for_status()
    return World(url, token, [a, b, c], {}), creds


def keys_by_variable(manifest: dict[str, Any], world: World,
                     creds: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """Each entry's variable set to the key of the credential its adopt_id names."""
    key_of: dict[str, str] = {}
    for org in world.orgs:
        live = world.creds(org)
        # The emulator lists credentials in creation order, as the world gave them.
        for record, given_cred in zip(live, creds[org], strict=True):
            key_of[record["credential_id"]] = given_cred["api_key"]
    out: dict[str, str] = {}
    for org in manifest["orgs"]:
        for entry in org["xai"]["credentials"]:
            field = entry.get("api_key_field") or entry["api_key_env"]
            out[field] = key_of[entry["adopt_id"]]
    return out


def test_imported_world_plans_only_adopts_and_renames_nothing(emulator_url: str,
                                                              tmp_path: Path) -> None:
    world, creds = make_world(emulator_url)
    before = {o: {c["credential_id"]: c["display_name"] for c in world.creds(o)}
              for o in world.orgs}
    out = tmp_path / "m.yaml"
    run = mxsync("import", *(a for o in world.orgs for a in ("--org", o)), "-o", str(out),
                 env=world.env())
    assert run.code == 0, run.both
    doc = yaml.safe_load(out.read_text())
    entries = [e for o in doc["orgs"] for e in o["xai"]["credentials"]]
    assert len(entries) == sum(len(cs) for cs in creds.values())
    # One entry per live credential, each naming it.
    assert len({e["adopt_id"] for e in entries}) == len(entries)
    variables = [e["api_key_env"] for e in entries]
    assert len({v.upper() for v in variables}) == len(variables)
    validated = mxsync("validate", "-f", str(out), env={})
    assert validated.code == 0, validated.both

    env = world.env(**keys_by_variable(doc, world, creds))
    plan = json.loads(mxsync("plan", "-f", str(out), "--json", env=env).out)
    actions = [a for r in plan["resource_changes"] for a in r["mxsync_actions"]]
    assert actions == ["adopt"] * len(entries), actions
    applied = mxsync("apply", "-f", str(out), "--auto-approve", env=env)
    assert applied.code == 0, applied.both
    again = mxsync("plan", "-f", str(out), "--detailed-exitcode", env=env)
    assert again.code == 0, again.both
    after = {o: {c["credential_id"]: c["display_name"] for c in world.creds(o)} for o in world.orgs}
    assert after == before  # nothing renamed, created or deleted
    assert all(ownership.has_marker(c["credentials_metadata"]) for o in world.orgs
               for c in world.creds(o))


def test_a_swapped_key_is_an_error_of_its_entry_never_a_replace(emulator_url: str,
                                                               tmp_path: Path) -> None:
    """The two `test` credentials of one org: giving each entry the other's key adopts
    neither and replaces nothing (it once deleted the org's working default)."""
    world, creds = make_world(emulator_url)
    out = tmp_path / "m.yaml"
    assert mxsync("import", "--org", world.orgs[0], "-o", str(out), env=world.env()).code == 0
    doc = yaml.safe_load(out.read_text())
    keys = keys_by_variable(doc, world, creds)
    tests = [e for e in doc["orgs"][0]["xai"]["credentials"] if e["name"].startswith("test")]
    first, second = (e["api_key_env"] for e in tests)
    keys[first], keys[second] = keys[second], keys[first]
    run = mxsync("plan", "-f", str(out), "--json", env=world.env(**keys))
    plan = json.loads(run.out)
    actions = {a for r in plan["resource_changes"] for a in r["mxsync_actions"]}
    assert actions == {"adopt"}
    text = mxsync("plan", "-f", str(out), env=world.env(**keys))
    for entry in tests:
        assert f"entry '{entry['name']}' ({out}:" in text.both
    assert "(None)" not in text.both
    assert keys[first] not in text.both and keys[second] not in text.both


def test_import_adopt_at_its_floor_with_one_key_document(emulator_url: str,
                                                         tmp_path: Path) -> None:
    """`import --adopt`: the org list once, each credential list and settings once, each
    masked key read once, one write per adoption; every key from one document."""
    world, creds = make_world(emulator_url)
    out = tmp_path / "m.yaml"
    assert mxsync("import", "--all-orgs", "-o", str(out), "--key-document-env", "XAI_KEYS",
                  env=world.env()).code == 0
    doc = yaml.safe_load(out.read_text())
    keys = keys_by_variable(doc, world, creds)
    wrong = next(e for e in doc["orgs"][2]["xai"]["credentials"] if e["name"] == "other-key")
    keys[wrong["api_key_field"]] = fake_key()  # #21.2: renamed entry, key does not match
    document = "\n".join(f"{k}={v}" for k, v in keys.items())

    def stats() -> dict[str, int]:
        return dict(httpx.get(f"{world.url}/_emulator/stats").json()["routes"])

    start = stats()
    run = mxsync("import", "--all-orgs", "-o", str(tmp_path / "again.yaml"), "--adopt",
                 "--key-document-env", "XAI_KEYS", env=world.env(XAI_KEYS=document))
    end = stats()
    calls = {r: end[r] - start.get(r, 0) for r in end if end[r] != start.get(r, 0)}
    n_creds = sum(len(cs) for cs in creds.values())
    assert run.code == 1, run.both
    assert "entry 'other-key'" in run.err and "(None)" not in run.both
    for value in keys.values():
        assert value not in run.both
    assert "Create one secret, XAI_KEYS" in run.err
    assert calls == {
        "GET /auth/me/organizations": 1,
        "GET /credentials": 3,
        "GET /organizations/settings": 3,
        "GET /credentials/{credential_id}": n_creds,
        "PUT /credentials/{credential_id}": n_creds - 1,
    }, calls
    managed = {c["display_name"]: ownership.has_marker(c["credentials_metadata"])
               for c in world.creds(world.orgs[2])}
    assert managed == {"other key": False, "solo": True}
    assert len(world.creds(world.orgs[2])) == 2  # nothing created in its place


def test_key_document_missing_field_names_variable_and_field(new_org: OrgFactory,
                                                             tmp_path: Path) -> None:
    org = new_org()
    key = fake_key()
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "a", "api_key_env": "XAI_KEYS", "api_key_field": "A"},
        {"name": "b", "api_key_env": "XAI_KEYS", "api_key_field": "B"}]}}])
    env = {"MODULEX_BASE_URL": org.url, "MODULEX_API_KEY": org.token,
           "XAI_KEYS": json.dumps({"A": key, "C": fake_key()})}
    run = mxsync("plan", "-f", path, env=env)
    assert run.code == 1
    assert "no field B" in run.both and "$XAI_KEYS" in run.both
    assert key not in run.both
    yaml_doc = f"A: {key}\nB: {fake_key()}\n"
    ok = mxsync("plan", "-f", path, "--json", env={**env, "XAI_KEYS": yaml_doc})
    assert ok.code == 0, ok.both
    assert key not in ok.both
    assert [r["mxsync_actions"] for r in json.loads(ok.out)["resource_changes"]] == [
        ["create"], ["create"]]


def test_a_create_already_expired_is_an_error_of_its_entry(new_org: OrgFactory,
                                                           tmp_path: Path) -> None:
    org = new_org()
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "old", "api_key_env": "K", "expires_at": "2024-01-01T00:00:00Z"},
        {"name": "new", "api_key_env": "L"}]}}])
    env = {"MODULEX_BASE_URL": org.url, "MODULEX_API_KEY": org.token, "K": fake_key(),
           "L": fake_key()}
    run = mxsync("plan", "-f", path, env=env)
    assert "entry 'old'" in run.both and "already expired" in run.both
    assert mxsync("apply", "-f", path, "--auto-approve", env=env).code != 0
    assert org.xai() == []  # an org with an error is not applied, as for any entry error


def test_validate_refuses_variables_differing_only_in_case_and_shared_adopt_ids(
        tmp_path: Path) -> None:
    path = write_manifest(tmp_path / "m.yaml", [
        {"id": "org-a", "xai": {"credentials": [
            {"name": "Prod", "api_key_env": "XAI_KEY_Prod", "adopt_id": "c1"},
            {"name": "prod", "api_key_env": "XAI_KEY_PROD", "adopt_id": "c1"}]}},
        {"id": "org-b", "xai": {"credentials": [
            {"name": "p", "api_key_env": "xai_key_prod"}]}}])
    run = mxsync("validate", "-f", path, env={})
    assert run.code == 1
    assert f"{path}:" in run.both
    assert run.both.count("differs only in case") == 2
    assert "already adopts this credential" in run.both


@given(st.lists(st.text(max_size=80), max_size=30))
def test_entry_names_from_any_display_names_are_valid_unique_and_stable(names: list[str]) -> None:
    import re

    first = [safe_name(n, taken) for taken in [set()] for n in names]
    second = [safe_name(n, taken) for taken in [set()] for n in names]
    assert first == second
    assert len({n.lower() for n in first}) == len(first)
    assert all(re.match(NAME_RE, n) for n in first)


def test_a_minted_entry_cannot_adopt(tmp_path: Path) -> None:
    path = write_manifest(tmp_path / "m.yaml", [{"id": "org-a", "xai": {"credentials": [
        {"name": "m", "adopt_id": "c1", "mint": {"acls": ["api-key:model:*"]}}]}}],
        xai_management={"team_id": "team-1"})
    run = mxsync("validate", "-f", path, env={})
    assert run.code == 1
    assert "credentials[0].adopt_id" in run.both and "minted entry cannot adopt" in run.both
