"""Planning minted entries (#14), directly on the pure planner: when a key is created, kept,
rotated, and when a key at xAI is an orphan to delete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from mxsync import ownership
from mxsync.manifest.model import CredentialEntry, MintSpec, OrgEntry, XaiManagement
from mxsync.minting import names
from mxsync.minting.state import XaiKeyView
from mxsync.plan import OrgPlan
from mxsync.planner import plan_org
from mxsync.render.reasons import sentence
from mxsync.render.text import render_org
from mxsync.state import LiveCredential, LiveOrg

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ACLS = ("api-key:model:grok-4-fast", "api-key:endpoint:chat")
MGMT = XaiManagement(team_id="team-a", key_env="XAI_MGMT_TEST", url="https://management-api.x.ai")


def entry(**kw: object) -> CredentialEntry:
    fields: dict[str, object] = {"name": "minted", "key": None, "mint": MintSpec(ACLS, qpm=600),
                                 "rotate_after_s": 30 * 86_400}
    fields.update(kw)
    return CredentialEntry(**fields)  # type: ignore[arg-type]


def org(*entries: CredentialEntry) -> OrgEntry:
    return OrgEntry(id="org-a", default="minted", credentials=entries or (entry(),),
                    xai_management=MGMT)


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def key(key_id: str = "k1", *, age_days: float = 1, name: str | None = None, **kw: object
        ) -> XaiKeyView:
    fields: dict[str, object] = {
        "api_key_id": key_id, "name": name or f"mxsync/team/minted/a-{key_id}/org-a",
        "created_at": iso(NOW - timedelta(days=age_days)), "acls": ACLS, "qpm": 600}
    fields.update(kw)
    return XaiKeyView(**fields)  # type: ignore[arg-type]


def cred(cred_id: str = "c1", key_id: str | None = "k1", *, default: bool = True,
         created: str = "2026-11-01T00:00:00Z") -> LiveCredential:
    return LiveCredential(
        id=cred_id, display_name="minted", is_default=default, created_at=created,
        metadata=ownership.managed_metadata({}, "team", "minted", "sha256:00", None, key_id))


SITE = names.site_of("https://api.modulex.dev")


def plan(live_creds: tuple[LiveCredential, ...], keys: tuple[XaiKeyView, ...] | None,
         the_org: OrgEntry | None = None, **kw: object) -> OrgPlan:
    live = LiveOrg(id="org-a", credentials=live_creds, xai_keys=keys)
    return plan_org(the_org or org(), "team", "MODULEX_API_KEY", {}, live, now=NOW,
                    site=SITE, **kw)  # type: ignore[arg-type]


def test_an_absent_minted_entry_is_a_create_that_names_no_key() -> None:
    planned = plan((), ())
    [change] = planned.changes
    assert (change.action, change.label, change.reason.code) == ("create", "create (minted)", "absent")
    assert change.key is None and change.fingerprint is None and change.make_default
    assert change.mint is not None
    assert change.mint.team_id == "team-a" and change.mint.key_env == "XAI_MGMT_TEST"
    assert list(change.mint.acls) == list(ACLS) and change.mint.qpm == 600
    text = "\n".join(render_org(planned, color=False))
    assert "+ create (minted) org-a/xai/minted" in text and "minted at xAI in team team-a" in text


def test_a_healthy_young_key_is_kept() -> None:
    assert plan((cred(),), (key(),)).changes == ()


def test_a_key_older_than_rotate_after_is_rotated_and_the_plan_says_its_age() -> None:
    planned = plan((cred(),), (key(age_days=40.5),))
    [change] = planned.changes
    assert (change.action, change.label, change.reason.code) == ("replace", "rotate", "rotation-due")
    assert change.credential_id == "c1" and change.mint and change.mint.old_key_id == "k1"
    assert sentence(change.reason) == "the key is 40d 12h old, rotate_after is 30d"
    assert "-/+ rotate" in "\n".join(render_org(planned, color=False))


def test_without_rotate_after_age_alone_never_rotates() -> None:
    assert plan((cred(),), (key(age_days=4000),), org(entry(rotate_after_s=None))).changes == ()


def test_a_key_deleted_or_disabled_out_of_band_is_rotated() -> None:
    [gone] = plan((cred(),), ()).changes
    assert (gone.action, gone.reason.code) == ("replace", "xai-key-missing")
    assert "no longer exists at xAI" in sentence(gone.reason)
    [disabled] = plan((cred(),), (key(disabled=True),)).changes
    assert (disabled.action, disabled.reason.code) == ("replace", "xai-key-disabled")
    [expired] = plan((cred(),), (key(expires_at=iso(NOW - timedelta(hours=1))),)).changes
    assert expired.reason.code == "xai-key-expired"


def test_changed_mint_settings_rotate_and_say_what_changed() -> None:
    changed = org(entry(mint=MintSpec(("api-key:model:*", "api-key:endpoint:chat"), qpm=600)))
    [change] = plan((cred(),), (key(),), changed).changes
    assert change.reason.code == "mint-changed"
    assert "acls" in change.reason.params["fields"]
    [limits] = plan((cred(),), (key(qpm=60),)).changes
    assert limits.reason.params["fields"] == {"qpm": [60, 600]}


def test_replace_forces_a_rotation_of_that_entry_only() -> None:
    [change] = plan((cred(),), (key(),), forced=frozenset({"minted"})).changes
    assert change.reason.code == "replace-forced" and change.label == "rotate"


def test_two_live_credentials_after_an_interrupted_rotation_keep_the_newer_key() -> None:
    old = cred("c-old", "k-old", default=True, created="2026-11-01T00:00:00Z")
    new = cred("c-new", "k-new", default=False, created="2026-11-28T11:00:00Z")
    planned = plan((old, new), (key("k-old"), key("k-new", age_days=0.05)))
    by_action = {c.action: c for c in planned.changes}
    assert set(by_action) == {"set-default", "delete"}
    assert by_action["set-default"].credential_id == "c-new"
    delete = by_action["delete"]
    assert delete.credential_id == "c-old" and delete.mint and delete.mint.old_key_id == "k-old"
    assert delete.depends_on  # the default moves first


def test_only_this_owners_unreferenced_keys_for_this_org_are_orphans() -> None:
    mine = key("k-lost", name=f"mxsync/team/minted/20261128T000000Z-aa-{SITE}/org-a")
    other_owner = key("k-x", name=f"mxsync/someone/minted/20261128T000000Z-bb-{SITE}/org-a")
    other_org = key("k-y", name=f"mxsync/team/minted/20261128T000000Z-cc-{SITE}/org-b")
    # Same owner and org id, minted for another ModuleX (staging, the emulator): not ours
    # to judge, since the credential holding it lives in a service this run cannot see.
    other_site = key("k-s", name="mxsync/team/minted/20261128T000000Z-dd-0badc0de/org-a")
    older_format = key("k-o", name="mxsync/team/minted/20261128T000000Z-ee/org-a")
    by_hand = key("k-z", name="made by a person")
    planned = plan((cred(),), (key(), mine, other_owner, other_org, other_site, older_format,
                               by_hand))
    [orphan] = planned.changes
    assert (orphan.action, orphan.credential_id, orphan.reason.code) == ("delete", None, "xai-orphan")
    assert orphan.mint and orphan.mint.old_key_id == "k-lost"
    assert orphan.address == "org-a/xai/minted[xai key k-lost]"


def test_a_key_still_referenced_by_any_credential_is_never_an_orphan() -> None:
    named = key("k1", name="mxsync/team/minted/20261128T000000Z-aa/org-a")
    assert plan((cred(),), (named,)).changes == ()


def test_a_pruned_minted_credential_takes_its_xai_key_along() -> None:
    other = entry(name="other")
    planned = plan((cred(),), (key(),), OrgEntry(id="org-a", credentials=(other,),
                                                 xai_management=MGMT), prune=True)
    delete = next(c for c in planned.changes if c.action == "delete")
    assert delete.credential_id == "c1" and delete.mint and delete.mint.old_key_id == "k1"


@given(owner=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True),
       entry_name=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True),
       org_id=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1,
                      max_size=40))
def test_a_minted_keys_name_always_reads_back_as_its_owner_org_and_entry(
        owner: str, entry_name: str, org_id: str) -> None:
    name = str(names.new_name(owner, org_id, entry_name, SITE, NOW))
    parsed = names.owned(name, owner, org_id, SITE)
    assert parsed is not None and (parsed.entry, parsed.org) == (entry_name, org_id)
    assert names.owned(name, owner + "x", org_id, SITE) is None
    assert names.owned(name, owner, org_id + "x", SITE) is None
    assert names.owned(name, owner, org_id, names.site_of("https://staging.example")) is None
    assert names.owned(name, owner, org_id, "") is None


def test_a_team_that_was_not_read_is_an_error_never_a_rotation() -> None:
    planned = plan((cred(),), None)
    assert planned.changes == () and [e.code for e in planned.errors] == ["xai-unread"]
