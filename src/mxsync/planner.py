"""desired x live -> plan. Pure: no I/O, no clock, no environment.

The planner sees keys only as `Secret` objects, and uses them for two pure
questions: what is the fingerprint, and can a masked form be this key.

Rules, per org:
- A live credential belongs to an entry when its metadata carries our marker, the
  manifest's owner and the entry's name. Credentials of other owners and unmarked
  ones are never changed (an unmarked one can only be *adopted*, below).
- Same key, base URL and expiry: keep; differences in display name or labels are an
  `update` (the one in-place change the API allows). Anything else: `replace`
  (create the new credential first, delete the old one last).
- Several credentials claiming one entry: keep one whose key matches (the default
  first), delete the others.
- No credential of ours, but an unmarked one with the entry's display name: `adopt`
  it when its masked key can be the entry's key, else report a conflict.
- The org default: folded into the create (`make_default`) when the default entry is
  created, else a `set-default` only where the live state needs one. The first
  credential of an org becomes default by itself, so that case needs nothing.
- `delete` for ours and no longer listed only with prune; never for anything else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from mxsync import ownership
from mxsync.live import LiveCredential, LiveOrg
from mxsync.manifest.model import CredentialEntry, Manifest, OrgEntry, entry_name_for
from mxsync.plan import ACTION_ORDER, Change, OrgPlan, Plan
from mxsync.secrets import SENSITIVE, Secret, redact


@dataclass(frozen=True)
class Target:
    """`--target ORG[/NAME]`."""

    org: str
    name: str | None = None

    @classmethod
    def parse(cls, text: str) -> Target:
        org, _, name = text.partition("/")
        name = name.removeprefix("xai/") if name else ""
        return cls(org, name or None)


def _pick(creds: Sequence[LiveCredential]) -> LiveCredential:
    """The one to keep among equals: the default, then the oldest, then by id."""
    return sorted(creds, key=lambda c: (not c.is_default, c.created_at or "", c.id))[0]


def _view_live(cred: LiveCredential) -> dict[str, Any]:
    return {
        "display_name": cred.display_name,
        "is_default": cred.is_default,
        "base_url": cred.base_url or None,
        "expires_at": cred.expires_at,
        "key_fingerprint": cred.fingerprint,
        "labels": ownership.labels_of(cred.metadata),
        "credential_id": cred.id,
    }


def _view_entry(entry: CredentialEntry, fingerprint: str, is_default: bool) -> dict[str, Any]:
    return {
        "display_name": entry.name,
        "is_default": is_default,
        "base_url": entry.base_url,
        "expires_at": entry.expires_at,
        "key_fingerprint": fingerprint,
        "labels": dict(entry.labels),
        "api_key": SENSITIVE,
    }


def _field_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[str, ...]:
    """Field-level differences, as `~ metadata.team: "ml" -> "infra"` lines."""
    from deepdiff import DeepDiff

    def show(value: Any) -> str:
        return redact(repr(value) if not isinstance(value, str) else f'"{value}"')

    def name(path: str) -> str:
        return (path.replace("root['", "").replace("']['", ".").replace("']", "")
                .replace("root", ""))

    diff = DeepDiff(dict(before), dict(after), verbose_level=2)
    lines = []
    for path, change in diff.get("values_changed", {}).items():
        lines.append(f"~ {name(path)}: {show(change['old_value'])} -> {show(change['new_value'])}")
    for path, change in diff.get("type_changes", {}).items():
        lines.append(f"~ {name(path)}: {show(change['old_value'])} -> {show(change['new_value'])}")
    for path, value in diff.get("dictionary_item_added", {}).items():
        lines.append(f"+ {name(path)}: {show(value)}")
    for path, value in diff.get("dictionary_item_removed", {}).items():
        lines.append(f"- {name(path)}: {show(value)}")
    return tuple(sorted(lines, key=lambda line: line[2:]))


def _replace_reason(old: LiveCredential, entry: CredentialEntry, fingerprint: str,
                    adopting: bool) -> str:
    reasons = []
    if not adopting and old.fingerprint != fingerprint:
        reasons.append(f"key rotated: {old.fingerprint or 'unknown'} -> {fingerprint}")
    if not adopting and old.base_url != (entry.base_url or ""):
        reasons.append(f"base_url changed: {old.base_url or 'default'} -> {entry.base_url or 'default'}")
    if old.expires_at != entry.expires_at:
        reasons.append(f"expires_at changed: {old.expires_at or 'none'} -> {entry.expires_at or 'none'}")
    return "; ".join(reasons) + " (a key cannot be edited in place)"


@dataclass
class _OrgPlanner:
    org: OrgEntry
    owner: str
    keys: Mapping[str, Secret]
    live: LiveOrg
    prune: bool
    skip_tests: bool
    changes: list[Change] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kept: dict[str, LiveCredential] = field(default_factory=dict)  # entry -> kept credential
    created: dict[str, int] = field(default_factory=dict)  # entry -> index of create/replace
    touched: set[str] = field(default_factory=set)  # live ids claimed or adopted

    def add(self, change: Change) -> int:
        self.changes.append(change)
        return len(self.changes) - 1

    def run(self) -> OrgPlan:
        ours: dict[str, list[LiveCredential]] = {}
        for cred in self.live.credentials:
            owner, name = cred.claim()
            if owner == self.owner and name:
                ours.setdefault(name, []).append(cred)
        for entry in self.org.credentials:
            self.plan_entry(entry, ours.get(entry.name, []))
        listed = {e.name for e in self.org.credentials}
        orphans = []
        for name, creds in sorted(ours.items()):
            if name in listed:
                continue
            for cred in creds:
                self.touched.add(cred.id)
                if self.prune:
                    self.delete(cred, name, "no longer in the manifest (prune)")
                else:
                    orphans.append(name)
        if orphans:
            self.notes.append(
                f"{len(orphans)} credential(s) managed by owner '{self.owner}' are no longer in the "
                f"manifest and are kept: {', '.join(orphans)} (set prune: true or use --prune)")
        self.plan_default()
        self.check_models()
        unmanaged = sum(1 for c in self.live.credentials if c.id not in self.touched)
        return OrgPlan(
            org=self.org.id,
            token_env="",
            label=self.org.label,
            live_digest=self.live.digest,
            changes=self.ordered(),
            unmanaged=unmanaged,
            orphans=tuple(orphans),
            known_ids=tuple(sorted(c.id for c in self.live.credentials)),
            errors=tuple(self.errors),
            notes=tuple(self.notes),
        )

    # -- entries ------------------------------------------------------------------------
    def plan_entry(self, entry: CredentialEntry, mine: list[LiveCredential]) -> None:
        key = self.keys[entry.name]
        fingerprint = key.fingerprint
        adopting = False
        if not mine:
            unmarked = [c for c in self.live.credentials if not ownership.has_marker(c.metadata)]
            exact = [c for c in unmarked if c.display_name == entry.name]
            # `import` turns "My Key" into "My-Key": such a credential is adopted when its key
            # matches, and otherwise is simply not this entry's.
            near = [c for c in unmarked
                    if c.display_name != entry.name and entry_name_for(c.display_name) == entry.name]
            matching = [c for c in exact + near if key.matches_mask(c.masked)]
            if not matching and exact:
                ids = ", ".join(c.id for c in exact)
                self.errors.append(
                    f"entry '{entry.name}' ({entry.where}): the org already has an xai credential "
                    f"named '{entry.name}' (id {ids}) that mxsync does not manage, and its key does not "
                    f"match {entry.key.describe()}. Rename the entry, delete or rename that credential "
                    "in ModuleX, or point the entry at the key it holds (then it is adopted)")
                self.touched.update(c.id for c in exact)
                return
            if not matching:
                self.create(entry, fingerprint, reason="not in the live state")
                return
            mine, adopting = [_pick(matching)], True
        self.touched.update(c.id for c in mine)
        wanted_base = entry.base_url or ""
        good = [c for c in mine if c.expires_at == entry.expires_at
                and (adopting or (c.fingerprint == fingerprint and c.base_url == wanted_base))]
        if good:
            keeper = _pick(good)
            self.kept[entry.name] = keeper
            self.keep(entry, keeper, fingerprint, adopting)
            extras = [c for c in mine if c.id != keeper.id]
        else:
            old = _pick(mine)
            self.created[entry.name] = self.add(Change(
                action="replace", org=self.org.id, name=entry.name, credential_id=old.id,
                reason=_replace_reason(old, entry, fingerprint, adopting),
                **self.create_fields(entry, fingerprint, make_default=old.is_default),
                before=_view_live(old),
            ))
            extras = [c for c in mine if c.id != old.id]
        for extra in extras:
            self.delete(extra, entry.name, f"duplicate: another credential already holds entry "
                                           f"'{entry.name}'")

    def create_fields(self, entry: CredentialEntry, fingerprint: str, make_default: bool
                      ) -> dict[str, Any]:
        return {
            "key": entry.key,
            "fingerprint": fingerprint,
            "base_url": entry.base_url,
            "expires_at": entry.expires_at,
            "display_name": entry.name,
            "metadata": ownership.managed_metadata(entry.labels, self.owner, entry.name,
                                                   fingerprint, entry.base_url),
            "make_default": make_default,
            "test": entry.test and not self.skip_tests,
            "after": _view_entry(entry, fingerprint, make_default),
        }

    def create(self, entry: CredentialEntry, fingerprint: str, reason: str) -> None:
        self.created[entry.name] = self.add(Change(
            action="create", org=self.org.id, name=entry.name, reason=reason,
            **self.create_fields(entry, fingerprint, make_default=False),
        ))

    def keep(self, entry: CredentialEntry, cred: LiveCredential, fingerprint: str,
             adopting: bool) -> None:
        metadata = ownership.managed_metadata(entry.labels, self.owner, entry.name, fingerprint,
                                              entry.base_url)
        if not adopting and cred.display_name == entry.name and dict(cred.metadata) == metadata:
            return
        before = {"display_name": cred.display_name, "metadata": dict(cred.metadata)}
        after = {"display_name": entry.name, "metadata": metadata}
        self.add(Change(
            action="adopt" if adopting else "update", org=self.org.id, name=entry.name,
            credential_id=cred.id,
            reason=(f"its masked key matches {entry.key.describe()}: mark it as managed"
                    if adopting else "display name or labels differ"),
            fingerprint=fingerprint,
            display_name=entry.name if cred.display_name != entry.name else None,
            metadata=metadata,
            before=_view_live(cred),
            after={**_view_live(cred), "display_name": entry.name,
                   "labels": dict(entry.labels), "key_fingerprint": fingerprint},
            diff=_field_diff(before, after),
        ))

    def delete(self, cred: LiveCredential, name: str, reason: str) -> None:
        self.add(Change(action="delete", org=self.org.id, name=name, credential_id=cred.id,
                        reason=reason, before=_view_live(cred)))

    # -- the default ----------------------------------------------------------------------
    def plan_default(self) -> None:
        want = self.org.default
        if want is None:
            # No preference: keep the default on the same entry when its credential is
            # deleted as a duplicate (a replace moves it through make_default already).
            for change in self.changes:
                if change.action == "delete" and change.before and change.before["is_default"]:
                    keeper = self.kept.get(change.name)
                    if keeper is not None:
                        self.set_default(change.name, keeper, "the default was a duplicate")
            self.guard_default_deletes()
            return
        # A replace of another entry whose old credential held the default must not take it.
        for i, other in enumerate(self.changes):
            if other.make_default and other.name != want:
                self.changes[i] = _with_default(other, False)
        if want in self.created:
            index = self.created[want]
            if not self.changes[index].make_default:
                self.changes[index] = _with_default(self.changes[index])
        elif want in self.kept:
            keeper = self.kept[want]
            if not keeper.is_default:
                current = next((c.display_name for c in self.live.credentials if c.is_default),
                               None)
                was = f"currently {current}" if current else "the org has no default"
                self.set_default(want, keeper, f"manifest default ({was})")
        self.guard_default_deletes()

    def set_default(self, name: str, cred: LiveCredential, reason: str) -> None:
        self.add(Change(action="set-default", org=self.org.id, name=name, credential_id=cred.id,
                        reason=reason, before={"is_default": False, "credential_id": cred.id},
                        after={"is_default": True, "credential_id": cred.id}))

    def guard_default_deletes(self) -> None:
        """Deleting the default waits for whatever hands the default on to succeed."""
        movers = tuple(i for i, c in enumerate(self.changes)
                       if c.action == "set-default" or c.make_default)
        for i, change in enumerate(self.changes):
            if change.action == "delete" and change.before and change.before["is_default"]:
                self.changes[i] = replace(change, depends_on=movers)
                if not movers:
                    self.notes.append(f"deleting '{change.name}' leaves the org without a default "
                                      "xAI credential; set xai.default to choose one")

    def check_models(self) -> None:
        if not self.org.require_models or self.live.models is None:
            return
        missing = [m for m in self.org.require_models if m not in self.live.models]
        if missing:
            self.errors.append(
                f"required model(s) {', '.join(missing)} are not in the org's xAI catalog "
                f"(it has: {', '.join(self.live.models) or 'none'}); fix xai.require_models")

    def ordered(self) -> tuple[Change, ...]:
        """Sort by apply order, keeping `depends_on` pointing at the right changes."""
        order = sorted(range(len(self.changes)),
                       key=lambda i: (ACTION_ORDER[self.changes[i].action], i))
        new_index = {old: new for new, old in enumerate(order)}
        return tuple(replace(self.changes[i], depends_on=tuple(sorted(
            new_index[d] for d in self.changes[i].depends_on))) for i in order)


def _with_default(change: Change, value: bool = True) -> Change:
    after = dict(change.after or {})
    after["is_default"] = value
    return replace(change, make_default=value, after=after)


def plan_org(org: OrgEntry, owner: str, token_env: str, keys: Mapping[str, Secret], live: LiveOrg,
             *, prune: bool = False, skip_tests: bool = False) -> OrgPlan:
    planned = _OrgPlanner(org, owner, keys, live, prune or org.prune, skip_tests).run()
    return replace(planned, token_env=token_env)


def make_plan(
    manifest: Manifest,
    keys: Mapping[tuple[str, str], Secret],
    live: Mapping[str, LiveOrg | str],
    *,
    prune: bool = False,
    skip_tests: bool = False,
    targets: Sequence[Target] = (),
    api_url: str | None = None,
) -> Plan:
    """The whole plan. `live` maps each org to its state, or to why it could not be read."""
    orgs = []
    for org in manifest.orgs:
        if targets and not any(t.org == org.id for t in targets):
            continue
        token_env = manifest.token_env_for(org)
        state = live.get(org.id)
        if not isinstance(state, LiveOrg):
            orgs.append(OrgPlan(org=org.id, token_env=token_env, label=org.label,
                                errors=(str(state or "the live state was not read"),)))
            continue
        org_keys = {e.name: keys[(org.id, e.name)] for e in org.credentials}
        planned = plan_org(org, manifest.owner, token_env, org_keys, state, prune=prune,
                           skip_tests=skip_tests)
        names = {t.name for t in targets if t.org == org.id}
        if names and None not in names:
            planned = _only(planned, names)
        orgs.append(planned)
    return Plan(
        owner=manifest.owner,
        orgs=tuple(orgs),
        manifest_digest=manifest.digest,
        api_url=api_url,
        options={"prune": prune, "skip_tests": skip_tests,
                 "targets": [f"{t.org}/{t.name}" if t.name else t.org for t in targets]},
    )


def _only(plan: OrgPlan, names: set[str]) -> OrgPlan:
    """Keep the targeted entries' changes; renumber dependencies, dropping the others'."""
    keep = [i for i, c in enumerate(plan.changes) if c.name in names]
    new_index = {old: new for new, old in enumerate(keep)}
    changes = tuple(replace(plan.changes[i], depends_on=tuple(
        new_index[d] for d in plan.changes[i].depends_on if d in new_index)) for i in keep)
    return replace(plan, changes=changes)
