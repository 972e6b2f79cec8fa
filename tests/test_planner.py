"""The planner, directly: one case per rule. Pure functions, no I/O."""

from __future__ import annotations

from typing import Any

import pytest

from mxsync import ownership
from mxsync.manifest.model import CredentialEntry, Manifest, OrgEntry
from mxsync.plan import Change, Plan
from mxsync.planner import Target, make_plan
from mxsync.render.reasons import sentence
from mxsync.render.text import change_diff
from mxsync.secrets import KeySource, Secret
from mxsync.state import LiveCredential, LiveOrg

OWNER = "team"
KEYS = {name: Secret(f"xai-{name}KEY{'0' * 24}") for name in ("a", "b", "c", "new")}


def entry(name: str, **kwargs: Any) -> CredentialEntry:
    return CredentialEntry(name=name, key=KeySource(env=f"XAI_{name.upper()}"), **kwargs)


def ours(cid: str, name: str, key: str | None = None, *, default: bool = False,
         labels: dict | None = None, base_url: str | None = None, expires: str | None = None,
         owner: str = OWNER, display: str | None = None) -> LiveCredential:
    fp = KEYS[key or name].fingerprint
    meta = ownership.managed_metadata(labels or {}, owner, name, fp, base_url)
    return LiveCredential(id=cid, display_name=display or name, is_default=default, metadata=meta,
                          expires_at=expires, created_at=f"2026-01-0{len(cid) % 9 + 1}")


def unmarked(cid: str, name: str, key: str, *, default: bool = False) -> LiveCredential:
    secret = KEYS[key].reveal()
    return LiveCredential(id=cid, display_name=name, is_default=default,
                          masked=f"{secret[:8]}...{secret[-4:]}")


def plan_for(entries: list[CredentialEntry], live: list[LiveCredential], *, default: str | None = None,
             prune: bool = False, key_of: dict[str, str] | None = None, models: tuple | None = None,
             require: tuple = (), skip_tests: bool = False, targets: tuple = ()) -> Plan:
    org = OrgEntry(id="org", credentials=tuple(entries), default=default, prune=prune,
                   require_models=require)
    manifest = Manifest(owner=OWNER, orgs=(org,))
    key_of = key_of or {}
    keys = {("org", e.name): KEYS[key_of.get(e.name, e.name)] for e in entries}
    state = LiveOrg(id="org", credentials=tuple(live), models=models)
    return make_plan(manifest, keys, {"org": state}, skip_tests=skip_tests, targets=targets)


def actions(plan: Plan) -> list[tuple[str, str]]:
    return [(c.action, c.name) for c in plan.changes]


def only(plan: Plan, action: str) -> Change:
    found = [c for c in plan.changes if c.action == action]
    assert len(found) == 1, plan.changes
    return found[0]


def test_create_in_empty_org_folds_default_into_create() -> None:
    plan = plan_for([entry("a"), entry("b")], [], default="b")
    assert actions(plan) == [("create", "a"), ("create", "b")]
    a, b = plan.changes
    assert (a.make_default, b.make_default) == (False, True)
    assert a.test and a.key == KeySource(env="XAI_A") and a.fingerprint == KEYS["a"].fingerprint
    assert a.metadata == {"managed_by": "mxsync", "mxsync_owner": OWNER, "mxsync_name": "a",
                          "mxsync_key_fingerprint": KEYS["a"].fingerprint, "mxsync_base_url": ""}
    assert plan.summary()["set_default"] == 1


def test_first_credential_needs_no_default_call() -> None:
    plan = plan_for([entry("a")], [])
    assert actions(plan) == [("create", "a")]
    assert not plan.changes[0].make_default
    assert plan.summary()["set_default"] == 0


def test_matching_state_plans_nothing() -> None:
    plan = plan_for([entry("a", labels={})], [ours("1", "a", default=True)], default="a")
    assert plan.changes == [] and not plan.has_changes


@pytest.mark.parametrize(("live", "reason"), [
    (ours("1", "a", key="b", default=True), "key rotated: "),
    (ours("1", "a", default=True, base_url="https://gw.example.com/v1"), "base_url changed"),
    (ours("1", "a", default=True, expires="2027-01-01T00:00:00Z"), "expires_at changed"),
])
def test_replace_reasons_and_default_moves_with_it(live: LiveCredential, reason: str) -> None:
    plan = plan_for([entry("a")], [live])
    change = only(plan, "replace")
    assert change.reason.code == "immutable-changed" and change.credential_id == "1"
    assert reason in sentence(change.reason)
    assert change.make_default  # the old one held the default
    assert plan.summary() == {"create": 0, "replace": 1, "update": 0, "delete": 0, "adopt": 0,
                              "set_default": 0, "set_models": 0, "set_assistant": 0,
                              "unmanaged": 0, "errors": 0}


