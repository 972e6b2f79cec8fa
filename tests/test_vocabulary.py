"""One vocabulary (issue 21, point 16): the plan's summary and apply's say the same things
in the same words and order; every action of the text plan lines up; apply's progress counts
to the items the summary counts; a replace's new credential id is null in the plan and the
new one after apply, never the old one's."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from mxsync import ownership
from mxsync.outcomes import Step, StepAction
from mxsync.plan import Action, Change, MintSpec, OrgPlan, Plan, Reason, ReasonCode
from mxsync.render.progress import ApplyProgress
from mxsync.render.text import render_plan
from mxsync.secrets import fingerprint
from tests.cli_helpers import drain, mxsync, write_manifest
from tests.conftest import OrgFactory, TestOrg, fake_key

OWNER = "test"
OLD_ID = "cred-p-1"


def env_for(org: TestOrg, **keys: str) -> dict[str, str]:
    return {"MODULEX_BASE_URL": org.url, "MODULEX_API_KEY": org.token, **keys}


def busy_org(new_org: OrgFactory, tmp_path: Path) -> tuple[TestOrg, str, dict[str, str]]:
    """An org whose plan has one of nearly everything: `q` created as the new default (with a
    key test), `p` replaced (its key rotated; the Assistant runs on it and follows), `u`
    updated (new metadata), `gone` deleted (prune)."""
    old_key = fake_key()
    org = new_org(credentials=[
        {"integration_name": "xai", "display_name": "p", "api_key": old_key,
         "credential_id": OLD_ID, "is_default": True,
         "metadata": ownership.managed_metadata({}, OWNER, "p", fingerprint(old_key), None)},
        {"integration_name": "xai", "display_name": "u", "api_key": (u_key := fake_key()),
         "credential_id": "cred-u-1",
         "metadata": ownership.managed_metadata({}, OWNER, "u", fingerprint(u_key), None)},
        {"integration_name": "xai", "display_name": "gone", "api_key": (g := fake_key()),
         "credential_id": "cred-g-1",
         "metadata": ownership.managed_metadata({}, OWNER, "gone", fingerprint(g), None)}],
        org_fields={"settings": {"composer_llm": {
            "integration_name": "xai", "provider_id": "xai", "model_id": "grok-4-fast",
            "credential_id": OLD_ID}}})
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "prune": True, "xai": {
        "default": "q", "assistant": {"model": "grok-code-fast-1", "credential": "p"},
        "credentials": [{"name": "p", "api_key_env": "K1"}, {"name": "q", "api_key_env": "K2"},
                        {"name": "u", "api_key_env": "K3", "metadata": {"team": "ml"}}]}}],
        owner=OWNER)
    return org, path, env_for(org, K1=fake_key(), K2=fake_key(), K3=u_key)


def _closing(out: str, prefix: str) -> list[str]:
    line = next(ln for ln in out.splitlines() if ln.startswith(prefix))
    return line.removeprefix(prefix).rstrip(".").split(", ")


def _done(part: str) -> str:
    """A plan's `1 to create` / `1 default to change` as apply says it: `1 created`."""
    return re.sub(r" to (\w+)$", lambda m: " " + m[1] + ("d" if m[1].endswith("e") else "ed"),
                  part)


