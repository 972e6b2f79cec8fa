"""Targeting as Terraform does it: a targeted plan says it may be incomplete (text, JSON,
Markdown, apply), `--target ... --prune` can pick one credential prune would delete, and a
mistyped `--replace` lists the entries it could mean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from tests.cli_helpers import mxsync, write_manifest
from tests.conftest import OrgFactory, TestOrg, fake_key
from tests.xai_helpers import MINT_ACLS

ROOT = Path(__file__).resolve().parents[1]
PLAN_SCHEMA = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())


def env_for(org: TestOrg, **keys: str) -> dict[str, str]:
    return {"MODULEX_BASE_URL": org.url, "MODULEX_API_KEY": org.token, **keys}


def ours(name: str, owner: str = "test") -> dict[str, Any]:
    """A live credential this manifest's owner manages, as an earlier apply left it."""
    return {"integration_name": "xai", "display_name": name, "api_key": fake_key(name),
            "metadata": {"managed_by": "mxsync", "mxsync_owner": owner, "mxsync_name": name}}


def test_a_targeted_plan_says_so_in_every_format(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "x", "api_key_env": "K1"}, {"name": "y", "api_key_env": "K1"}]}}])
    env = env_for(org, K1=fake_key())
    text = mxsync("plan", "-f", path, "--target", f"{org.id}/xai/y", env=env)
    assert text.code == 0, text.both
    assert f"Warning: Targeting is in effect: only {org.id}/xai/y was planned" in text.err
    assert "may be incomplete" in text.err and "not for routine use" in text.err
    assert f"{org.id}/xai/x" not in text.out

    doc = json.loads(mxsync("plan", "-f", path, "--target", f"{org.id}/xai/y", "--json",
                            env=env).out)
    jsonschema.validate(doc, PLAN_SCHEMA)
    assert doc["targeted"] == [f"{org.id}/xai/y"]  # as the user wrote it
    assert len(doc["warnings"]) == 1 and "Targeting is in effect" in doc["warnings"][0]
    assert [r["address"] for r in doc["resource_changes"]] == [f"{org.id}/xai/y"]

    markdown = mxsync("plan", "-f", path, "--target", org.id, "--format", "markdown", env=env)
    assert f"> **Warning:** Targeting is in effect: only {org.id} was planned" in markdown.out

    whole = mxsync("plan", "-f", path, "--json", env=env)
    assert json.loads(whole.out)["targeted"] == [] and json.loads(whole.out)["warnings"] == []
    assert "Targeting" not in mxsync("plan", "-f", path, env=env).both


def test_a_targeted_apply_warns_before_and_after(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "x", "api_key_env": "K1"}, {"name": "y", "api_key_env": "K1"}]}}])
    run = mxsync("apply", "-f", path, "--target", f"{org.id}/y", "--auto-approve",
                 env=env_for(org, K1=fake_key()))
    assert run.code == 0, run.both
    # Named as plan addresses read (ORG/xai/NAME), whichever form was typed.
    assert f"Warning: Targeting is in effect: only {org.id}/xai/y was planned" in run.err
    assert f"\n\nWarning: targeting was in effect ({org.id}/xai/y): changes the manifest calls " \
           "for elsewhere were not applied" in run.err
    assert "\\n" not in run.err  # a blank line, not an escaped one
    assert [c["display_name"] for c in org.xai()] == ["y"]


def test_target_with_prune_picks_one_credential_prune_would_delete(new_org: OrgFactory,
                                                                    tmp_path: Path) -> None:
    org = new_org(credentials=[ours("old"), ours("older"), ours("keep")])
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "keep", "api_key_env": "K1"}, {"name": "new", "api_key_env": "K1"}]}}])
    env = env_for(org, K1=fake_key())
    planned = mxsync("plan", "-f", path, "--target", f"{org.id}/xai/old", "--prune", "--json",
                     env=env)
    assert planned.code == 0, planned.both
    changes = json.loads(planned.out)["resource_changes"]
    assert [(r["name"], r["mxsync_actions"]) for r in changes] == [("old", ["delete"])]

    applied = mxsync("apply", "-f", path, "--target", f"{org.id}/xai/old", "--prune",
                     "--auto-approve", env=env)
    assert applied.code == 0, applied.both
    assert sorted(c["display_name"] for c in org.xai()) == ["keep", "older"]


def test_a_target_that_matches_nothing_stays_an_error(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org(credentials=[ours("old"), ours("theirs", owner="other-team")])
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "keep", "api_key_env": "K1"}]}}])
    env = env_for(org, K1=fake_key())
    without_prune = mxsync("plan", "-f", path, "--target", f"{org.id}/xai/old", env=env)
    assert without_prune.code == 1
    assert f"org {org.id} has no entry 'old'" in without_prune.err
    assert "targeted with --prune" in without_prune.err

    for name in ("olf", "theirs"):  # a typo; another owner's credential, never pruned
        run = mxsync("plan", "-f", path, "--target", f"{org.id}/xai/{name}", "--prune", env=env)
        assert run.code == 1, run.both
        assert f"has no entry '{name}', and no credential of owner 'test' by that name for " \
               "--prune to delete" in run.err
        assert "credentials --prune would delete: old" in run.err
        assert "Traceback" not in run.both
    typo = mxsync("plan", "-f", path, "--target", f"{org.id}/xai/olf", "--prune", env=env)
    assert "Did you mean old?" in typo.err
    assert sorted(c["display_name"] for c in org.xai()) == ["old", "theirs"]  # nothing changed


def test_a_mistyped_replace_lists_the_entries_it_could_mean(tmp_path: Path) -> None:
    def minted(name: str) -> dict[str, Any]:
        return {"name": name, "mint": {"acls": MINT_ACLS, "qpm": 60}}

    path = write_manifest(tmp_path / "m.yaml", [
        {"id": "org-a", "xai": {"credentials": [minted("batch-eval"), minted("chat"),
                                                {"name": "batch-job", "api_key_env": "K1"}]}},
        {"id": "org-b", "xai": {"credentials": [minted("batch-jobs")]}}],
        xai_management={"team_id": "team-1", "key_env": "XAI_MGMT",
                        "url": "https://management-api.x.ai"})
    run = mxsync("plan", "-f", path, "--replace", "org-a/xai/batch-jobs", env={})
    assert run.code == 1, run.both
    assert "--replace org-a/xai/batch-jobs: no such entry in the manifest" in run.err
    hint = run.err.split("did you mean ", 1)[1]
    # closest first; the env entry is left out (--replace renews minted keys only)
    assert hint.startswith("org-b/xai/batch-jobs, org-a/xai/batch-eval, org-a/xai/chat?"), hint
    assert "org-a/xai/batch-job," not in hint
