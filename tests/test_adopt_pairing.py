"""Import then plan, as pure functions, over arbitrary live orgs: every live credential maps
to exactly one entry and is adopted as it is (issue #24), whatever the display names."""

from __future__ import annotations

import random
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mxsync.importer import import_orgs
from mxsync.manifest import load
from mxsync.plan import Plan
from mxsync.planner import make_plan
from mxsync.secrets import Secret
from mxsync.state import LiveCredential, LiveOrg

OWNER = "platform"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
KEYS = [Secret(f"xai-{i}KEY{'0' * 24}{i:04d}") for i in range(4)]
# Display names with control characters are not written into a manifest (see importer).
PRINTABLE = st.characters(blacklist_categories=("Cc", "Cs"))
NAMES = st.sampled_from(["test", "Test", "test", "prod", "Prod", "Ünïcødé kéy", "", " ",
                         "x" * 90, "my key", "my-key", "My Key!", "credential"])


@st.composite
def live_orgs(draw: st.DrawFn) -> tuple[LiveOrg, dict[str, Secret]]:
    count = draw(st.integers(min_value=1, max_value=8))
    default = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=count - 1)))
    creds, key_of = [], {}
    for i in range(count):
        key = KEYS[draw(st.integers(min_value=0, max_value=len(KEYS) - 1))]  # duplicates too
        secret = key.reveal()
        expired = draw(st.booleans())
        cid = f"cred-{i:02d}"
        creds.append(LiveCredential(
            id=cid, display_name=draw(NAMES) + draw(st.text(PRINTABLE, max_size=3)),
            is_default=i == default,
            expires_at="2025-09-30T00:00:00Z" if expired else None,
            created_at=f"2026-01-01T00:00:{i:02d}Z", masked=f"{secret[:8]}...{secret[-4:]}"))
        key_of[cid] = key
    return LiveOrg(id="org-w", credentials=tuple(creds)), key_of


def plan_imported(state: LiveOrg, key_for: dict[str, Secret]) -> Plan:
    imported = import_orgs([state], OWNER, {})
    with tempfile.TemporaryDirectory() as folder:  # what import writes is what validate takes
        path = Path(folder) / "m.yaml"
        path.write_text(imported.text("2026-06-01T00:00:00Z", "MODULEX_API_KEY"), "utf-8")
        loaded = load([str(path)], now=NOW)
        assert loaded.problems == []
    manifest = imported.manifest("MODULEX_API_KEY")
    assert loaded.manifest is not None
    assert [e.display_name for o in loaded.manifest.orgs for e in o.credentials] == [
        e.display_name for o in manifest.orgs for e in o.credentials]
    keys = {(o.id, e.name): key_for[e.adopt_id or ""] for o in manifest.orgs
            for e in o.credentials}
    return make_plan(manifest, keys, {state.id: state}, now=NOW)


@settings(max_examples=150, deadline=None)
@given(live_orgs())
def test_every_live_credential_is_adopted_once_as_it_is(world: tuple[LiveOrg, dict[str, Secret]]
                                                        ) -> None:
    state, key_of = world
    plan = plan_imported(state, key_of)
    assert plan.errors == []
    assert [c.action for c in plan.changes] == ["adopt"] * len(state.credentials)
    assert sorted(c.credential_id or "" for c in plan.changes) == sorted(
        c.id for c in state.credentials)
    assert all(c.display_name is None for c in plan.changes)  # nothing renamed


@settings(max_examples=150, deadline=None)
@given(live_orgs(), st.randoms(use_true_random=False))
def test_wrong_keys_are_errors_of_their_entries_never_creates(
        world: tuple[LiveOrg, dict[str, Secret]], rnd: random.Random) -> None:
    state, key_of = world
    ids = list(key_of)
    shuffled = dict(zip(ids, rnd.sample([key_of[i] for i in ids], len(ids)), strict=True))
    plan = plan_imported(state, shuffled)
    assert {c.action for c in plan.changes} <= {"adopt"}
    adopted = [c.credential_id for c in plan.changes]
    assert len(set(adopted)) == len(adopted)
    wrong = {i for i in ids if shuffled[i].reveal() != key_of[i].reveal()}
    assert {c.credential_id for c in plan.changes} == set(ids) - wrong
    assert len(plan.errors) == len(wrong)
    assert all(e.code == "adopt-key-mismatch" and e.params["entry"] for _, e in plan.errors)