def test_plan_and_apply_summaries_use_the_same_words_in_the_same_order(
        new_org: OrgFactory, tmp_path: Path) -> None:
    _, path, env = busy_org(new_org, tmp_path)
    plan = mxsync("plan", "-f", path, "--no-color", env=env)
    assert plan.code == 0, plan.both
    planned = _closing(plan.out, "Plan: ")
    assert planned == ["1 to create", "1 to replace", "1 to update", "1 to delete",
                       "1 default to change", "1 setting to change"], plan.out
    as_json = json.loads(mxsync("plan", "-f", path, "--json", env=env).out)["summary"]

    run = mxsync("apply", "-f", path, "--auto-approve", "--no-color", env=env)
    assert run.code == 0, run.both
    assert _closing(run.out, "Apply complete: ") == [_done(p) for p in planned], run.out

    # The JSON summaries: the same keys, in the same order, with the same counts.
    (tmp_path / "again").mkdir()
    _, path2, env2 = busy_org(new_org, tmp_path / "again")
    applied = json.loads(mxsync("apply", "-f", path2, "--auto-approve", "--json",
                                env=env2).out)["apply"]["summary"]
    plan_keys = [k for k in as_json if k not in ("unmanaged", "errors")]
    assert [k for k in applied if k in as_json] == plan_keys
    assert {k: applied[k] for k in plan_keys} == {k: as_json[k] for k in plan_keys}


def _heads(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if re.match(r"^ {2}[ +~*=/-]{3} \S", ln)]


def _address_columns(text: str, org_id: str) -> set[int]:
    return {ln.index(f"{org_id}/xai/") for ln in _heads(text)}


def test_every_action_of_the_text_plan_starts_its_address_at_one_column(
        new_org: OrgFactory, tmp_path: Path) -> None:
    org, path, env = busy_org(new_org, tmp_path)
    run = mxsync("plan", "-f", path, "--no-color", env=env)
    assert run.code == 0, run.both
    heads = _heads(run.out)
    assert any("set-assistant" in h for h in heads) and len(heads) == 5, run.out
    assert len(_address_columns(run.out, org.id)) == 1, run.out


def test_the_widest_labels_keep_the_column_too() -> None:
    """Every action there is, a minted create and a rotation, in two orgs of one plan."""
    reason = Reason(ReasonCode.ABSENT)
    mint = MintSpec(team_id="t", key_env="XAI_MANAGEMENT_KEY", url="https://x")
    changes = [Change(action=a, org="o1", name=f"n-{a}", reason=reason, credential_id="c")
               for a in Action]
    changes += [Change(action=Action.CREATE, org="o2", name="m", reason=reason, mint=mint),
                Change(action=Action.REPLACE, org="o2", name="r", reason=reason, mint=mint,
                       credential_id="c")]
    plan = Plan(owner=OWNER, orgs=(
        OrgPlan(org="o1", token_env="T", changes=tuple(c for c in changes if c.org == "o1")),
        OrgPlan(org="o2", token_env="T", changes=tuple(c for c in changes if c.org == "o2"))))
    text = render_plan(plan)
    heads = _heads(text)
    assert len(heads) == len(changes), text
    for label in ("create (minted)", "rotate", "set-assistant", "set-default", "replace"):
        assert any(f" {label} " in h for h in heads), text
    columns = set()
    for head in heads:
        found = re.search(r" o[12]/xai/", head)
        assert found, head
        columns.add(found.start())
    assert len(columns) == 1, text


def _step(action: StepAction, concludes: bool = False) -> Step:
    return Step("o", "o/xai/p", action, "ok", concludes=concludes)


def test_progress_counts_the_items_and_never_passes_its_total() -> None:
    """A create that takes the default is two items (`1 to create`, `1 default to change`)
    and two report lines; its key test is a step besides them and moves nothing."""

    class Screen:
        text = ""

        def write(self, s: str) -> None:
            self.text += s

        def flush(self) -> None:
            pass

    screen = Screen()
    progress = ApplyProgress(2, stream=screen)  # type: ignore[arg-type]
    progress(_step(StepAction.TEST))
    assert progress.done == 0
    progress(_step(StepAction.CREATE, concludes=True))
    progress(_step(StepAction.DEFAULT))
    progress(_step(StepAction.DEDUPE))
    assert progress.done == 2 and screen.text.rstrip().endswith("Applying: 2/2 changes done (o)")


COUNTED = ("create", "replace", "update", "adopt", "delete", "default", "set-default",
           "set-models", "set-assistant")


