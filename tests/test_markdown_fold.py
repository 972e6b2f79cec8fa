"""The Markdown plan (a pull-request comment) shows the orgs with something to review, and
one line for the rest: a one-org change on a 120-org manifest is one block, not 120."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx

from mxsync.plan import Change, OrgPlan, Plan, PlanOptions, Reason
from mxsync.render.markdown import LISTED_NAMES, plan_markdown
from tests.cli_helpers import mxsync, write_manifest
from tests.conftest import OrgFactory, TestOrg, fake_key

ROOT = Path(__file__).resolve().parents[1]


def quiet(org_id: str, **fields: Any) -> OrgPlan:
    return OrgPlan(org=org_id, token_env="T", **fields)


def create(org_id: str) -> OrgPlan:
    return quiet(org_id, changes=(Change("create", org_id, "p", Reason("absent"),
                                         fingerprint="sha256:1"),))


def headings(markdown: str) -> list[str]:
    return [line[4:] for line in markdown.splitlines() if line.startswith("### ")]


def test_many_quiet_orgs_are_one_line_with_their_names_collapsed() -> None:
    orgs = [quiet(f"org-{i:03}") for i in range(119)]
    markdown = plan_markdown(Plan(owner="o", orgs=(create("busy"), *orgs)))
    assert headings(markdown) == ["busy"]
    assert "No changes." not in markdown
    assert "119 orgs have no changes.\n\n<details><summary>Which</summary>" in markdown
    assert ", ".join(o.org for o in orgs) in markdown
    # One token variable for all 120 orgs: one line, not 120.
    assert markdown.count("ModuleX token") == 1
    assert "ModuleX token (\\$T -&gt; https://api.modulex.dev) of 120 orgs." in markdown


def test_few_quiet_orgs_are_named_on_the_line() -> None:
    orgs = [quiet(f"org-{i}") for i in range(LISTED_NAMES)]
    markdown = plan_markdown(Plan(owner="o", orgs=tuple(orgs)))
    assert headings(markdown) == [] and "<details>" not in markdown
    assert f"{LISTED_NAMES} orgs have no changes: {', '.join(o.org for o in orgs)}." in markdown
    one = plan_markdown(Plan(owner="o", orgs=(create("busy"), quiet("calm", unmanaged=2))))
    assert "1 org has no changes: calm.\n\n2 unmanaged xai credentials in it left alone." in one


def test_an_org_with_an_error_or_a_note_is_never_folded() -> None:
    plan = Plan(owner="o", orgs=(
        quiet("broken", errors=(Reason("unread", {"message": "timed out"}),)),
        quiet("noted", notes=(Reason("orphans-kept", {"owner": "o", "names": ["old"]}),)),
        quiet("calm")))
    markdown = plan_markdown(plan)
    assert headings(markdown) == ["broken", "noted"]
    assert "- **error**: " in markdown and "- note: " in markdown
    assert "1 org has no changes: calm." in markdown


def test_the_orgs_changed_since_left_out_are_said() -> None:
    few = Plan(owner="o", orgs=(create("a"),),
               options=PlanOptions(targets=("a",), changed_since="origin/main", left_out=("b", "c")))
    assert ("Planned only the orgs changed since `origin/main`; 2 orgs unchanged since then "
            "were left out (not read, not in this plan): b, c.") in plan_markdown(few)
    many = Plan(owner="o", options=PlanOptions(changed_since="origin/main",
                                               left_out=tuple(f"o{i}" for i in range(40))))
    text = plan_markdown(many)
    assert "40 orgs unchanged since then were left out (not read, not in this plan).\n\n<details>" in text
    every = Plan(owner="o", orgs=(create("a"),), options=PlanOptions(changed_since="HEAD~1"))
    assert "Planned with `--changed-since` `HEAD~1`: every org changed since then." in plan_markdown(every)
    assert "changed since" not in plan_markdown(Plan(owner="o", orgs=(create("a"),)))


# -- over the emulator -----------------------------------------------------------------------

def manifest_of(orgs: list[TestOrg], extra: dict[str, list[str]]) -> list[dict[str, Any]]:
    return [{"id": o.id, "token_env": f"TOKEN_{i}", "xai": {"credentials": [
        {"name": n, "api_key_env": "XAI_KEY_K"} for n in ["k", *extra.get(o.id, [])]]}}
        for i, o in enumerate(orgs)]


def test_a_three_org_plan_with_one_change_is_one_block_and_one_line(new_org: OrgFactory,
                                                                     tmp_path: Path) -> None:
    orgs = [new_org(), new_org(), new_org()]
    env = {"MODULEX_BASE_URL": orgs[0].url, "XAI_KEY_K": fake_key(),
           **{f"TOKEN_{i}": o.token for i, o in enumerate(orgs)}}
    path = write_manifest(tmp_path / "mxsync.yaml", manifest_of(orgs, {}))
    assert mxsync("apply", "-f", path, "--auto-approve", env=env).code == 0
    a, b, c = orgs
    write_manifest(tmp_path / "mxsync.yaml", manifest_of(orgs, {b.id: ["k2"]}))
    run = mxsync("plan", "-f", path, "--format", "markdown", env=env)
    assert run.code == 0, run.both
    assert headings(run.out) == [b.id]
    assert f"`{b.id}/xai/k2`" in run.out
    assert "No changes." not in run.out
    assert f"2 orgs have no changes: {a.id}, {c.id}." in run.out


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                   cwd=repo, check=True, capture_output=True)


def test_changed_since_saves_what_it_left_out_and_show_says_it(new_org: OrgFactory,
                                                               tmp_path: Path) -> None:
    """The pull-request flow: plan --changed-since --out, then show --format markdown of the
    file; the saved plan still follows its published schema, and applies only what it planned."""
    from jsonschema import Draft202012Validator

    orgs = [new_org(), new_org(), new_org()]
    a, b, c = orgs
    path = write_manifest(tmp_path / "mxsync.yaml", manifest_of(orgs, {}))
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "base")
    write_manifest(tmp_path / "mxsync.yaml", manifest_of(orgs, {a.id: ["k2"]}))
    # Only a's token: an org that is read without one fails, so a clean run proves b and c
    # were not read, by the plan nor by the apply that re-derives it.
    env = {"MODULEX_BASE_URL": a.url, "XAI_KEY_K": fake_key(), "TOKEN_0": a.token}
    planfile = tmp_path / "plan.json"
    run = mxsync("plan", "-f", path, "--changed-since", "main", "--out", str(planfile), env=env)
    assert run.code == 0, run.both
    doc = json.loads(planfile.read_text())
    assert doc["options"]["changed_since"] == {"ref": "main", "left_out": [b.id, c.id]}
    schema = json.loads((ROOT / "schemas" / "planfile.schema.json").read_text())
    Draft202012Validator(schema).validate(doc)
    shown = mxsync("show", "--format", "markdown", str(planfile), env={})
    assert shown.code == 0, shown.both
    assert headings(shown.out) == [a.id]
    assert (f"Planned only the orgs changed since `main`; 2 orgs unchanged since then were "
            f"left out (not read, not in this plan): {b.id}, {c.id}.") in shown.out
    applied = mxsync("apply", str(planfile), env=env)
    assert applied.code == 0, applied.both
    assert sorted(x["display_name"] for x in a.xai()) == ["k", "k2"]
    assert b.xai() == [] and c.xai() == []


def org_calls(org: TestOrg) -> int:
    return int(httpx.get(f"{org.url}/_emulator/stats").json()["orgs"].get(org.id, 0))


def test_a_saved_plan_of_no_changed_org_applies_without_a_call(new_org: OrgFactory,
                                                               tmp_path: Path) -> None:
    org = new_org()
    path = write_manifest(tmp_path / "mxsync.yaml", manifest_of([org], {}))
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "base")
    planfile = tmp_path / "plan.json"
    env = {"MODULEX_BASE_URL": org.url, "TOKEN_0": org.token, "XAI_KEY_K": fake_key()}
    before = org_calls(org)
    run = mxsync("plan", "-f", path, "--changed-since", "main", "--out", str(planfile), env=env)
    assert run.code == 0, run.both
    shown = mxsync("show", "--format", "markdown", str(planfile), env={})
    assert f"1 org unchanged since then was left out (not read, not in this plan): {org.id}." \
        in shown.out
    applied = mxsync("apply", str(planfile), env=env)
    assert applied.code == 0, applied.both
    assert org_calls(org) == before  # neither the plan nor its apply read the org
    assert org.xai() == []