def test_key_rotation_reason_names_both_fingerprints() -> None:
    change = only(plan_for([entry("a")], [ours("1", "a", key="b")]), "replace")
    assert change.reason.params["fields"] == {
        "key_fingerprint": [KEYS["b"].fingerprint, KEYS["a"].fingerprint]}
    assert f"{KEYS['b'].fingerprint} -> {KEYS['a'].fingerprint}" in sentence(change.reason)


def test_label_change_is_an_update_with_field_diff() -> None:
    plan = plan_for([entry("a", labels={"team": "infra", "new": "x"})],
                    [ours("1", "a", labels={"team": "ml", "gone": "y"})])
    change = only(plan, "update")
    assert change.credential_id == "1" and change.display_name is None
    assert change_diff(change) == ('- labels.gone: "y"', '+ labels.new: "x"',
                                   '~ labels.team: "ml" -> "infra"')
    assert change.metadata is not None and change.metadata["team"] == "infra"


def test_renamed_in_ui_is_updated_back() -> None:
    change = only(plan_for([entry("a")], [ours("1", "a", display="renamed")]), "update")
    assert change.display_name == "a"
    assert '~ display_name: "renamed" -> "a"' in change_diff(change)


def test_field_diff_keeps_label_names_whole() -> None:
    """A label named like a path fragment (`chroot`) is shown as it is, not cut down."""
    change = only(plan_for([entry("a", labels={"chroot": "/srv", "root": "2"})],
                           [ours("1", "a", labels={"chroot": "/", "root": "1"})]), "update")
    assert change_diff(change) == ('~ labels.chroot: "/" -> "/srv"', '~ labels.root: "1" -> "2"')


def test_field_diff_shows_values_in_plain_words_not_python() -> None:
    """No `None`, no `['...']` reprs: a missing value is `(none)`, a list is shown whole."""
    from mxsync.render.diff import field_diff

    assert field_diff({"key_fingerprint": None, "acls": ["api-key:endpoint:chat"]},
                      {"key_fingerprint": "sha256:ab", "acls": ["api-key:endpoint:chat",
                                                                "api-key:model:*"]}) == (
        '~ acls: ["api-key:endpoint:chat"] -> ["api-key:endpoint:chat", "api-key:model:*"]',
        '~ key_fingerprint: (none) -> "sha256:ab"')


def test_unmarked_with_matching_masked_key_is_adopted() -> None:
    plan = plan_for([entry("a")], [unmarked("1", "a", "a", default=True)])
    change = only(plan, "adopt")
    assert change.credential_id == "1"
    assert change.metadata is not None and change.metadata["mxsync_name"] == "a"
    assert plan.summary()["unmanaged"] == 0


def test_unmarked_with_other_key_is_a_conflict_and_untouched() -> None:
    plan = plan_for([entry("a")], [unmarked("1", "a", "b")])
    assert plan.changes == []
    assert len(plan.errors) == 1
    org, error = plan.errors[0]
    assert org == "org" and error.code == "name-taken"
    assert error.params["ids"] == ["1"] and error.params["source"] == "$XAI_A"
    assert "not manage" in sentence(error)


def test_other_owners_credentials_are_never_touched() -> None:
    theirs = ours("1", "b", owner="someone-else", default=True)
    plan = plan_for([entry("a")], [theirs], prune=True)
    assert actions(plan) == [("create", "a")]
    assert plan.summary()["unmanaged"] == 1


@pytest.mark.parametrize("display", ["a", "a "])
def test_another_owners_credential_with_the_entrys_name_is_a_conflict(display: str) -> None:
    """Not a silent second credential of the same name (nor of the name import would give)."""
    theirs = ours("1", "theirs", key="b", owner="someone-else", display=display)
    plan = plan_for([entry("a")], [theirs])
    assert plan.changes == []
    [(_, error)] = plan.errors
    assert error.code == "name-taken-by-owner" and error.params["owner"] == "someone-else"
    assert "Rename the entry" in sentence(error)


def test_orphans_kept_without_prune_and_deleted_with_it() -> None:
    live = [ours("1", "a"), ours("2", "old", key="b")]
    kept = plan_for([entry("a")], live)
    assert kept.changes == [] and kept.orgs[0].orphans == ("old",)
    assert kept.orgs[0].notes[0].code == "orphans-kept"
    assert "prune" in sentence(kept.orgs[0].notes[0])
    pruned = plan_for([entry("a")], live, prune=True)
    change = only(pruned, "delete")
    assert change.credential_id == "2" and change.address == "org/xai/old[2]"


def test_duplicates_keep_the_matching_one_and_move_the_default() -> None:
    live = [ours("1", "a", key="b", default=True), ours("2", "a")]
    plan = plan_for([entry("a")], live)
    assert actions(plan) == [("set-default", "a"), ("delete", "a")]
    set_default, delete = plan.changes
    assert set_default.credential_id == "2" and delete.credential_id == "1"
    assert delete.depends_on == (0,)  # the default is handed on before its holder goes


