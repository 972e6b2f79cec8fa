"""`mxsync import`, `mxsync catalog`, plan as Markdown, and the pre-commit hook."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import httpx
import yaml

from mxsync import ownership
from mxsync.importer import key_variable, safe_name
from tests.cli_helpers import mxsync, write_manifest
from tests.conftest import OrgFactory, TestOrg, fake_key

ROOT = Path(__file__).resolve().parents[1]


def env_for(org: TestOrg, **more: str) -> dict[str, str]:
    return {"MODULEX_BASE_URL": org.url, "MODULEX_API_KEY": org.token, **more}


def test_import_round_trip_plans_only_adopts_then_nothing(new_org: OrgFactory,
                                                          tmp_path: Path) -> None:
    keys = {"primary": fake_key(), "batch": fake_key(), "My-Key": fake_key()}
    org = new_org(credentials=[
        {"integration_name": "xai", "display_name": "My Key", "api_key": keys["My-Key"]},
        {"integration_name": "xai", "display_name": "primary", "api_key": keys["primary"],
         "is_default": True, "metadata": {"team": "ml"}},
        {"integration_name": "xai", "display_name": "batch", "api_key": keys["batch"],
         "expires_at": "2027-06-01T00:00:00Z"},
        {"integration_name": "xai", "display_name": "theirs", "api_key": fake_key(),
         "metadata": ownership.managed_metadata({}, "other", "theirs", "sha256:0", None)},
    ])
    out = tmp_path / "imported.yaml"
    run = mxsync("import", "--org", org.id, "-o", str(out), "--owner", "platform", env=env_for(org))
    assert run.code == 0, run.both
    text = out.read_text()
    primary_var, batch_var = key_variable(org.id, "primary"), key_variable(org.id, "batch")
    renamed_var = key_variable(org.id, "My-Key")
    assert f"#   {primary_var}: the xAI key of {org.id} / primary" in text
    assert "'theirs' (managed by owner 'other')" in text
    assert f"#   {org.id}: 'My Key' -> My-Key" in text
    doc = yaml.safe_load(text)
    entry = doc["orgs"][0]["xai"]
    ids = {c["display_name"]: c["credential_id"] for c in org.xai()}
    assert entry["default"] == "primary"
    assert entry["credentials"] == [
        {"name": "My-Key", "display_name": "My Key", "adopt_id": ids["My Key"],
         "api_key_env": renamed_var},
        {"name": "primary", "adopt_id": ids["primary"], "api_key_env": primary_var,
         "metadata": {"team": "ml"}},
        {"name": "batch", "adopt_id": ids["batch"], "api_key_env": batch_var,
         "expires_at": "2027-06-01T00:00:00Z"}]
    assert mxsync("validate", "-f", str(out), env={}).code == 0

    env = env_for(org, **{primary_var: keys["primary"], batch_var: keys["batch"],
                          renamed_var: keys["My-Key"]})
    plan = json.loads(mxsync("plan", "-f", str(out), "--json", env=env).out)
    assert {k: v for k, v in plan["summary"].items() if v} == {"adopt": 3, "unmanaged": 1}
    assert mxsync("apply", "-f", str(out), "--auto-approve", env=env).code == 0
    assert mxsync("plan", "-f", str(out), "--detailed-exitcode", env=env).code == 0
    # Adopting renamed nothing: people still see the names they gave.
    assert sorted(c["display_name"] for c in org.xai()) == ["My Key", "batch", "primary", "theirs"]


def test_import_adopt_marks_matching_keys_and_reports_the_rest(new_org: OrgFactory,
                                                               tmp_path: Path) -> None:
    good, other = fake_key(), fake_key()
    org = new_org(credentials=[
        {"integration_name": "xai", "display_name": "good", "api_key": good},
        {"integration_name": "xai", "display_name": "wrong", "api_key": other}])
    env = env_for(org, **{key_variable(org.id, "good"): good,
                          key_variable(org.id, "wrong"): fake_key()})
    run = mxsync("import", "--org", org.id, "-o", str(tmp_path / "m.yaml"), "--adopt", env=env)
    assert run.code == 1
    assert "not adopted:" in run.err and "'wrong'" in run.err
    managed = {c["display_name"]: ownership.has_marker(c["credentials_metadata"])
               for c in org.xai()}
    assert managed == {"good": True, "wrong": False}
    assert good not in run.both and other not in run.both


def test_names_and_variables_are_made_valid() -> None:
    taken: set[str] = set()
    assert [safe_name(n, taken) for n in ("My Key!", "My Key?", "", "ok", "OK", "Ünïcødé kéy")] == [
        "My-Key", "My-Key-2", "credential", "ok", "OK-2", "Unic-de-key"]
    assert key_variable("org-acme", "My-Key.2") == "XAI_KEY_ACME_MY_KEY_2"


def test_catalog_table_and_cache(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    env = env_for(org, XDG_CACHE_HOME=str(tmp_path))
    route = "GET /integrations/llm-providers/{name}"

    def reads() -> int:
        return httpx.get(f"{org.url}/_emulator/stats").json()["routes"].get(route, 0)

    start = reads()
    first = mxsync("catalog", "--org", org.id, env=env)
    assert first.code == 0, first.both
    lines = first.out.splitlines()
    assert lines[1].split() == ["MODEL", "NAME", "MAX", "INPUT", "MAX", "OUTPUT", "VISION",
                                "INPUT", "$/1M", "OUTPUT", "$/1M"]
    assert lines[2].split() == ["grok-4-0709", "Grok", "4", "256,000", "256,000", "yes", "3.00",
                                "15.00"]
    assert "read now" in first.out and reads() == start + 1
    second = mxsync("catalog", "--org", org.id, env=env)
    assert "cached" in second.out and reads() == start + 1  # served from the local copy
    third = mxsync("catalog", "--org", org.id, "--refresh", "--json", env=env)
    assert reads() == start + 2
    assert {m["id"] for m in json.loads(third.out)["models"]} >= {"grok-4-fast"}


def test_plan_as_markdown(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "p", "api_key_env": "K"}]}}])
    run = mxsync("plan", "-f", path, "--format", "markdown", env=env_for(org, K=fake_key()))
    assert run.code == 0
    assert run.out.startswith("## mxsync plan\n\n**Plan: 1 to create,")
    assert (f"| `+` | create | `{org.id}/xai/p` | not in the live state<br>"
            "api_key: (sensitive) from \\$K, fingerprint sha256:") in run.out


def test_pre_commit_hook_entry(tmp_path: Path) -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "mxsync-validate")
    entry = shlex.split(hook["entry"])
    assert entry[0] == "mxsync"
    good = tmp_path / "mxsync.yaml"
    good.write_text("version: 1\norgs: [{id: a}]\n")
    bad = tmp_path / "mxsync-bad.yaml"
    bad.write_text("version: 1\norgs: [{id: a, api_key: nope}]\n")
    assert mxsync(*entry[1:], str(good), env={}).code == 0
    run = mxsync(*entry[1:], str(good), str(bad), env={})
    assert run.code == 1 and f"{bad}:2:16: orgs[0].api_key:" in run.out


def _me_calls(url: str) -> int:
    return httpx.get(f"{url}/_emulator/stats").json()["routes"].get(
        "GET /auth/me/organizations", 0)


def test_import_all_orgs_skips_what_the_token_cannot_manage(new_org: OrgFactory,
                                                            tmp_path: Path) -> None:
    owned = new_org(credentials=[{"integration_name": "xai", "display_name": "a",
                                  "api_key": fake_key()}])
    administered = new_org(credentials=[{"integration_name": "xai", "display_name": "b",
                                         "api_key": fake_key()}])
    member_only = new_org(credentials=[{"integration_name": "xai", "display_name": "c",
                                        "api_key": fake_key()}])
    httpx.post(f"{owned.url}/_emulator/world", json={"users": [{
        "token": owned.token,
        "memberships": {administered.id: "admin", member_only.id: "member"}}]}).raise_for_status()
    out = tmp_path / "all.yaml"
    calls = _me_calls(owned.url)
    run = mxsync("import", "--all-orgs", "-o", str(out), env=env_for(owned))
    assert run.code == 0, run.both
    assert _me_calls(owned.url) == calls + 1  # the token's orgs are listed once per run
    doc = yaml.safe_load(out.read_text())
    assert [o["id"] for o in doc["orgs"]] == [owned.id, administered.id]
    assert [[c["name"] for c in o["xai"]["credentials"]] for o in doc["orgs"]] == [["a"], ["b"]]
    assert run.err.count(member_only.id) == 1, run.err  # said once, as skipped
    assert "Skipped 1 org the token" in run.err and "cannot manage" in run.err
    assert "Error" not in run.err
    assert mxsync("validate", "-f", str(out), env={}).code == 0


def test_catalog_without_org_reads_the_first_org_the_token_can_manage(
        new_org: OrgFactory, tmp_path: Path) -> None:
    member_org = new_org(role="member")
    managed = new_org()
    httpx.post(f"{member_org.url}/_emulator/world", json={"users": [{
        "token": member_org.token, "memberships": {managed.id: "owner"}}]}).raise_for_status()
    run = mxsync("catalog", env=env_for(member_org, XDG_CACHE_HOME=str(tmp_path)))
    assert run.code == 0, run.both
    assert run.out.startswith(f"xAI models in the catalog of {managed.id} (read now)")
    assert "grok-4-0709" in run.out


def test_catalog_without_org_when_the_token_manages_none(new_org: OrgFactory,
                                                         tmp_path: Path) -> None:
    member = new_org(role="member")
    run = mxsync("catalog", env=env_for(member, XDG_CACHE_HOME=str(tmp_path)))
    assert run.code == 1 and "Traceback" not in run.both
    assert "the token is not owner or admin of any org" in run.err and "--org" in run.err


def test_catalog_and_import_without_a_token_say_which_variable(tmp_path: Path,
                                                              emulator_url: str) -> None:
    env = {"MODULEX_BASE_URL": emulator_url, "XDG_CACHE_HOME": str(tmp_path)}
    for args in (["catalog"], ["import", "--all-orgs"], ["audit", "--all-orgs"]):
        run = mxsync(*args, env=env)
        assert run.code == 1, run.both
        assert "MODULEX_API_KEY" in run.err and "internal error" not in run.err, run.err
