"""`--policy` on plan, apply and audit over the real emulator (#23): a denied plan is never
applied by any path, and the verdict travels with the saved plan."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_helpers import mxsync, write_manifest
from tests.conftest import OrgFactory, TestOrg, fake_key

EXAMPLES = str(Path(__file__).parent.parent / "examples" / "policies")
UNTESTED = "the key would be stored without ModuleX's test call (test: false)"


def env_for(org: TestOrg, **keys: str) -> dict[str, str]:
    return {"MODULEX_BASE_URL": org.url, "MODULEX_API_KEY": org.token, **keys}


def manifest(org: TestOrg, tmp_path: Path, **entry: object) -> str:
    return write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {"default": "p", "credentials": [
        {"name": "p", "api_key_env": "K", **entry}]}}])


def test_a_denied_plan_exits_1_whatever_detailed_exitcode_and_shows_each_message(
        new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    path, env = manifest(org, tmp_path, test=False), env_for(org, K=fake_key())
    planfile = tmp_path / "plan.json"
    run = mxsync("plan", "-f", path, "--policy", EXAMPLES, "--detailed-exitcode",
                 "--out", str(planfile), env=env)
    assert run.code == 1
    rego = str(Path(EXAMPLES) / "credentials.rego")
    assert f"DENY - {rego} - main.deny: {org.id}/xai/p: {UNTESTED}" in run.out
    assert f"WARN - {rego} - main.warn: {org.id}/xai/p: becomes the org's default credential" in run.out
    assert "Policy check failed: 1 deny, 1 warning" in run.out
    as_json = json.loads(mxsync("plan", "-f", path, "--policy", EXAMPLES, "--format", "json",
                                env=env).out)
    assert as_json["policy"]["denied"] is True
    assert [m["msg"] for m in as_json["policy"]["messages"] if m["kind"] == "deny"] == [
        f"{org.id}/xai/p: {UNTESTED}"]
    markdown = mxsync("plan", "-f", path, "--policy", EXAMPLES, "--format", "markdown", env=env)
    assert "### Policy check" in markdown.out and "DENY" in markdown.out
    # The saved plan keeps its verdict: apply refuses it, and nothing is stored.
    saved = json.loads(planfile.read_text())
    assert saved["policy"]["denied"] is True
    applied = mxsync("apply", str(planfile), env=env)
    assert applied.code == 1
    assert f"the saved plan {planfile} is denied by policy; nothing was changed" in applied.err
    assert org.xai() == []


def test_a_passing_plan_keeps_its_exit_codes_and_applies(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    path, env = manifest(org, tmp_path), env_for(org, K=fake_key())
    planfile = tmp_path / "plan.json"
    run = mxsync("plan", "-f", path, "--policy", EXAMPLES, "--detailed-exitcode",
                 "--out", str(planfile), env=env)
    assert run.code == 2, run.err
    assert "Policy check passed: no deny, 1 warning (1 policy file)." in run.out
    check = mxsync("policy", "check", str(planfile), "--policy", EXAMPLES, "--format", "junit", env={})
    assert check.code == 0 and "<failure" not in check.out and 'tests="1"' in check.out
    applied = mxsync("apply", str(planfile), "--policy", EXAMPLES, env=env)
    assert applied.code == 0, applied.err
    assert [c["display_name"] for c in org.xai()] == ["p"]


def test_apply_evaluates_again_and_refuses_before_any_change(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    env = env_for(org, K=fake_key())
    path = manifest(org, tmp_path, base_url="https://gateway.example/v1")
    planfile = tmp_path / "plan.json"
    assert mxsync("plan", "-f", path, "--out", str(planfile), env=env).code == 0  # no policy then
    by_file = mxsync("apply", str(planfile), "--policy", EXAMPLES, env=env)
    assert by_file.code == 1 and "is denied by policy" in by_file.err
    assert "base_url https://gateway.example/v1 is not https://api.x.ai/v1" in by_file.err
    by_manifest = mxsync("apply", "-f", path, "--policy", EXAMPLES, "--auto-approve", env=env)
    assert by_manifest.code == 1 and "this plan is denied by policy; nothing was changed" in by_manifest.err
    assert org.xai() == []


def test_audit_policy_messages_are_findings(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    rules = tmp_path / "audit.rego"
    rules.write_text('package main\nimport rego.v1\n'
                     'deny contains {"msg": sprintf("%d orgs audited", [input.summary.orgs]), '
                     '"org": input.checks[0]} if input.summary.orgs > 0\n'
                     'warn contains "house rule" if true\n')
    run = mxsync("audit", "--org", org.id, "--policy", str(rules), "--format", "json",
                 env=env_for(org))
    assert run.code == 1, run.err
    found = [f for f in json.loads(run.out)["findings"] if f["code"] == "policy"]
    assert sorted((f["severity"], f["message"]) for f in found) == [
        ("error", f"1 orgs audited ({rules})"), ("warning", f"house rule ({rules})")]
    passing = mxsync("audit", "--org", org.id, "--policy", str(rules), "--namespace", "none",
                     env=env_for(org))
    assert passing.code == 0, passing.err
