"""`mxsync plan` and `mxsync show` against the emulator, as a user runs them."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import httpx
import jsonschema
import pytest

from tests.cli_helpers import drain, mxsync, write_manifest
from tests.conftest import OrgFactory, TestOrg, fake_key

ROOT = Path(__file__).resolve().parents[1]
PLAN_SCHEMA = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())


def env_for(org: TestOrg, **keys: str) -> dict[str, str]:
    return {"MODULEX_BASE_URL": org.url, "MODULEX_API_KEY": org.token, **keys}


def stats(url: str) -> dict:
    return httpx.get(f"{url}/_emulator/stats").json()


def test_plan_shows_creates_and_the_folded_default(new_org: OrgFactory, tmp_path: Path) -> None:
    legacy = fake_key("legacy")
    org = new_org(credentials=[{"integration_name": "xai", "display_name": "legacy",
                                "api_key": legacy, "is_default": True}])
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "name": "acme", "xai": {
        "default": "primary", "credentials": [
            {"name": "primary", "api_key_env": "K1", "metadata": {"team": "ml"}},
            {"name": "batch", "api_key_env": "K2", "test": False}]}}])
    env = env_for(org, K1=fake_key(), K2=fake_key())
    run = mxsync("plan", "-f", path, "--detailed-exitcode", env=env)
    assert run.code == 2, run.both
    assert f"{org.id} (acme)" in run.out
    assert f"+ create      {org.id}/xai/primary" in run.out
    assert "made the org's default on create" in run.out
    assert "1 unmanaged xai credential left alone" in run.out
    assert run.out.strip().endswith("Plan: 2 to create, 0 to replace, 0 to delete, 1 default to change.")
    assert "\x1b[" not in run.out  # no colour when not a terminal
    assert len(org.xai()) == 1  # plan changes nothing


def test_no_changes_exit_codes(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id}])
    run = mxsync("plan", "-f", path, "--detailed-exitcode", env=env_for(org))
    assert run.code == 0
    assert run.out.strip().endswith("No changes. Live state matches the manifest.")


def test_json_plan_follows_its_schema(new_org: OrgFactory, tmp_path: Path) -> None:
    key = fake_key()
    org = new_org(credentials=[{"integration_name": "xai", "display_name": "primary",
                                "api_key": key}])
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "primary", "api_key_env": "K1"}, {"name": "new", "api_key_env": "K2"}]}}])
    run = mxsync("plan", "-f", path, "--json", env=env_for(org, K1=key, K2=fake_key()))
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    jsonschema.validate(doc, PLAN_SCHEMA)
    changes = {r["address"]: r for r in doc["resource_changes"]}
    adopt = changes[f"{org.id}/xai/primary"]
    assert adopt["mxsync_actions"] == ["adopt"] and "importing" in adopt["change"]
    create = changes[f"{org.id}/xai/new"]
    assert create["change"]["actions"] == ["create"]
    assert create["change"]["after"]["api_key"] == "(sensitive)"
    assert create["change"]["after_sensitive"] == {"api_key": True}
    assert create["change"]["key_source"] == {"env": "K2", "file": None}
    assert doc["summary"]["create"] == 1 and doc["summary"]["adopt"] == 1


def test_out_and_show(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "primary", "api_key_env": "K1"}]}}])
    planfile = tmp_path / "plan.json"
    run = mxsync("plan", "-f", path, "--out", str(planfile), env=env_for(org, K1=fake_key()))
    assert run.code == 0
    assert stat.S_IMODE(planfile.stat().st_mode) == 0o600
    saved = json.loads(planfile.read_text())
    assert saved["orgs"][0]["live_digest"].startswith("sha256:")
    assert saved["orgs"][0]["changes"][0]["key"] == {"env": "K1", "file": None, "field": None}
    shown = mxsync("show", str(planfile), env={})
    assert shown.code == 0 and shown.out == run.out
    shown_json = mxsync("show", str(planfile), "--json", env={})
    jsonschema.validate(json.loads(shown_json.out), PLAN_SCHEMA)


def test_a_no_change_plan_makes_the_minimum_calls(new_org: OrgFactory, tmp_path: Path) -> None:
    token_owner = new_org()
    orgs = [token_owner] + [new_org() for _ in range(2)]
    # One token for all three orgs: grant the first org's token the others too.
    httpx.post(f"{token_owner.url}/_emulator/world", json={"users": [
        {"token": token_owner.token, "memberships": {o.id: "admin" for o in orgs}}]})
    path = write_manifest(tmp_path / "m.yaml", [{"id": o.id} for o in orgs])
    before = stats(token_owner.url)
    run = mxsync("plan", "-f", path, env=env_for(token_owner))
    after = stats(token_owner.url)
    assert run.code == 0, run.err
    calls = {k: v - before["routes"].get(k, 0) for k, v in after["routes"].items()
             if v != before["routes"].get(k, 0)}
    assert calls == {"GET /auth/me/organizations": 1, "GET /credentials": 3}


def test_target_limits_orgs_and_entries(new_org: OrgFactory, tmp_path: Path) -> None:
    a, b = new_org(), new_org()
    httpx.post(f"{a.url}/_emulator/world", json={"users": [
        {"token": a.token, "memberships": {b.id: "owner"}}]})
    path = write_manifest(tmp_path / "m.yaml", [
        {"id": a.id, "xai": {"credentials": [{"name": "x", "api_key_env": "K1"},
                                             {"name": "y", "api_key_env": "K1"}]}},
        {"id": b.id, "xai": {"credentials": [{"name": "z", "api_key_env": "K1"}]}}])
    run = mxsync("plan", "-f", path, "--target", f"{a.id}/y", "--json",
                 env=env_for(a, K1=fake_key()))
    assert [r["address"] for r in json.loads(run.out)["resource_changes"]] == [f"{a.id}/xai/y"]
    bad = mxsync("plan", "-f", path, "--target", "org-nope", env=env_for(a, K1=fake_key()))
    assert bad.code == 1 and "no such org in the manifest" in bad.err


def test_conflict_with_an_unmanaged_credential_of_the_same_name(new_org: OrgFactory,
                                                                  tmp_path: Path) -> None:
    org = new_org(credentials=[{"integration_name": "xai", "display_name": "primary",
                                "api_key": fake_key()}])
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "primary", "api_key_env": "K1"}]}}])
    run = mxsync("plan", "-f", path, "--detailed-exitcode", env=env_for(org, K1=fake_key()))
    assert run.code == 1
    assert "mxsync does not manage" in run.out and "$K1" in run.out


# -- errors: one clear paragraph, exit 1, no traceback -----------------------------------------
@pytest.mark.slow
def test_clear_errors(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    member = new_org(role="member")
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "p", "api_key_env": "K1"}]}}])
    cases = [
        ({"MODULEX_BASE_URL": org.url, "K1": fake_key()},
         "environment variable MODULEX_API_KEY is not set"),
        (env_for(org), "environment variable K1 is not set"),
        (env_for(org, K1="xai-short"), "is not an xAI key"),
        ({**env_for(org, K1=fake_key()), "MODULEX_API_KEY": "mx_live_wrong"},
         "rejected the token in $MODULEX_API_KEY (401"),
        ({**env_for(org, K1=fake_key()), "MODULEX_BASE_URL": "http://127.0.0.1:9"},
         "cannot reach the ModuleX API"),
        ({**env_for(org, K1=fake_key()), "MODULEX_BASE_URL": "http://api.example.com"},
         "refusing to send the ModuleX token over plain http"),
    ]
    for env, message in cases:
        run = mxsync("plan", "-f", path, env=env)
        assert run.code == 1, (message, run.both)
        assert message in run.both, (message, run.both)
        assert "Traceback" not in run.both
    member_path = write_manifest(tmp_path / "m2.yaml", [{"id": member.id}])
    run = mxsync("plan", "-f", member_path, env=env_for(member))
    assert run.code == 1
    assert f"the token in $MODULEX_API_KEY has the role 'member' in org {member.id}" in run.out


def test_one_org_that_cannot_be_planned_does_not_stop_the_others(new_org: OrgFactory,
                                                                  tmp_path: Path) -> None:
    """The per-org failure policy: the member org is reported, the owner org is planned,
    and the exit code says that something failed."""
    org, member = new_org(), new_org(role="member")
    path = write_manifest(tmp_path / "m.yaml", [
        {"id": member.id, "token_env": "MEMBER_TOKEN"},
        {"id": org.id, "xai": {"credentials": [{"name": "p", "api_key_env": "K1"}]}}])
    run = mxsync("plan", "-f", path, "--json",
                 env={**env_for(org, K1=fake_key()), "MEMBER_TOKEN": member.token})
    assert run.code == 1
    doc = json.loads(run.out)
    assert [c["address"] for c in doc["resource_changes"]] == [f"{org.id}/xai/p"]
    errors = {o["id"]: [e["code"] for e in o["error_codes"]] for o in doc["orgs"]}
    assert errors == {member.id: ["not-manageable"], org.id: []}


@pytest.mark.slow
def test_canary_secrets_never_leave(new_org: OrgFactory, tmp_path: Path) -> None:
    """Recognisable fake keys and tokens: not in stdout, stderr (even --debug) or the plan file."""
    key_a, key_b = "xai-CANARYkeyAAAA0000000000000000", "xai-CANARYkeyBBBB0000000000000000"
    org = new_org(credentials=[{"integration_name": "xai", "display_name": "old",
                                "api_key": key_b}])
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "a", "api_key_env": "K1"}, {"name": "old", "api_key_env": "K2"}]}}])
    env = env_for(org, K1=key_a, K2=key_b)
    planfile = tmp_path / "plan.json"
    outputs = []
    for args in (["--debug", "plan"], ["plan", "--json"], ["plan", "--out", str(planfile)]):
        run = mxsync(*args, "-f", path, env=env)
        assert run.code == 0, run.both
        outputs.append(run.both)
    assert "GET /credentials" in outputs[0]  # --debug does log the exchanges
    outputs.append(planfile.read_text())
    outputs.append(mxsync("show", str(planfile), "--json", env={}).out)
    for text in outputs:
        for secret in (key_a, key_b, org.token, key_b[:12], "CANARY"):
            assert secret not in text


def _plan_on_a_terminal(path: str, env: dict[str, str], *flags: str) -> str:
    """Run plan with stdout on a pseudo-terminal; return what the terminal shows."""
    import os
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MODULEX_", "NO_COLOR"))}
    proc = subprocess.Popen([sys.executable, "-m", "mxsync", *flags, "plan", "-f", path],
                            stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env={**base, **env})
    os.close(slave)
    shown = drain(master)
    proc.wait(timeout=60)
    return shown.decode()


@pytest.mark.slow
def test_colour_only_on_a_terminal_and_never_with_no_color(new_org: OrgFactory,
                                                           tmp_path: Path) -> None:
    org = new_org()
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "p", "api_key_env": "K"}]}}])
    env = env_for(org, K=fake_key())
    coloured = _plan_on_a_terminal(path, env)
    assert "\x1b[32m" in coloured and "+ create" in coloured  # green create on a terminal
    assert "\x1b[" not in _plan_on_a_terminal(path, {**env, "NO_COLOR": "1"})
    assert "\x1b[" not in _plan_on_a_terminal(path, env, "--no-color")


@pytest.mark.slow
def test_progress_on_a_terminal_stderr_only(new_org: OrgFactory, tmp_path: Path) -> None:
    import os
    import pty
    import subprocess
    import sys

    org = new_org()
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id}])
    env = env_for(org)
    piped = mxsync("plan", "-f", path, env=env)
    assert piped.code == 0 and piped.err == ""  # nothing on a pipe: CI logs stay clean
    master, slave = pty.openpty()
    base = {k: v for k, v in os.environ.items() if not k.startswith("MODULEX_")}
    proc = subprocess.Popen([sys.executable, "-m", "mxsync", "plan", "-f", path],
                            stdout=subprocess.PIPE, stderr=slave, env={**base, **env})
    os.close(slave)
    out, _ = proc.communicate(timeout=60)
    seen = drain(master)
    assert b"Reading the live state: 1/1 orgs" in seen
    assert b"Reading the live state" not in out
