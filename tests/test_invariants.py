"""Invariants of plan + apply, for any live state and any manifest (hypothesis).

- After apply, planning again finds nothing to do.
- Nothing that is not ours (other owners, unmarked credentials whose key is not
  the entry's) is changed or deleted.
- The manifest's default is the org's default afterwards.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mxsync import ownership
from mxsync.emulator.store import World
from mxsync.executor import execute
from mxsync.flows.common import RunOptions
from mxsync.flows.plan import read_and_plan
from mxsync.inputs import Inputs
from mxsync.manifest.model import AssistantSetting, CredentialEntry, Manifest, OrgEntry
from mxsync.secrets import KeySource, Secret, fingerprint
from tests.memory_api import MemoryApi

OWNER = "team"
TOKEN = "mx_live_memory"
KEYS = [f"xai-key{i}{'x' * 24}" for i in range(4)]
GATEWAY = "https://gw.example.com/v1"
EXPIRY = "2027-01-01T00:00:00Z"

names = st.sampled_from(["a", "b", "c"])
keys = st.sampled_from(KEYS)


@st.composite
def live_credential(draw: st.DrawFn) -> dict[str, Any]:
    key = draw(keys)
    kind = draw(st.sampled_from(["unmarked", "ours", "ours", "other-owner", "labels-only"]))
    display = draw(st.sampled_from(["a", "b", "c", "legacy"]))
    metadata: dict[str, Any] | None = None
    if kind in ("ours", "other-owner"):
        claimed = draw(st.sampled_from(["a", "b", "c", "old"]))
        # mxsync writes the fingerprint of the key it stores; the API never shows the key, so
        # a hand-edited fingerprint is trusted (a documented limit) and not generated here.
        metadata = ownership.managed_metadata(
            draw(st.sampled_from([{}, {"team": "ml"}])),
            OWNER if kind == "ours" else "someone-else", claimed, fingerprint(key),
            draw(st.sampled_from([None, GATEWAY])))
    elif kind == "labels-only":
        metadata = {"team": "ml"}
    return {"integration_name": "xai", "display_name": display, "api_key": key,
            "metadata": metadata, "is_default": draw(st.booleans()),
            "expires_at": draw(st.sampled_from([None, EXPIRY]))}


@st.composite
def org_spec(draw: st.DrawFn) -> tuple[OrgEntry, dict[str, str]]:
    chosen = draw(st.lists(names, unique=True, max_size=3))
    entries, entry_keys = [], {}
    for name in chosen:
        entry_keys[name] = draw(keys)
        entries.append(CredentialEntry(
            name=name, key=KeySource(env=f"XAI_{name}"),
            base_url=draw(st.sampled_from([None, GATEWAY])),
            expires_at=draw(st.sampled_from([None, EXPIRY, "2028-01-01T00:00:00Z"])),
            labels=draw(st.sampled_from([{}, {"team": "ml"}, {"team": "infra"}])),
            test=draw(st.booleans()),
        ))
    default = draw(st.sampled_from([None, *chosen]))
    assistant = None
    if chosen and draw(st.booleans()):
        assistant = AssistantSetting(model=draw(st.sampled_from(["grok-4-fast", "grok-code-fast-1"])),
                                     credential=draw(st.sampled_from(chosen)))
    models = draw(st.sampled_from([None, (), ("grok-4-fast",), ("grok-4-fast", "grok-4-0709")]))
    org = OrgEntry(id="org", credentials=tuple(entries), default=default, prune=draw(st.booleans()),
                   assistant=assistant, models=models)
    return org, entry_keys


def snapshot(world: World) -> dict[str, tuple[str, Any]]:
    return {c.credential_id: (c.display_name, c.metadata, c.api_key)
            for c in world.credentials.values()}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(live_credential(), max_size=6), org_spec(), st.integers(0, 6))
def test_after_apply_the_plan_is_empty_and_others_untouched(
    live: list[dict[str, Any]], spec: tuple[OrgEntry, dict[str, str]], pinned: int
) -> None:
    org, entry_keys = spec
    world = World()
    for i, cred in enumerate(live):
        cred["credential_id"] = f"cred-{i}"
    # The Assistant may run on any live credential (or on none, when `pinned` is past the end).
    pin = ({"integration_name": "xai", "provider_id": "xai", "model_id": "grok-4-fast",
            "credential_id": f"cred-{pinned}"} if pinned < len(live) else None)
    world.merge_fixture({"users": [{"token": TOKEN, "memberships": {"org": "owner"}}],
                         "orgs": [{"id": "org", "credentials": live,
                                   "settings": {"composer_llm": pin}}]})
    api = MemoryApi(world, TOKEN)
    manifest = Manifest(owner=OWNER, orgs=(org,))
    secrets = Inputs(tokens={"org": Secret(TOKEN)},
                      keys={("org", n): Secret(k) for n, k in entry_keys.items()})
    before = snapshot(world)

    async def plan_once() -> Any:
        plan = await read_and_plan(api, manifest, [org], secrets, RunOptions())  # type: ignore[arg-type]
        return plan

    plan = asyncio.run(plan_once())
    assume(not plan.errors)  # conflicts are refused before anything is done: nothing to apply
    inputs = secrets
    report = asyncio.run(execute(api, plan, inputs, check_stale=False))  # type: ignore[arg-type]
    assert not report.failed, report.to_json()

    again = asyncio.run(plan_once())
    assert not again.errors
    assert again.changes == [], (plan.changes, again.changes)

    after = snapshot(world)
    claimed = {c.credential_id for c in plan.changes if c.action in ("adopt", "replace")}
    for cid, (display, metadata, key) in before.items():
        if ownership.owned_by(metadata, OWNER) or cid in claimed:
            continue
        assert after.get(cid) == (display, metadata, key), f"{cid} is not ours but was changed"
    if org.default:
        defaults = [c for c in world.credentials.values() if c.is_default]
        assert len(defaults) == 1
        assert (defaults[0].metadata or {}).get(ownership.NAME) == org.default
        assert ownership.owned_by(defaults[0].metadata, OWNER)
    for name, key in entry_keys.items():
        holders = [c for c in world.credentials.values()
                   if ownership.owned_by(c.metadata, OWNER) and c.metadata.get(ownership.NAME) == name]
        assert len(holders) == 1, f"entry {name} has {len(holders)} credentials"
        assert holders[0].api_key == key
    composer = world.orgs["org"].composer_llm
    if composer is not None:  # never left on a credential that no longer exists
        assert composer["credential_id"] in world.credentials, "the Assistant's pin dangles"
    if org.assistant is not None:
        assert composer is not None and composer["model_id"] == org.assistant.model
        on = world.credentials[composer["credential_id"]]
        assert (on.metadata or {}).get(ownership.NAME) == org.assistant.credential
