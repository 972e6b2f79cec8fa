"""Minted keys end to end over real HTTP (#14): mint, rotate, clean up, audit.

Each test has its own org, xAI team and management key on the shared emulator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from mxsync import ownership
from mxsync.minting import names
from mxsync.render.outcomes import step_message
from tests.cli_helpers import mxsync
from tests.conftest import OrgFactory
from tests.mint_helpers import MintWorld, mint_world


@pytest.fixture
def world(new_org: OrgFactory, emulator_url: str, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> MintWorld:
    return mint_world(new_org, emulator_url, tmp_path, monkeypatch)


def actions(report: Any) -> list[tuple[str, str]]:
    return [(s.action, s.status) for o in report.orgs for s in o.steps]


def test_the_whole_rotation_mints_stores_moves_and_deletes_the_old_key(world: MintWorld) -> None:
    plan, report = world.apply()
    assert [c.label for c in plan.changes] == ["create (minted)"]
    assert not report.failed
    assert [a for a, _ in actions(report)] == ["mint", "propagate", "test", "create", "default"]
    first = world.assert_converged()
    first_key = first["credentials_metadata"][ownership.XAI_KEY_ID]
    assert first["credentials_metadata"][ownership.FINGERPRINT].startswith("sha256:")

    plan, report = world.apply(replace=(f"{world.org.id}/xai/minted",))
    assert [(c.label, c.reason.code) for c in plan.changes] == [("rotate", "replace-forced")]
    assert not report.failed
    assert [a for a, _ in actions(report)] == ["mint", "propagate", "test", "replace", "revoke"]
    second = world.assert_converged()
    assert second["credential_id"] != first["credential_id"]
    assert second["credentials_metadata"][ownership.XAI_KEY_ID] != first_key
    assert first_key not in {k["apiKeyId"] for k in world.team_keys()}
    assert not world.plan().has_changes


def test_changed_mint_settings_rotate_to_a_key_with_the_new_settings(world: MintWorld) -> None:
    world.apply()
    world.write(qpm=900)
    plan, report = world.apply()
    assert [c.reason.code for c in plan.changes] == ["mint-changed"] and not report.failed
    world.assert_converged(qpm=900)


@pytest.mark.parametrize("how", ["delete", "disable"])
def test_a_key_deleted_or_disabled_at_xai_out_of_band_is_rotated(world: MintWorld, how: str) -> None:
    world.apply()
    key_id = world.assert_converged()["credentials_metadata"][ownership.XAI_KEY_ID]
    with world.team.client() as c:
        if how == "delete":
            c.delete(f"/auth/api-keys/{key_id}").raise_for_status()
        else:
            c.put(f"/auth/api-keys/{key_id}", json={"apiKey": {"disabled": True},
                                                    "fieldMask": "disabled"}).raise_for_status()
    plan, report = world.apply()
    code = "xai-key-missing" if how == "delete" else "xai-key-disabled"
    assert [(c.label, c.reason.code) for c in plan.changes] == [("rotate", code)]
    assert not report.failed
    world.assert_converged()


def test_a_lost_key_named_by_this_owner_is_deleted_and_others_keys_are_not(world: MintWorld) -> None:
    world.apply()
    site = names.site_of(world.org.url)
    lost = world.team.mint(f"mxsync/{world.owner}/minted/20260101T000000Z-dead-{site}/{world.org.id}")
    foreign = world.team.mint(f"mxsync/someone-else/minted/20260101T000000Z-beef-{site}/{world.org.id}")
    by_hand = world.team.mint("a person's key")
    plan, report = world.apply()
    assert [(c.reason.code, (c.mint.old_key_id if c.mint else None)) for c in plan.changes] == [
        ("xai-orphan", lost["apiKeyId"])]
    assert not report.failed
    left = {k["apiKeyId"] for k in world.team_keys()}
    assert lost["apiKeyId"] not in left and {foreign["apiKeyId"], by_hand["apiKeyId"]} <= left


def test_a_key_that_never_propagates_is_deleted_and_nothing_is_stored(
        new_org: OrgFactory, emulator_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    slow = mint_world(new_org, emulator_url, tmp_path, monkeypatch, propagation_s=600)
    monkeypatch.setenv("MXSYNC_XAI_PROPAGATION_TIMEOUT_S", "0.5")
    _, report = slow.apply()
    assert report.failed
    message = next(step_message(s) for o in report.orgs for s in o.steps if s.status == "failed")
    assert "did not propagate within" in message
    assert ("revoke", "ok") in actions(report)
    assert slow.team_keys() == [] and slow.org.xai() == []


class CreateAlwaysFails:
    """The real ModuleX client, except that every `POST /credentials` fails for good."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.creates = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def create_credential(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        from mxsync.errors import MxsyncError

        self.creates += 1
        raise MxsyncError("POST /credentials answered 422: refused")


def test_when_the_modulex_create_fails_for_good_the_minted_key_is_deleted(world: MintWorld) -> None:
    import asyncio

    from mxsync.api import ModulexClient
    from mxsync.executor import execute
    from mxsync.inputs import for_plan

    plan = world.plan()

    async def run() -> Any:
        async with ModulexClient(world.org.url) as client:
            api = CreateAlwaysFails(client)
            report = await execute(api, plan, for_plan(plan), check_stale=False)
            return api.creates, report

    creates, report = asyncio.run(run())
    assert creates == 1 and report.failed
    assert ("mint", "ok") in actions(report) and ("revoke", "ok") in actions(report)
    assert world.team_keys() == [] and world.org.xai() == []