def test_default_already_right_needs_nothing() -> None:
    live = [ours("1", "a", default=True), ours("2", "b")]
    assert plan_for([entry("a"), entry("b")], live, default="a").changes == []


def test_default_moved_from_unmanaged_to_manifest_default() -> None:
    live = [unmarked("9", "legacy", "c", default=True), ours("1", "a")]
    change = only(plan_for([entry("a")], live, default="a"), "set-default")
    assert change.credential_id == "1" and change.reason.params == {"current": "legacy"}


def test_replace_of_default_when_manifest_names_another_entry() -> None:
    live = [ours("1", "a", key="c", default=True), ours("2", "b")]
    plan = plan_for([entry("a"), entry("b")], live, default="b")
    assert actions(plan) == [("replace", "a"), ("set-default", "b")]
    assert not plan.changes[0].make_default


def test_deleting_the_only_default_without_successor_is_noted() -> None:
    plan = plan_for([entry("a")], [ours("1", "a"), ours("2", "old", key="b", default=True)],
                    prune=True)
    assert actions(plan) == [("delete", "old")]
    assert [n.code for n in plan.orgs[0].notes] == ["default-left-empty"]
    assert "without a default" in sentence(plan.orgs[0].notes[0])


@pytest.mark.parametrize(("test_flag", "skip", "expected"), [
    (True, False, True), (False, False, False), (True, True, False)])
def test_key_tests_can_be_turned_off(test_flag: bool, skip: bool, expected: bool) -> None:
    plan = plan_for([entry("a", test=test_flag)], [], skip_tests=skip)
    assert plan.changes[0].test is expected


def test_required_model_missing_is_an_error() -> None:
    plan = plan_for([entry("a")], [], require=("grok-4-fast", "grok-9"),
                    models=("grok-4-fast",))
    assert [(e.code, e.params["missing"]) for _, e in plan.errors] == [("models-missing", ["grok-9"])]


def test_target_limits_to_one_entry() -> None:
    plan = plan_for([entry("a"), entry("b")], [], default="a", targets=(Target.parse("org/b"),))
    assert actions(plan) == [("create", "b")]


def test_plan_round_trips_through_its_file_format() -> None:
    plan = plan_for([entry("a", labels={"x": "1"})], [ours("1", "a", key="b", default=True),
                                                       ours("2", "zz", key="c")], prune=True)
    assert Plan.from_dict(plan.to_dict()) == plan


def test_display_name_that_maps_to_the_entry_is_adopted_and_renamed() -> None:
    plan = plan_for([entry("My-Key")], [unmarked("1", "My Key", "a")],
                    key_of={"My-Key": "a"})
    change = only(plan, "adopt")
    assert change.credential_id == "1" and change.display_name == "My-Key"


def test_display_name_that_maps_to_the_entry_with_another_key_is_left_alone() -> None:
    plan = plan_for([entry("My-Key")], [unmarked("1", "My Key", "b")], key_of={"My-Key": "a"})
    assert actions(plan) == [("create", "My-Key")]
    assert plan.errors == [] and plan.summary()["unmanaged"] == 1


def test_target_keeps_what_the_targeted_change_depends_on() -> None:
    """Targeting the duplicate's entry must not drop the set-default its delete waits for:
    without it the default holder would be deleted and the org left without a default."""
    live = [ours("1", "a", key="b", default=True), ours("2", "a"), ours("3", "c")]
    plan = plan_for([entry("a"), entry("c")], live, default="c", targets=(Target.parse("org/a"),))
    assert actions(plan) == [("set-default", "c"), ("delete", "a")]
    assert plan.changes[1].credential_id == "1" and plan.changes[1].depends_on == (0,)


def test_taking_the_default_from_another_owner_is_a_conflict_unless_asked() -> None:
    """Two manifests that both set xai.default would flip it on every run."""
    live = [ours("1", "b", owner="other-team", default=True), ours("2", "a")]
    org = OrgEntry(id="org", credentials=(entry("a"),), default="a")
    manifest = Manifest(owner=OWNER, orgs=(org,))
    state = LiveOrg(id="org", credentials=tuple(live))
    plan = make_plan(manifest, {("org", "a"): KEYS["a"]}, {"org": state})
    assert plan.changes == []
    [(_, error)] = plan.errors
    assert error.code == "default-held-by-other-owner" and error.params["owner"] == "other-team"
    assert "--take-default" in sentence(error)
    taken = make_plan(manifest, {("org", "a"): KEYS["a"]}, {"org": state}, take_default=True)
    assert actions(taken) == [("set-default", "a")] and taken.errors == []
