"""Org xAI settings as code, over real HTTP: visible models, the Assistant, and its pin,
which no sequence of applies (faults included) may leave on a deleted credential."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mxsync import ownership
from mxsync.secrets import fingerprint
from tests.cli_helpers import mxsync, write_manifest
from tests.conftest import OrgFactory, TestOrg, fake_key

OWNER = "test"


def env_for(org: TestOrg, **keys: str) -> dict[str, str]:
    return {"MODULEX_BASE_URL": org.url, "MODULEX_API_KEY": org.token, **keys}


def settings(org: TestOrg) -> dict[str, Any]:
    with org.client() as c:
        r = c.get("/organizations/settings")
        r.raise_for_status()
        return r.json()


def managed(org: TestOrg, name: str) -> list[dict[str, Any]]:
    return [c for c in org.xai()
            if (c["credentials_metadata"] or {}).get(ownership.NAME) == name
            and ownership.owned_by(c["credentials_metadata"], OWNER)]


def pin_of(org: TestOrg) -> str | None:
    composer = settings(org).get("composer_llm")
    return composer["credential_id"] if composer else None


def assert_pin_alive(org: TestOrg) -> None:
    pinned = pin_of(org)
    assert pinned is None or pinned in {c["credential_id"] for c in org.xai()}, "pin dangles"


def settings_calls(org: TestOrg) -> int:
    stats = httpx.get(f"{org.url}/_emulator/stats").json()
    return sum(n for route, n in stats["routes"].items() if "/organizations/settings" in route)


def pinned_org(new_org: OrgFactory, key: str) -> TestOrg:
    """An org whose Assistant runs on the managed credential of entry `p`."""
    metadata = ownership.managed_metadata({}, OWNER, "p", fingerprint(key), None)
    org = new_org(credentials=[{"integration_name": "xai", "display_name": "p", "api_key": key,
                                "metadata": metadata, "credential_id": "cred-p-1",
                                "is_default": True}],
                  org_fields={"settings": {"composer_llm": {
                      "integration_name": "xai", "provider_id": "xai", "model_id": "grok-4-fast",
                      "credential_id": "cred-p-1"}}})
    assert pin_of(org) == "cred-p-1"
    return org


@pytest.mark.slow
def test_models_and_assistant_are_planned_applied_and_converge(new_org: OrgFactory,
                                                               tmp_path: Path) -> None:
    org = new_org()
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {
        "default": "p", "models": ["grok-4-fast", "grok-code-fast-1"],
        "assistant": {"model": "grok-code-fast-1"},
        "credentials": [{"name": "p", "api_key_env": "K"}]}}], owner=OWNER)
    env = env_for(org, K=fake_key())
    plan = mxsync("plan", "-f", path, "--json", env=env)
    assert plan.code == 0, plan.both
    doc = json.loads(plan.out)
    addresses = {c["address"]: c for c in doc["resource_changes"]}
    assert set(addresses) == {f"{org.id}/xai/p", f"{org.id}/xai/settings/models",
                              f"{org.id}/xai/settings/assistant"}
    assert addresses[f"{org.id}/xai/settings/models"]["type"] == "xai_settings"
    assert addresses[f"{org.id}/xai/settings/models"]["change"]["after"] == {
        "models": ["grok-4-fast", "grok-code-fast-1"]}
    assert doc["summary"]["set_models"] == 1 and doc["summary"]["set_assistant"] == 1
    text = mxsync("plan", "-f", path, env=env).out
    assert f"set-assistant {org.id}/xai/settings/assistant" in text
    assert "assistant: not set -> grok-code-fast-1 on p" in text
    run = mxsync("apply", "-f", path, "--auto-approve", env=env)
    assert run.code == 0, run.both
    live = settings(org)
    assert [m["id"] for m in live["llm_model_visibility"]["xai"]] == ["grok-4-fast",
                                                                      "grok-code-fast-1"]
    assert live["composer_llm"]["model_id"] == "grok-code-fast-1"
    assert live["composer_llm"]["credential_id"] == managed(org, "p")[0]["credential_id"]
    assert mxsync("plan", "-f", path, "--detailed-exitcode", env=env).code == 0


def test_unknown_model_is_named_with_the_closest_known_one(new_org: OrgFactory,
                                                           tmp_path: Path) -> None:
    org = new_org()
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {
        "models": ["grok-4-fats"], "credentials": []}}], owner=OWNER)
    run = mxsync("plan", "-f", path, env=env_for(org))
    assert run.code == 1
    assert "grok-4-fats (did you mean grok-4-fast?)" in run.out


def test_orgs_that_do_not_use_settings_cost_no_settings_call(new_org: OrgFactory,
                                                             tmp_path: Path) -> None:
    org = new_org()
    key = fake_key()
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {
        "credentials": [{"name": "p", "api_key_env": "K"}]}}], owner=OWNER)
    assert mxsync("apply", "-f", path, "--auto-approve", env=env_for(org, K=key)).code == 0
    before = settings_calls(org)
    assert mxsync("plan", "-f", path, "--detailed-exitcode", env=env_for(org, K=key)).code == 0
    assert settings_calls(org) == before


@pytest.mark.slow
def test_rotating_the_pinned_entry_moves_the_pin_to_the_new_credential(
        new_org: OrgFactory, tmp_path: Path) -> None:
    org = pinned_org(new_org, fake_key())
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {
        "credentials": [{"name": "p", "api_key_env": "K"}]}}], owner=OWNER)
    env = env_for(org, K=fake_key())
    plan = mxsync("plan", "-f", path, env=env)
    assert "set-assistant" in plan.out and "moves with it" in plan.out
    run = mxsync("apply", "-f", path, "--auto-approve", env=env)
    assert run.code == 0, run.both
    [new] = managed(org, "p")
    assert new["credential_id"] != "cred-p-1"
    assert pin_of(org) == new["credential_id"]
    assert settings(org)["composer_llm"]["model_id"] == "grok-4-fast"
    assert mxsync("plan", "-f", path, "--detailed-exitcode", env=env).code == 0


def test_pruning_the_pinned_credential_without_a_say_is_refused(new_org: OrgFactory,
                                                                 tmp_path: Path) -> None:
    org = pinned_org(new_org, fake_key())
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "prune": True, "xai": {
        "credentials": [{"name": "other", "api_key_env": "K"}]}}], owner=OWNER)
    run = mxsync("apply", "-f", path, "--auto-approve", env=env_for(org, K=fake_key()))
    assert run.code == 1
    assert "the Assistant (model grok-4-fast) runs on credential cred-p-1" in run.both
    assert "set xai.assistant" in run.both
    assert {c["credential_id"] for c in org.xai()} == {"cred-p-1"}  # nothing changed there
    assert pin_of(org) == "cred-p-1"


def test_a_saved_plan_is_stale_when_the_settings_changed(new_org: OrgFactory,
                                                          tmp_path: Path) -> None:
    org = new_org()
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {
        "models": ["grok-4-fast"], "credentials": []}}], owner=OWNER)
    planfile = tmp_path / "plan.json"
    assert mxsync("plan", "-f", path, "--out", str(planfile), env=env_for(org)).code == 0
    with org.client() as c:
        c.put("/organizations/settings/llm-model-visibility", json={
            "integration_name": "xai", "models": [{"id": "grok-4-0709"}]}).raise_for_status()
    run = mxsync("apply", str(planfile), env=env_for(org))
    assert run.code == 1 and "stale" in run.both
    assert [m["id"] for m in settings(org)["llm_model_visibility"]["xai"]] == ["grok-4-0709"]


@pytest.mark.parametrize("kind", ["500", "502", "503", "429", "reset", "timeout", "lost-response"])
@pytest.mark.slow
def test_the_pin_never_dangles_under_faults(new_org: OrgFactory, tmp_path: Path,
                                            kind: str) -> None:
    """A rotation of the pinned entry, applied under one fault kind until it converges: after
    every apply, even one that failed halfway, the Assistant runs on a live credential."""
    org = pinned_org(new_org, fake_key())
    key = fake_key()
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {
        "credentials": [{"name": "p", "api_key_env": "K"}]}}], owner=OWNER)
    env = env_for(org, K=key)
    org.faults({kind: 0.35}, seed=11, hold_s=1.0)
    try:
        for _ in range(12):
            run = mxsync("apply", "-f", path, "--auto-approve", "--timeout", "0.5", env=env)
            org.faults({})
            assert_pin_alive(org)
            if run.code == 0 and mxsync("plan", "-f", path, "--detailed-exitcode",
                                        env=env).code == 0:
                break
            org.faults({kind: 0.35}, seed=11, hold_s=1.0)
        else:
            pytest.fail("did not converge")
    finally:
        org.faults({})
    [new] = managed(org, "p")
    assert new["credentials_metadata"][ownership.FINGERPRINT] == fingerprint(key)
    assert pin_of(org) == new["credential_id"]


def test_import_writes_models_and_assistant_and_plans_only_adopts(new_org: OrgFactory,
                                                                  tmp_path: Path) -> None:
    key = fake_key()
    org = new_org(credentials=[{"integration_name": "xai", "display_name": "main",
                                "api_key": key, "credential_id": "cred-main", "is_default": True}],
                  org_fields={"settings": {
                      "llm_model_visibility": {"xai": [{"id": "grok-4-fast"}]},
                      "composer_llm": {"integration_name": "xai", "provider_id": "xai",
                                       "model_id": "grok-4-fast", "credential_id": "cred-main"}}})
    out = tmp_path / "imported.yaml"
    run = mxsync("import", "--org", org.id, "--owner", OWNER, "-o", str(out), env=env_for(org))
    assert run.code == 0, run.both
    xai = yaml.safe_load(out.read_text())["orgs"][0]["xai"]
    assert xai["models"] == ["grok-4-fast"]
    assert xai["assistant"] == {"model": "grok-4-fast", "credential": "main"}
    [entry] = xai["credentials"]
    plan = mxsync("plan", "-f", str(out), "--json", env=env_for(org, **{entry["api_key_env"]: key}))
    assert plan.code == 0, plan.both
    assert [c["mxsync_actions"] for c in json.loads(plan.out)["resource_changes"]] == [["adopt"]]


def audit_codes(run_out: str) -> set[tuple[str, str | None]]:
    return {(f["code"], f.get("credential_name") or f.get("credential"))
            for f in json.loads(run_out)["findings"]}


@pytest.mark.slow
def test_audit_finds_a_dangling_pin_an_unmanaged_pin_and_unlisted_entries(
        new_org: OrgFactory, tmp_path: Path) -> None:
    dangling = new_org(org_fields={"settings": {"composer_llm": {
        "integration_name": "xai", "provider_id": "xai", "model_id": "grok-4-fast",
        "credential_id": "cred-gone"}}})
    run = mxsync("audit", "--org", dangling.id, "--format", "json", "--no-usage",
                 "--check-assistant", env=env_for(dangling))
    assert ("assistant-dangling", "cred-gone") in audit_codes(run.out), run.both
    assert run.code == 1  # an error: the Assistant cannot run

    key = fake_key()
    org = new_org(credentials=[{"integration_name": "xai", "display_name": "hand-made",
                                "api_key": fake_key(), "credential_id": "cred-hand"}],
                  org_fields={"settings": {"composer_llm": {
                      "integration_name": "xai", "provider_id": "xai", "model_id": "grok-4-fast",
                      "credential_id": "cred-hand"}}})
    both = write_manifest(tmp_path / "both.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "keep", "api_key_env": "K"}, {"name": "old", "api_key_env": "K"}]}}],
        owner=OWNER)
    assert mxsync("apply", "-f", both, "--auto-approve", env=env_for(org, K=key)).code == 0
    one = write_manifest(tmp_path / "one.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "keep", "api_key_env": "K"}]}}], owner=OWNER)
    run = mxsync("audit", "-f", one, "--format", "json", "--no-usage", "--check-assistant",
                 env=env_for(org, K=key))
    found = audit_codes(run.out)
    assert ("unlisted", "old") in found, run.both
    assert any(code == "assistant-unmanaged" for code, _ in found), run.both
    assert not any(code == "assistant-dangling" for code, _ in found)


def test_import_leaves_out_secret_looking_labels_and_escapes_in_names(new_org: OrgFactory,
                                                                      tmp_path: Path) -> None:
    canary = "xai-LABELCANARYsecretlooking00000"
    org = new_org(credentials=[{"integration_name": "xai", "display_name": "k",
                                "api_key": fake_key(), "metadata": {"note": canary, "team": "ml"}}])
    httpx.post(f"{org.url}/_emulator/world", json={"orgs": [
        {"id": org.id, "name": "Z\x1b[31mred"}]}).raise_for_status()
    out = tmp_path / "imported.yaml"
    run = mxsync("import", "--org", org.id, "-o", str(out), env=env_for(org))
    assert run.code == 0, run.both
    text = out.read_text()
    assert canary not in text + run.both and "\x1b" not in text
    assert "team: ml" in text and "looks like a secret" in text
    valid = mxsync("validate", "-f", str(out), env={})
    assert valid.code == 0, valid.both


@pytest.mark.slow
def test_a_saved_settings_plan_applied_twice_says_already_applied(new_org: OrgFactory,
                                                                 tmp_path: Path) -> None:
    """A re-run CI job applies the same artifact again: nothing to do, exit 0, not "stale"."""
    org = new_org()
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {
        "default": "b", "models": ["grok-4-fast"], "assistant": {"model": "grok-4-fast"},
        "credentials": [{"name": "b", "api_key_env": "K"}]}}], owner=OWNER)
    env = env_for(org, K=fake_key())
    planfile = tmp_path / "plan.json"
    assert mxsync("plan", "-f", path, "--out", str(planfile), env=env).code == 0
    first = mxsync("apply", str(planfile), env=env)
    assert first.code == 0, first.both
    again = mxsync("apply", str(planfile), env=env)
    assert again.code == 0, again.both
    assert "already applied" in again.both and "stale" not in again.both