def test_audit_reports_rotation_due_missing_keys_and_orphans(world: MintWorld) -> None:
    world.write(rotate_after="1h")
    world.apply()
    key_id = world.assert_converged()["credentials_metadata"][ownership.XAI_KEY_ID]
    site = names.site_of(world.org.url)
    world.team.mint(f"mxsync/{world.owner}/minted/20260101T000000Z-dead-{site}/{world.org.id}")
    with world.team.client() as c:
        c.put(f"/auth/api-keys/{key_id}", json={"apiKey": {"disabled": True},
                                                "fieldMask": "disabled"}).raise_for_status()
    run = mxsync("audit", "-f", str(world.manifest), "--format", "json", "--as-of",
                 "2099-01-01T00:00:00Z", env=world.env)
    import json

    findings = json.loads(run.out)["findings"]
    codes = sorted(f["code"] for f in findings if f["code"] in
                   ("rotation-due", "xai-key-missing", "xai-orphan"))
    assert codes == ["rotation-due", "xai-key-missing", "xai-orphan"], run.both
    assert run.code == 1  # xai-key-missing is an error
    assert world.team.token not in run.both


def test_replace_refuses_an_entry_whose_key_mxsync_cannot_renew(world: MintWorld) -> None:
    run = mxsync("plan", "-f", str(world.manifest), "--replace", f"{world.org.id}/xai/nope",
                 env=world.env)
    assert run.code == 1 and "no such entry" in run.err and "Traceback" not in run.both


def test_the_management_key_and_minted_keys_never_appear_in_output_plan_files_or_debug_logs(
        world: MintWorld, tmp_path: Path) -> None:
    import re

    planfile = tmp_path / "plan.json"
    runs = [mxsync("--debug", "plan", "-f", str(world.manifest), "--out", str(planfile),
                   env=world.env)]
    runs.append(mxsync("--debug", "apply", str(planfile), env=world.env))
    runs.append(mxsync("--debug", "apply", "-f", str(world.manifest), "--auto-approve", "--replace",
                       f"{world.org.id}/xai/minted", "--json", env=world.env))
    runs.append(mxsync("--debug", "audit", "-f", str(world.manifest), env=world.env))
    assert [r.code for r in runs] == [0, 0, 0, 0], [r.both for r in runs]
    texts = [r.both for r in runs] + [planfile.read_text()]
    for text in texts:
        assert world.team.token not in text
        assert not re.search(r"xai-[A-Za-z0-9_]{20,}", text), "a minted key leaked"
    assert "mxsync.xai" in runs[1].err  # the --debug log did log the Management API calls
    world.assert_converged()


def test_an_unreadable_team_fails_only_that_org_and_says_why(world: MintWorld) -> None:
    env = {**world.env, world.key_env: "mgmt-wrong-key-123456789"}
    run = mxsync("plan", "-f", str(world.manifest), env=env)
    assert run.code == 1 and "could not be read" in run.both and "Traceback" not in run.both
    assert "mgmt-wrong-key-123456789" not in run.both
    httpx.get(world.org.url + "/system/health")  # the emulator is still serving


def test_plan_json_of_minted_changes_follows_the_plan_schema(world: MintWorld) -> None:
    import json

    import jsonschema

    schema = json.loads((Path(__file__).parents[1] / "schemas" / "plan.schema.json").read_text())
    site = names.site_of(world.org.url)
    world.team.mint(f"mxsync/{world.owner}/minted/20260101T000000Z-dead-{site}/{world.org.id}")
    run = mxsync("plan", "-f", str(world.manifest), "--json", env=world.env)
    assert run.code == 0, run.both
    doc = json.loads(run.out)
    jsonschema.validate(doc, schema)
    assert sorted(r["mxsync_actions"][0] for r in doc["resource_changes"]) == ["create", "delete"]
    # and the saved plan file of the same changes follows its own schema
    saved = world.manifest.parent / "plan.json"
    run = mxsync("plan", "-f", str(world.manifest), "--out", str(saved), env=world.env)
    assert run.code == 0, run.both
    planfile = json.loads(saved.read_text())
    jsonschema.validate(planfile, json.loads(
        (Path(__file__).parents[1] / "schemas" / "planfile.schema.json").read_text()))
    assert sorted((c["action"], c["mint"]["team_id"]) for c in planfile["orgs"][0]["changes"]) == [
        ("create", world.team.id), ("delete", world.team.id)]


def test_the_progress_line_of_a_minted_rotation_counts_the_plans_one_change(
        new_org: OrgFactory, emulator_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal, a rotation is one change of the plan: its mint, its waits for
    propagation (one per poll), its key test and the revoke of the old key are steps of
    that change, and the line never counts past the plan's total."""
    import os
    import pty
    import re
    import subprocess
    import sys

    from tests.cli_helpers import drain

    slow = mint_world(new_org, emulator_url, tmp_path, monkeypatch, propagation_s=1.5)
    slow.apply()  # the first key; the rotation below is what the terminal shows
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mxsync", "apply", "-f", str(slow.manifest), "--auto-approve",
         "--replace", f"{slow.org.id}/xai/minted"],
        env={**os.environ, **slow.env}, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=slave)
    os.close(slave)
    shown = drain(master).decode()
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, (out, shown)
    counts = [(int(done), int(total))
              for done, total in re.findall(r"Applying: (\d+)/(\d+) changes done", shown)]
    assert counts == [(1, 1)], shown
    report = out.decode()
    assert "waiting" not in report  # the waits are for the terminal, not the report
    for action in ("mint", "propagate", "test", "replace", "revoke"):
        assert re.search(rf"^  ok +{action} +{re.escape(slow.org.id)}/xai/minted", report, re.M), \
            report
