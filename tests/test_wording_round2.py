"""Advice and wording a new user met (#21, points 11 and 17): audit's advice for another
owner's credential works when pasted, a missing token is said once, a token that is not a
member of an org is worded so, a model id's did-you-mean is the closest id, and deleting an
org's last credential says what that means."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from mxsync.model_ids import closest_model
from tests.cli_helpers import mxsync, write_manifest
from tests.conftest import OrgFactory, TestOrg, fake_key


def env_for(org: TestOrg, **keys: str) -> dict[str, str]:
    return {"MODULEX_BASE_URL": org.url, "MODULEX_API_KEY": org.token, **keys}


def _findings(run_out: str, code: str) -> list[dict]:
    return [f for f in json.loads(run_out)["findings"] if f["code"] == code]


# -- 11: another owner's credential ----------------------------------------------------------
def test_audit_advice_for_another_owners_credential_works_as_pasted(
        new_org: OrgFactory, tmp_path: Path) -> None:
    """Owner `team-b` manages a credential in an org that owner `team-a`'s manifest audits.
    The advised import (run literally, in an empty folder) writes a manifest that holds it,
    and plan and audit of that manifest then find nothing to do about it."""
    org = new_org()
    key = fake_key()
    theirs = write_manifest(tmp_path / "theirs.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "shared", "api_key_env": "K_SHARED"}]}}], owner="team-b")
    assert mxsync("apply", "-f", theirs, "--auto-approve",
                  env=env_for(org, K_SHARED=key)).code == 0
    (cred,) = org.xai()
    ours = write_manifest(tmp_path / "ours.yaml", [{"id": org.id}], owner="team-a")
    audit = mxsync("audit", "-f", ours, "--format", "json", env=env_for(org))
    (finding,) = _findings(audit.out, "unmanaged")
    assert finding["credential_id"] == cred["credential_id"]
    advice = finding["message"]
    assert "managed by another owner ('team-b')" in advice
    commands = re.findall(r"`(mxsync [^`]+)`", advice)
    imports = [c for c in commands if c.startswith("mxsync import")]
    assert len(imports) == 1, advice
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    imported = mxsync(*shlex.split(imports[0])[1:], env=env_for(org), cwd=folder)
    assert imported.code == 0, imported.both
    (written,) = folder.glob("*.yaml")
    text = written.read_text()
    assert cred["credential_id"] in text and "owner: team-b" in text
    (variable,) = re.findall(r"#   (XAI_KEY_\w+): the xAI key of", text)
    plan = next(c for c in commands if c.startswith("mxsync plan"))
    planned = mxsync(*shlex.split(plan)[1:], "--detailed-exitcode",
                     env=env_for(org, **{variable: key}), cwd=folder)
    assert planned.code == 0, planned.both
    assert "No changes" in planned.out
    again = mxsync("audit", "-f", written.name, "--format", "json",
                   env=env_for(org, **{variable: key}), cwd=folder)
    assert cred["credential_id"] not in again.out, again.out


def test_an_owner_no_manifest_can_carry_gets_no_command(new_org: OrgFactory,
                                                        tmp_path: Path) -> None:
    org = new_org(credentials=[{"integration_name": "xai", "display_name": "odd",
                                "api_key": fake_key(), "is_default": True,
                                "metadata": {"managed_by": "mxsync", "mxsync_owner": "a b;c",
                                             "mxsync_name": "odd"}}])
    ours = write_manifest(tmp_path / "ours.yaml", [{"id": org.id}], owner="team-a")
    audit = mxsync("audit", "-f", ours, "--format", "json", env=env_for(org))
    (finding,) = _findings(audit.out, "unmanaged")
    assert "`mxsync" not in finding["message"]
    assert "delete it if nobody needs it" in finding["message"]


# -- 17a: a missing token, said once ---------------------------------------------------------
def test_a_missing_token_shared_by_three_orgs_is_said_once(new_org: OrgFactory,
                                                          tmp_path: Path) -> None:
    orgs = [new_org(), new_org(), new_org()]
    path = write_manifest(tmp_path / "m.yaml", [
        {"id": o.id, "xai": {"credentials": [{"name": "p", "api_key_env": "K1"}]}} for o in orgs])
    env = {"MODULEX_BASE_URL": orgs[0].url, "K1": fake_key()}
    ids = [a for o in orgs for a in ("--org", o.id)]
    for args in (("plan", "-f", path), ("apply", "-f", path, "--auto-approve"),
                 ("audit", "-f", path), ("audit", *ids), ("import", *ids)):
        run = mxsync(*args, env=env)
        assert run.code == 1, (args, run.both)
        assert run.both.count("MODULEX_API_KEY is not set") == 1, (args, run.both)


def test_orgs_with_tokens_of_their_own_still_each_say_theirs(new_org: OrgFactory,
                                                            tmp_path: Path) -> None:
    """Only a variable every org shares is the run's problem; an org's own one is its own,
    and the org whose token is there is planned."""
    a, b = new_org(), new_org()
    path = write_manifest(tmp_path / "m.yaml", [
        {"id": a.id, "token_env": "TOKEN_A"},
        {"id": b.id, "token_env": "TOKEN_B"}])
    run = mxsync("plan", "-f", path, env={"MODULEX_BASE_URL": a.url, "TOKEN_B": b.token})
    assert run.code == 1
    assert run.out.count("TOKEN_A is not set") == 1 and "TOKEN_B is not set" not in run.both
    assert f"{b.id}\n    no changes" in run.out


# -- 17b: a token that is not a member of the org ----------------------------------------------
def test_an_org_the_token_is_not_a_member_of_is_worded_so(new_org: OrgFactory,
                                                          tmp_path: Path) -> None:
    org = new_org()
    stranger = new_org()  # exists, but the token of `org` is not one of its members
    path = write_manifest(tmp_path / "m.yaml", [{"id": stranger.id}])
    for command in ("plan", "audit"):
        run = mxsync(command, "-f", path, env=env_for(org))
        assert run.code == 1, run.both
        assert (f"the token in $MODULEX_API_KEY is not a member of org '{stranger.id}'. "
                in run.out), run.out
        assert "Check the org id, or use a token of one of its owners or admins" in run.out
        assert "is not a member in org" not in run.out


# -- 17c: did-you-mean for model ids ---------------------------------------------------------
CATALOG = ["grok-4-0709", "grok-code-fast-1", "grok-4-fast"]


def test_a_short_id_means_the_dated_model_not_a_variant() -> None:
    assert closest_model("grok-4", CATALOG) == "grok-4-0709"
    assert closest_model("grok-4", list(reversed(CATALOG))) == "grok-4-0709"
    assert closest_model("grok-code", CATALOG) == "grok-code-fast-1"


def test_display_names_and_near_misses() -> None:
    names = {"Grok 4": "grok-4-0709", "Grok 4 Fast": "grok-4-fast"}
    assert closest_model("grok-4-Fast", CATALOG, names) == "grok-4-fast"
    assert closest_model("grok 4", CATALOG, names) == "grok-4-0709"
    assert closest_model("grok-4-fast-reasoning", CATALOG) == "grok-4-fast"
    assert closest_model("grok-4-fsat", CATALOG) == "grok-4-fast"
    assert closest_model("llama-3", CATALOG) is None


@given(wanted=st.text(), ids=st.lists(st.text(max_size=20), max_size=6),
       names=st.dictionaries(st.text(max_size=20), st.text(max_size=20), max_size=4))
def test_the_suggestion_is_always_another_catalog_id(wanted: str, ids: list[str],
                                                     names: dict[str, str]) -> None:
    got = closest_model(wanted, ids, names)
    assert got is None or (got in ids and got != wanted)


def test_plan_and_audit_suggest_the_closest_model(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {
        "models": ["grok-4"], "require_models": ["grok-4"]}}])
    plan = mxsync("plan", "-f", path, env=env_for(org))
    assert plan.code == 1
    assert "xai.assistant: grok-4 (did you mean grok-4-0709?)" in plan.out, plan.out
    assert "required model grok-4 (did you mean grok-4-0709?) is not" in plan.out
    audit = mxsync("audit", "-f", path, "--format", "json", env=env_for(org))
    (finding,) = _findings(audit.out, "model-missing")
    assert "grok-4 (did you mean grok-4-0709?)" in finding["message"]


# -- 17d: deleting an org's last credential, or its default ---------------------------------
def test_pruning_every_credential_says_the_org_is_left_with_none(new_org: OrgFactory,
                                                                 tmp_path: Path) -> None:
    org = new_org()
    env = env_for(org, K1=fake_key(), K2=fake_key())
    both = write_manifest(tmp_path / "both.yaml", [{"id": org.id, "xai": {"default": "a",
        "credentials": [{"name": "a", "api_key_env": "K1"}, {"name": "b", "api_key_env": "K2"}]}}])
    assert mxsync("apply", "-f", both, "--auto-approve", env=env).code == 0
    none = write_manifest(tmp_path / "none.yaml", [{"id": org.id, "prune": True}])
    run = mxsync("plan", "-f", none, env=env)
    assert run.code == 0, run.both
    assert run.out.count("note:") == 1, run.out
    assert (f"note: org '{org.id}' will have no xAI credential once 'a', 'b' are deleted: its "
            "workflows that use xAI will fail; add an entry for a new key, or keep one of them"
            in run.out), run.out
    assert "set xai.default" not in run.out  # no entry is left to be the default

    only_b = write_manifest(tmp_path / "b.yaml", [{"id": org.id, "prune": True, "xai": {
        "credentials": [{"name": "b", "api_key_env": "K2"}]}}])
    run = mxsync("plan", "-f", only_b, env=env)
    assert ("note: deleting 'a', the org's default, leaves the org without a default xAI "
            "credential: workflows that name no credential will fail" in run.out), run.out
    assert "will have no xAI credential" not in run.out
