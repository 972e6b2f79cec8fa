"""The executor's safety rules where the API fails, over the in-memory API."""

from __future__ import annotations

import asyncio
from typing import Any

from mxsync import ownership
from mxsync.api import ApiError
from mxsync.emulator.store import World
from mxsync.executor import execute
from mxsync.flows.common import RunOptions
from mxsync.flows.plan import read_and_plan
from mxsync.inputs import Inputs
from mxsync.manifest.model import CredentialEntry, Manifest, OrgEntry
from mxsync.outcomes import StepCode
from mxsync.render.outcomes import step_message
from mxsync.secrets import KeySource, Secret, fingerprint
from tests.memory_api import MemoryApi

TOKEN = "mx_live_memory"
OLD, NEW, OTHER = (f"xai-{n}{'x' * 24}" for n in ("old", "new", "other"))


class FailingSetDefault(MemoryApi):
    async def set_default(self, token: Secret, org: str, credential_id: str) -> dict[str, Any]:
        raise ApiError(503, "unavailable", "POST", "/set-default", org)


def test_replace_keeps_the_old_default_holder_when_the_default_cannot_move() -> None:
    """Entry a (the default today) is rotated while the manifest makes b the default: if the
    set-default to b fails, a's old credential must stay, or the org has no default."""
    world = World()
    world.merge_fixture({
        "users": [{"token": TOKEN, "memberships": {"org": "owner"}}],
        "orgs": [{"id": "org", "credentials": [
            {"integration_name": "xai", "display_name": name, "api_key": key,
             "is_default": name == "a",
             "metadata": ownership.managed_metadata({}, "t", name, fingerprint(key), None)}
            for name, key in (("a", OLD), ("b", OTHER))]}]})
    api = FailingSetDefault(world, TOKEN)
    org = OrgEntry(id="org", default="b", credentials=(
        CredentialEntry(name="a", key=KeySource(env="A"), test=False),
        CredentialEntry(name="b", key=KeySource(env="B"), test=False)))
    manifest = Manifest(owner="t", orgs=(org,))
    secrets = Inputs({"org": Secret(TOKEN)}, {("org", "a"): Secret(NEW), ("org", "b"): Secret(OTHER)})

    async def run() -> Any:
        plan = await read_and_plan(api, manifest, [org], secrets, RunOptions())  # type: ignore[arg-type]
        assert [c.action for c in plan.changes] == ["replace", "set-default"]
        return await execute(api, plan, secrets,  # type: ignore[arg-type]
                             check_stale=False)

    report = asyncio.run(run())
    assert report.failed
    steps = {s.action: s for s in report.orgs[0].steps}
    assert steps["replace"].status == "failed" and steps["replace"].code == StepCode.KEPT_OLD_DEFAULT
    assert "kept the old one" in step_message(steps["replace"])
    keys = sorted(c.api_key for c in world.credentials.values())
    assert keys == sorted([OLD, NEW, OTHER])  # the old key's credential is still there
    assert [c.api_key for c in world.credentials.values() if c.is_default] == [OLD]


class FailingComposer(MemoryApi):
    async def put_composer_llm(self, token: Secret, org: str, **kwargs: Any) -> dict[str, Any]:
        raise ApiError(503, "unavailable", "PUT", "/organizations/settings/composer-llm", org)


def test_replace_keeps_the_pinned_credential_when_the_pin_cannot_move() -> None:
    """Entry a's credential runs the Assistant and a is rotated: if moving the pin fails, the
    old credential must stay, or the Assistant would run on a deleted credential."""
    world = World()
    world.merge_fixture({
        "users": [{"token": TOKEN, "memberships": {"org": "owner"}}],
        "orgs": [{"id": "org", "credentials": [
            {"integration_name": "xai", "display_name": "a", "api_key": OLD, "is_default": True,
             "credential_id": "old-a",
             "metadata": ownership.managed_metadata({}, "t", "a", fingerprint(OLD), None)}],
            "settings": {"composer_llm": {"integration_name": "xai", "provider_id": "xai",
                                          "model_id": "grok-4-fast", "credential_id": "old-a"}}}]})
    api = FailingComposer(world, TOKEN)
    org = OrgEntry(id="org", credentials=(CredentialEntry(name="a", key=KeySource(env="A"),
                                                          test=False),))
    manifest = Manifest(owner="t", orgs=(org,))
    secrets = Inputs({"org": Secret(TOKEN)}, {("org", "a"): Secret(NEW)})

    async def run() -> Any:
        plan = await read_and_plan(api, manifest, [org], secrets, RunOptions())
        assert [c.action for c in plan.changes] == ["replace", "set-assistant"]
        return await execute(api, plan, secrets, check_stale=False)  # type: ignore[arg-type]

    report = asyncio.run(run())
    steps = {s.action: s for s in report.orgs[0].steps}
    assert steps["replace"].status == "failed" and steps["replace"].code == StepCode.KEPT_OLD_PINNED
    assert "Assistant runs on it" in step_message(steps["replace"])
    assert "old-a" in world.credentials
    assert world.orgs["org"].composer_llm["credential_id"] == "old-a"


