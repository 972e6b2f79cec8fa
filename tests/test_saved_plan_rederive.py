"""`apply PLANFILE` re-derives: the saved plan is checked against a plan made again from the
manifest at hand and the live state now, org by org. A tampered, replayed or orphaned plan
changes nothing the manifest does not call for."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.cli_helpers import mxsync, write_manifest
from tests.conftest import OrgFactory, TestOrg, fake_key


def env_for(org: TestOrg, **keys: str) -> dict[str, str]:
    return {"MODULEX_BASE_URL": org.url, "MODULEX_API_KEY": org.token, **keys}


def _manifest(folder: Path, org: TestOrg, *names: str) -> str:
    return write_manifest(folder / "mxsync.yaml", [{"id": org.id, "xai": {
        "default": names[0], "credentials": [{"name": n, "api_key_env": f"K_{n.upper()}"}
                                             for n in names]}}])


def test_a_delete_written_into_the_plan_file_is_refused(new_org: OrgFactory,
                                                        tmp_path: Path) -> None:
    """Another owner's default credential, named in an edited plan, is left alone."""
    theirs = {"integration_name": "xai", "display_name": "theirs", "api_key": fake_key("t"),
              "is_default": True, "metadata": {"managed_by": "mxsync", "mxsync_owner": "other",
                                               "mxsync_name": "theirs"}}
    org = new_org(credentials=[theirs])
    victim = org.xai()[0]["credential_id"]
    manifest = write_manifest(tmp_path / "mxsync.yaml", [{"id": org.id, "xai": {
        "credentials": [{"name": "k", "api_key_env": "K_K"}]}}])
    env = env_for(org, K_K=fake_key("k"))
    planfile = tmp_path / "plan.json"
    assert mxsync("plan", "-f", manifest, "--out", str(planfile), env=env).code == 0
    doc = json.loads(planfile.read_text())
    change = doc["orgs"][0]["changes"][0]
    doc["orgs"][0]["changes"] = [{**change, "action": "delete", "credential_id": victim,
                                  "name": "theirs", "depends_on": []}]
    planfile.write_text(json.dumps(doc))
    run = mxsync("apply", str(planfile), env=env)
    assert run.code == 1
    assert "not the saved plan's" in run.out and "nothing was changed there" in run.out
    assert [c["credential_id"] for c in org.xai()] == [victim]


def test_a_plan_is_not_applied_again_after_a_later_apply_undid_it(new_org: OrgFactory,
                                                                  tmp_path: Path) -> None:
    org = new_org()
    manifest = _manifest(tmp_path, org, "a", "k")
    env = env_for(org, K_A=fake_key("a"), K_K=fake_key("k"))
    plan_a = tmp_path / "a.json"
    assert mxsync("plan", "-f", manifest, "--out", str(plan_a), env=env).code == 0
    assert mxsync("apply", str(plan_a), env=env).code == 0
    _manifest(tmp_path, org, "a")  # k leaves the manifest and is pruned
    assert mxsync("apply", "-f", manifest, "--prune", "--auto-approve", env=env).code == 0
    run = mxsync("apply", str(plan_a), env=env)
    assert run.code == 1
    assert "the manifest changed since this plan was made" in run.err
    assert sorted(c["display_name"] for c in org.xai()) == ["a"]


def test_a_plan_is_applied_from_any_folder_and_finds_its_manifest_and_key_file(
        new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    repo = tmp_path / "repo"
    (repo / "keys").mkdir(parents=True)
    key_file = repo / "keys" / "k.key"
    key_file.write_text(fake_key("file") + "\n")
    os.chmod(key_file, 0o600)
    write_manifest(repo / "mxsync.yaml", [{"id": org.id, "xai": {
        "default": "k", "credentials": [{"name": "k", "api_key_file": "keys/k.key"}]}}])
    env = env_for(org)
    (repo / "out").mkdir()
    made = mxsync("plan", "-f", "mxsync.yaml", "--out", "out/plan.json", env=env, cwd=repo)
    assert made.code == 0, made.err
    assert json.loads((repo / "out" / "plan.json").read_text())["manifest_files"] == [
        "../mxsync.yaml"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = mxsync("apply", str(repo / "out" / "plan.json"), env=env, cwd=elsewhere)
    assert run.code == 0, run.both
    assert [c["display_name"] for c in org.xai()] == ["k"]


def test_a_plan_whose_manifest_is_not_at_hand_is_refused_with_its_path(
        new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    manifest = _manifest(tmp_path, org, "k")
    env = env_for(org, K_K=fake_key("k"))
    planfile = tmp_path / "plan.json"
    assert mxsync("plan", "-f", manifest, "--out", str(planfile), env=env).code == 0
    Path(manifest).unlink()
    run = mxsync("apply", str(planfile), env=env)
    assert run.code == 1
    assert "not here" in run.err and "mxsync.yaml" in run.err
    assert org.xai() == []


def test_a_plan_saved_with_an_org_error_is_never_applied(new_org: OrgFactory,
                                                         tmp_path: Path) -> None:
    good, bad = new_org(), new_org()
    manifest = write_manifest(tmp_path / "mxsync.yaml", [
        {"id": good.id, "xai": {"credentials": [{"name": "k", "api_key_env": "K_K"}]}},
        {"id": bad.id, "token_env": "BAD_TOKEN",
         "xai": {"credentials": [{"name": "k", "api_key_env": "K_K"}]}}])
    env = env_for(good, K_K=fake_key("k"))  # BAD_TOKEN is not set: that org fails
    planfile = tmp_path / "plan.json"
    made = mxsync("plan", "-f", manifest, "--out", str(planfile), env=env)
    assert made.code == 1
    assert "apply it with" not in made.err and "for review only" in made.err
    run = mxsync("apply", str(planfile), env=env)
    assert run.code == 1 and "cannot be applied" in run.err
    assert good.xai() == []