def test_progress_at_a_terminal_runs_to_the_items_the_plan_and_the_report_show(
        new_org: OrgFactory, tmp_path: Path) -> None:
    _, path, env = busy_org(new_org, tmp_path)
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("MODULEX_", "XAI_", "NO_COLOR", "MXSYNC_"))}
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "mxsync", "apply", "-f", path,
                             "--auto-approve", "--no-color"], env={**base, **env},
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    shown = drain(master).decode()
    out = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == 0, (out, shown)
    items = sum(int(p.split()[0]) for p in _closing(out, "Plan: "))
    counts = re.findall(r"Applying: (\d+)/(\d+) changes done", shown)
    assert counts and {int(total) for _, total in counts} == {items}, shown
    assert int(counts[-1][0]) == items, shown
    report = [ln.split() for ln in out.splitlines() if re.match(r"^  (ok|failed|skipped) ", ln)]
    assert sum(1 for words in report if words[1] in COUNTED) == items, out
    assert any(words[1] == "test" for words in report), out  # shown, and not counted


def _resource(doc: dict[str, Any], address: str) -> dict[str, Any]:
    return next(r for r in doc["resource_changes"] if r["address"] == address)


def test_a_replace_names_its_new_credential_only_once_it_exists(
        new_org: OrgFactory, tmp_path: Path) -> None:
    org, path, env = busy_org(new_org, tmp_path)
    p, assistant = f"{org.id}/xai/p", f"{org.id}/xai/settings/assistant"
    plan = json.loads(mxsync("plan", "-f", path, "--json", env=env).out)
    assert _resource(plan, p)["change"]["after"]["credential_id"] is None
    assert _resource(plan, assistant)["change"]["after"]["credential_id"] is None

    run = mxsync("apply", "-f", path, "--auto-approve", "--json", env=env)
    assert run.code == 0, run.both
    doc = json.loads(run.out)
    new_id = next(c["credential_id"] for c in org.xai() if c["display_name"] == "p")
    assert new_id != OLD_ID
    assert _resource(doc["plan"], p)["change"]["after"]["credential_id"] == new_id
    assert _resource(doc["plan"], assistant)["change"]["after"]["credential_id"] == new_id
    steps = [s for o in doc["apply"]["orgs"] for s in o["steps"] if s["address"] == p]
    assert [s["credential_id"] for s in steps if s["action"] == "replace"] == [new_id]
    assert all(s["credential_id"] in (None, new_id) for s in steps), steps


def test_errors_beside_changes_are_in_the_closing_line(new_org: OrgFactory,
                                                       tmp_path: Path) -> None:
    """The closing line (also the Markdown headline a reviewer reads first) counts errors
    even when other orgs have changes: it must not read as a clean plan."""
    good, bad = new_org(), new_org()
    httpx_post_member(good, bad)
    path = write_manifest(tmp_path / "m.yaml", [
        {"id": good.id, "xai": {"credentials": [{"name": "a", "api_key_env": "K1"}]}},
        {"id": bad.id, "xai": {"credentials": [{"name": "b", "api_key_env": "K_UNSET"}]}}])
    for fmt, closing in (("text", "Plan: 1 to create, 0 to replace, 0 to delete, 0 defaults to "
                                  "change; 1 error."),
                         ("markdown", "**Plan: 1 to create, 0 to replace, 0 to delete, 0 defaults "
                                      "to change; 1 error.**")):
        run = mxsync("plan", "-f", path, "--format", fmt, env=env_for(good, K1=fake_key()))
        assert run.code == 1, run.both
        assert closing in run.out, run.out


def httpx_post_member(owner: TestOrg, other: TestOrg) -> None:
    """One token for both orgs (the owner of the first becomes owner of the second)."""
    import httpx

    httpx.post(f"{owner.url}/_emulator/world", json={"users": [
        {"token": owner.token, "memberships": {owner.id: "owner", other.id: "owner"}}]}
               ).raise_for_status()