class AdoptedMeanwhile(MemoryApi):
    """Another owner adopts the credential between the plan's read and the write."""

    async def get_credential(self, token: Secret, org: str, credential_id: str, *,
                             include_masked: bool = False) -> dict[str, Any]:
        if not include_masked:
            cred = self.world.credentials[credential_id]
            cred.metadata = ownership.managed_metadata({}, "rival", "theirs", "sha256:0", None)
        return await super().get_credential(token, org, credential_id,
                                            include_masked=include_masked)


def test_an_adoption_rereads_and_leaves_a_credential_another_owner_took() -> None:
    world = World()
    world.merge_fixture({
        "users": [{"token": TOKEN, "memberships": {"org": "owner"}}],
        "orgs": [{"id": "org", "credentials": [
            {"integration_name": "xai", "display_name": "a", "api_key": OLD,
             "credential_id": "c1"}]}]})
    api = AdoptedMeanwhile(world, TOKEN)
    org = OrgEntry(id="org", credentials=(CredentialEntry(name="a", key=KeySource(env="A")),))
    manifest = Manifest(owner="t", orgs=(org,))
    secrets = Inputs({"org": Secret(TOKEN)}, {("org", "a"): Secret(OLD)})

    async def run() -> Any:
        plan = await read_and_plan(api, manifest, [org], secrets, RunOptions())
        assert [c.action for c in plan.changes] == ["adopt"]
        return await execute(api, plan, secrets, check_stale=False)  # type: ignore[arg-type]

    report = asyncio.run(run())
    [step] = report.orgs[0].steps
    assert step.status == "failed" and step.code == StepCode.TAKEN_BY_OWNER
    assert step.params == {"owner": "rival"} and "owner 'rival'" in step_message(step)
    assert world.credentials["c1"].metadata[ownership.OWNER] == "rival"


def test_apply_never_changes_another_owners_credential_whatever_the_plan_says() -> None:
    """A plan (say, an edited file) that deletes or relabels another owner's credential, or
    writes another owner's name into the metadata: the executor checks the live record and
    computes ownership itself."""
    from mxsync.plan import Action, Change, OrgPlan, Plan, Reason, ReasonCode

    world = World()
    world.merge_fixture({
        "users": [{"token": TOKEN, "memberships": {"org": "owner"}}],
        "orgs": [{"id": "org", "credentials": [
            {"integration_name": "xai", "display_name": "theirs", "api_key": OTHER,
             "is_default": True,
             "metadata": ownership.managed_metadata({}, "other", "theirs", fingerprint(OTHER),
                                                    None)}]}]})
    api = MemoryApi(world, TOKEN)
    (theirs,) = world.credentials
    why = Reason(ReasonCode.PRUNED)
    plan = Plan(owner="t", orgs=(OrgPlan(org="org", token_env="T", changes=(
        Change(action=Action.DELETE, org="org", name="theirs", reason=why, credential_id=theirs),
        Change(action=Action.UPDATE, org="org", name="theirs", reason=why, credential_id=theirs,
               metadata={"managed_by": "mxsync", "mxsync_owner": "t"}),
        Change(action=Action.CREATE, org="org", name="mine", reason=why, key=KeySource(env="M"),
               fingerprint=fingerprint(NEW),
               metadata={"managed_by": "mxsync", "mxsync_owner": "other", "mxsync_name": "x"}),
    )),))
    secrets = Inputs({"org": Secret(TOKEN)}, {("org", "mine"): Secret(NEW)})
    report = asyncio.run(execute(api, plan, secrets, check_stale=False))  # type: ignore[arg-type]
    steps = {s.action: s for s in report.orgs[0].steps}
    assert steps["delete"].code == StepCode.NOT_OURS and steps["update"].code == StepCode.NOT_OURS
    assert world.credentials[theirs].metadata["mxsync_owner"] == "other"
    created = [c for c in world.credentials.values() if c.api_key == NEW]
    assert [(c.metadata["mxsync_owner"], c.metadata["mxsync_name"]) for c in created] == [
        ("t", "mine")]
