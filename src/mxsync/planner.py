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
- No credential of ours: an entry with `adopt_id` (written by `import`) adopts exactly
  that live credential, when it is unmarked and its masked key can be the entry's key,
  and is otherwise an error of that entry, never a create (`pair_adopt_id`). Without
  `adopt_id`, an unmarked one with the entry's display name that no other entry names or
  took: `adopt` it when its masked key can be the entry's key, else report a conflict.
- The display name a credential should carry is the entry's `display_name`, else its
  name; an adopt renames only when that differs from the live one.
- A create or replace whose `expires_at` has passed is an error of that entry: it would
  store a credential that is already expired.
- The org default: folded into the create (`make_default`) when the default entry is
  created, else a `set-default` only where the live state needs one. The first
  credential of an org becomes default by itself, so that case needs nothing.
- `delete` for ours and no longer listed only with prune; never for anything else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from mxsync import ownership
from mxsync.display import shown_labels, view_live
from mxsync.kinds import PlanKind, pick
from mxsync.manifest.model import CredentialEntry, Manifest, OrgEntry, entry_name_for
from mxsync.minting.names import site_of
from mxsync.minting.plan import MintedPlanKind
from mxsync.model_ids import closest_model
from mxsync.plan import ACTION_ORDER, Action, Change, OrgPlan, Plan, PlanOptions, Reason
from mxsync.plan import ReasonCode as R
from mxsync.secrets import SENSITIVE, Secret
from mxsync.state import XAI, AssistantPin, LiveCredential, LiveOrg

# The credential kinds besides keys from env or file (which the planner plans itself), in
# the order they are asked whether an entry is theirs.
KINDS: tuple[PlanKind, ...] = (MintedPlanKind(),)


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

    def __str__(self) -> str:
        """As the user writes it, and as plan addresses read: `ORG` or `ORG/xai/NAME`."""
        return f"{self.org}/xai/{self.name}" if self.name else self.org


def _view_entry(entry: CredentialEntry, fingerprint: str, is_default: bool) -> dict[str, Any]:
    return {
        "display_name": entry.shown_name,
        "is_default": is_default,
        "base_url": entry.base_url,
        "expires_at": entry.expires_at,
        "key_fingerprint": fingerprint,
        "labels": shown_labels(entry.labels),
        "api_key": SENSITIVE,
    }


def _replace_reason(old: LiveCredential, entry: CredentialEntry, fingerprint: str,
                    adopting: bool) -> Reason:
    """What differs in the fields a credential cannot change in place: (before, after) each."""
    fields: dict[str, list[str | None]] = {}
    if not adopting and old.fingerprint != fingerprint:
        fields["key_fingerprint"] = [old.fingerprint, fingerprint]
    if not adopting and old.base_url != (entry.base_url or ""):
        fields["base_url"] = [old.base_url or None, entry.base_url]
    if old.expires_at != entry.expires_at:
        fields["expires_at"] = [old.expires_at, entry.expires_at]
    return Reason(R.IMMUTABLE_CHANGED, {"fields": fields})


@dataclass
class _OrgPlanner:
    org: OrgEntry
    owner: str
    keys: Mapping[str, Secret]
    live: LiveOrg
    prune: bool
    skip_tests: bool
    take_default: bool = False
    changes: list[Change] = field(default_factory=list)
    errors: list[Reason] = field(default_factory=list)
    notes: list[Reason] = field(default_factory=list)
    keepers: dict[str, LiveCredential] = field(default_factory=dict)  # entry -> kept credential
    new_index: dict[str, int] = field(default_factory=dict)  # entry -> index of create/replace
    touched: set[str] = field(default_factory=set)  # live ids claimed or adopted
    now: datetime | None = None  # for key ages (minted entries, rotate_after)
    site: str = ""  # the ModuleX API's tag in minted key names ("": no key is an orphan)
    forced: frozenset[str] = frozenset()  # entries named by --replace
    paired: set[str] = field(default_factory=set)  # live ids an entry adopts (one entry each)
    reserved: frozenset[str] = frozenset()  # live ids some entry's adopt_id names

    # -- what a credential kind may do (mxsync.kinds.PlanContext) --------------------------
    def add(self, change: Change) -> int:
        self.changes.append(change)
        return len(self.changes) - 1

    def created(self, entry: str, index: int) -> None:
        self.new_index[entry] = index

    def kept(self, entry: str, cred: LiveCredential) -> None:
        self.keepers[entry] = cred

    def claim(self, creds: Iterable[LiveCredential]) -> None:
        self.touched.update(c.id for c in creds)

    def error(self, reason: Reason) -> None:
        self.errors.append(reason)

    def run(self) -> OrgPlan:
        ours: dict[str, list[LiveCredential]] = {}
        for cred in self.live.credentials:
            owner, name = cred.claim()
            if owner == self.owner and name:
                ours.setdefault(name, []).append(cred)
        self.reserved = frozenset(e.adopt_id for e in self.org.credentials if e.adopt_id)
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
                    self.delete(cred, name, Reason(R.PRUNED))
                else:
                    orphans.append(name)
        if orphans:
            self.notes.append(Reason(R.ORPHANS_KEPT, {"owner": self.owner, "names": orphans}))
        for kind in KINDS:
            kind.plan_org(self)
        self.plan_default()
        self.check_models()
        self.plan_settings()
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
            settings_read=self.live.settings is not None,
            errors=tuple(self.errors),
            notes=tuple(self.notes),
        )

    # -- entries ------------------------------------------------------------------------
    def plan_entry(self, entry: CredentialEntry, mine: list[LiveCredential]) -> None:
        if not mine and entry.adopt_id is not None and not entry.minted:
            adopted = self.pair_adopt_id(entry)
            if adopted is None:
                return
            self.plan_known(entry, [adopted], adopting=True)
            return
        if not mine and self.named_by_another_owner(entry):
            return
        kind = next((k for k in KINDS if k.handles(entry)), None)
        if kind is not None:
            kind.plan_entry(self, entry, mine)
            return
        if not mine:
            by_name = self.pair_by_name(entry)
            if by_name is None:
                return
            self.plan_known(entry, [by_name], adopting=True)
            return
        self.plan_known(entry, mine, adopting=False)

    def entry_error(self, code: R, entry: CredentialEntry, **params: Any) -> None:
        """An error of one entry, named by the entry (and where it is written, when known)."""
        self.errors.append(Reason(code, {"entry": entry.name, "where": str(entry.where or ""),
                                         **params}))

    def pair_adopt_id(self, entry: CredentialEntry) -> LiveCredential | None:
        """The live credential `adopt_id` names, when this entry may adopt it; else None and
        the entry's error. Never a create: the credential it names exists (or existed), so a
        create would store its key a second time."""
        wanted = entry.adopt_id
        cred = next((c for c in self.live.credentials if c.id == wanted), None)
        if cred is None:
            self.entry_error(R.ADOPT_MISSING, entry, id=wanted)
            return None
        owner, name = cred.claim()
        if ownership.has_marker(cred.metadata) or cred.id in self.paired:
            self.entry_error(R.ADOPT_TAKEN, entry, id=cred.id, owner=owner or self.owner,
                             by=name or "")
            return None
        self.paired.add(cred.id)
        self.touched.add(cred.id)
        if not self.keys[entry.name].matches_mask(cred.masked):
            self.entry_error(R.ADOPT_KEY_MISMATCH, entry, id=cred.id,
                             source=entry.describe_source(), display_name=cred.display_name)
            return None
        return cred

    def pair_by_name(self, entry: CredentialEntry) -> LiveCredential | None:
        """An entry without `adopt_id`: an unmarked credential carrying its display name
        (or the name `import` would have given it), that no other entry names or took."""
        key = self.keys[entry.name]
        free = [c for c in self.live.credentials if not ownership.has_marker(c.metadata)
                and c.id not in self.paired and c.id not in self.reserved]
        exact = [c for c in free if c.display_name == entry.shown_name]
        # `import` used to turn "My Key" into "My-Key": such a credential is adopted when its
        # key matches, and otherwise is simply not this entry's.
        near = [c for c in free if c.display_name != entry.shown_name
                and entry_name_for(c.display_name) == entry.name]
        matching = [c for c in exact + near if key.matches_mask(c.masked)]
        if not matching and exact:
            self.entry_error(R.NAME_TAKEN, entry, ids=[c.id for c in exact],
                             source=entry.describe_source(), display_name=entry.shown_name)
            self.touched.update(c.id for c in exact)
            return None
        if not matching:
            if [c for c in near if c.masked is not None]:
                # A credential import would have named like this entry holds another key:
                # said, so that the create that follows is no surprise (#21.2).
                self.notes.append(Reason(R.NEAR_NAME_OTHER_KEY, {
                    "entry": entry.name, "ids": [c.id for c in near],
                    "source": entry.describe_source()}))
            self.create(entry, key.fingerprint, Reason(R.ABSENT))
            return None
        chosen = pick(matching)
        self.paired.add(chosen.id)
        return chosen

    def expired(self, entry: CredentialEntry) -> bool:
        """A create or replace with an `expires_at` already passed is the entry's error."""
        if entry.expires_at is None or self.now is None:
            return False
        from mxsync.manifest.model import parse_instant

        if parse_instant(entry.expires_at) > self.now:
            return False
        self.entry_error(R.EXPIRES_IN_PAST, entry, expires_at=entry.expires_at)
        return True

    def plan_known(self, entry: CredentialEntry, mine: list[LiveCredential],
                   adopting: bool) -> None:
        """Keep, update or replace the credentials this entry holds (or is adopting)."""
        key = self.keys[entry.name]
        fingerprint = key.fingerprint
        self.touched.update(c.id for c in mine)
        wanted_base = entry.base_url or ""
        good = [c for c in mine if c.expires_at == entry.expires_at
                and (adopting or (c.fingerprint == fingerprint and c.base_url == wanted_base))]
        if good:
            keeper = pick(good)
            self.keepers[entry.name] = keeper
            self.keep(entry, keeper, fingerprint, adopting)
            extras = [c for c in mine if c.id != keeper.id]
        else:
            old = pick(mine)
            if self.expired(entry):
                return
            self.new_index[entry.name] = self.add(Change(
                action=Action.REPLACE, org=self.org.id, name=entry.name, credential_id=old.id,
                reason=_replace_reason(old, entry, fingerprint, adopting),
                **self.create_fields(entry, fingerprint, make_default=old.is_default),
                old_was_default=old.is_default,
                before=view_live(old),
            ))
            extras = [c for c in mine if c.id != old.id]
        for extra in extras:
            self.delete(extra, entry.name, Reason(R.DUPLICATE, {"entry": entry.name}))

    def named_by_another_owner(self, entry: CredentialEntry) -> bool:
        """A credential of another owner already carries the entry's name (or the name
        `import` would give it): creating a second one would leave two credentials people
        cannot tell apart, so it is a conflict to settle first."""
        theirs = [c for c in self.live.credentials
                  if c.claim()[0] not in (None, self.owner)
                  and (c.display_name == entry.name or entry_name_for(c.display_name) == entry.name)]
        if theirs:
            self.errors.append(Reason(R.NAME_TAKEN_BY_OWNER, {
                "entry": entry.name, "where": str(entry.where or ""), "owner": theirs[0].claim()[0],
                "ids": [c.id for c in theirs]}))
        return bool(theirs)

    def create_fields(self, entry: CredentialEntry, fingerprint: str, make_default: bool
                      ) -> dict[str, Any]:
        return {
            "key": entry.key,
            "fingerprint": fingerprint,
            "base_url": entry.base_url,
            "expires_at": entry.expires_at,
            "display_name": entry.shown_name,
            "metadata": ownership.managed_metadata(entry.labels, self.owner, entry.name,
                                                   fingerprint, entry.base_url),
            "make_default": make_default,
            "test": entry.test and not self.skip_tests,
            "after": _view_entry(entry, fingerprint, make_default),
        }

    def create(self, entry: CredentialEntry, fingerprint: str, reason: Reason) -> None:
        if self.expired(entry):
            return
        self.new_index[entry.name] = self.add(Change(
            action=Action.CREATE, org=self.org.id, name=entry.name, reason=reason,
            **self.create_fields(entry, fingerprint, make_default=False),
        ))

    def keep(self, entry: CredentialEntry, cred: LiveCredential, fingerprint: str,
             adopting: bool) -> None:
        metadata = ownership.managed_metadata(entry.labels, self.owner, entry.name, fingerprint,
                                              entry.base_url)
        wanted_name = entry.shown_name
        if not adopting and cred.display_name == wanted_name and dict(cred.metadata) == metadata:
            return
        self.add(Change(
            action=Action.ADOPT if adopting else Action.UPDATE, org=self.org.id, name=entry.name,
            credential_id=cred.id,
            reason=(Reason(R.MASKED_KEY_COULD_MATCH, {"source": entry.describe_source(),
                                                      "masked": cred.masked})
                    if adopting else Reason(R.ATTRIBUTES_DIFFER)),
            fingerprint=fingerprint,
            display_name=wanted_name if cred.display_name != wanted_name else None,
            metadata=metadata,
            before=view_live(cred),
            after={**view_live(cred), "display_name": wanted_name,
                   "labels": shown_labels(entry.labels), "key_fingerprint": fingerprint},
        ))

    def delete(self, cred: LiveCredential, name: str, reason: Reason) -> None:
        cleanup = next((m for k in KINDS if (m := k.on_delete(self.org, cred)) is not None), None)
        self.add(Change(action=Action.DELETE, org=self.org.id, name=name, credential_id=cred.id,
                        reason=reason, old_was_default=cred.is_default, before=view_live(cred),
                        mint=cleanup))

    # -- the default ----------------------------------------------------------------------
    def plan_default(self) -> None:
        want = self.org.default
        if want is None:
            # No preference: keep the default on the same entry when its credential is
            # deleted as a duplicate (a replace moves it through make_default already).
            for change in self.changes:
                if change.action == Action.DELETE and change.old_was_default:
                    keeper = self.keepers.get(change.name)
                    if keeper is not None:
                        self.set_default(change.name, keeper, Reason(R.DEFAULT_WAS_DUPLICATE))
            self.guard_default_deletes()
            return
        holder = next((c for c in self.live.credentials if c.is_default), None)
        if holder is not None and not self.take_default and (want in self.new_index or (
                want in self.keepers and not self.keepers[want].is_default)):
            theirs, _ = holder.claim()
            if theirs is not None and theirs != self.owner:
                # Two manifests that both want the default would take it from each other on
                # every run: a conflict to settle, not a change to make.
                self.errors.append(Reason(R.DEFAULT_HELD_BY_OTHER_OWNER, {
                    "entry": want, "owner": theirs, "credential": holder.display_name,
                    "id": holder.id}))
                self.guard_default_deletes()
                return
        # A replace of another entry whose old credential held the default must not take it.
        for i, other in enumerate(self.changes):
            if other.make_default and other.name != want:
                self.changes[i] = _with_default(other, False)
        if want in self.new_index:
            index = self.new_index[want]
            if not self.changes[index].make_default:
                self.changes[index] = _with_default(self.changes[index])
        elif want in self.keepers:
            keeper = self.keepers[want]
            if not keeper.is_default:
                current = next((c.display_name for c in self.live.credentials if c.is_default),
                               None)
                self.set_default(want, keeper, Reason(R.MANIFEST_DEFAULT, {"current": current}))
        self.guard_default_deletes()

    def set_default(self, name: str, cred: LiveCredential, reason: Reason) -> None:
        self.add(Change(action=Action.SET_DEFAULT, org=self.org.id, name=name, credential_id=cred.id,
                        reason=reason, before={"is_default": False, "credential_id": cred.id},
                        after={"is_default": True, "credential_id": cred.id}))

    def guard_default_deletes(self) -> None:
        """Deleting the default waits for whatever hands the default on to succeed. A plan
        that leaves the org no xAI credential at all says so (`credentials_left: 0`), which
        is worse than having no default, and needs other advice."""
        movers = tuple(i for i, c in enumerate(self.changes)
                       if c.action == Action.SET_DEFAULT or c.make_default)
        live_ids = {c.id for c in self.live.credentials}
        deletes = [c.name for c in self.changes
                   if c.action == Action.DELETE and c.credential_id in live_ids]
        creates = sum(c.action == Action.CREATE for c in self.changes)
        emptied = bool(deletes) and len(live_ids) - len(deletes) + creates <= 0
        if emptied:
            self.notes.append(Reason(R.DEFAULT_LEFT_EMPTY, {
                "entry": deletes[-1], "entries": deletes, "org": self.org.id,
                "credentials_left": 0}))
        for i, change in enumerate(self.changes):
            if change.action == Action.DELETE and change.old_was_default:
                self.changes[i] = replace(change, depends_on=movers)
                if not movers and not emptied:
                    self.notes.append(Reason(R.DEFAULT_LEFT_EMPTY, {"entry": change.name}))

    def check_models(self) -> None:
        if not self.org.require_models or self.live.models is None:
            return
        missing = [m for m in self.org.require_models if m not in self.live.models]
        if missing:
            closest = {m: closest_model(m, self.live.models, dict(self.live.model_names))
                       for m in missing}
            self.errors.append(Reason(R.MODELS_MISSING, {"missing": missing, "closest": closest,
                                                         "available": list(self.live.models)}))

    # -- org settings: visible models and the Assistant's pin -----------------------------
    def plan_settings(self) -> None:
        settings = self.live.settings
        if settings is None:
            return  # not read: the manifest sets neither and nothing pinned can be touched
        self.plan_models(settings.visible_models)
        if self.org.assistant is not None:
            self.plan_assistant(settings.assistant)
        else:
            self.protect_pin(settings.assistant)
        pinned = self.live.pinned_id()
        if pinned:
            movers = tuple(i for i, c in enumerate(self.changes) if c.action == Action.SET_ASSISTANT)
            for i, change in enumerate(self.changes):
                if change.credential_id == pinned and change.action in (Action.REPLACE, Action.DELETE):
                    before = {**(change.before or {}), "is_pinned": True}  # for people
                    depends = change.depends_on + (movers if change.action == Action.DELETE else ())
                    self.changes[i] = replace(change, before=before, old_was_pinned=True,
                                              depends_on=tuple(sorted(set(depends))))

    def unknown_models(self, wanted: Sequence[str]) -> bool:
        """Report model ids the org's catalog does not have, each with the closest known one."""
        catalog = self.live.models
        if catalog is None:
            return False
        unknown = [m for m in wanted if m not in catalog]
        if unknown:
            closest = {m: closest_model(m, catalog, dict(self.live.model_names))
                       for m in unknown}
            self.errors.append(Reason(R.MODELS_UNKNOWN, {"unknown": unknown, "closest": closest,
                                                         "available": list(catalog)}))
        return bool(unknown)

    def plan_models(self, visible: tuple[str, ...] | None) -> None:
        want = self.org.models
        if want is None or self.unknown_models(want):
            return
        if sorted(want) == sorted(visible or ()):
            return
        self.add(Change(
            action=Action.SET_MODELS, org=self.org.id, name="settings/models", models=tuple(want),
            reason=Reason(R.MODELS_DIFFER),
            before={"models": list(visible) if visible is not None else "all"},
            after={"models": list(want) if want else "all"}))

    def plan_assistant(self, pin: AssistantPin | None) -> None:
        wanted = self.org.assistant
        if wanted is None or self.unknown_models([wanted.model]):
            return
        before = pin.to_dict() if pin else None
        after = {"integration_name": XAI, "provider_id": XAI, "model_id": wanted.model,
                 "credential": wanted.credential}
        if wanted.credential in self.new_index:
            index = self.new_index[wanted.credential]
            self.add(Change(action=Action.SET_ASSISTANT, org=self.org.id, name="settings/assistant",
                            model_id=wanted.model, credential_from=index, depends_on=(index,),
                            reason=Reason(R.ASSISTANT_TO_NEW_CREDENTIAL,
                                          {"entry": wanted.credential}),
                            before=before, after=after))
            return
        keeper = self.keepers.get(wanted.credential)
        if keeper is None:
            return  # the entry itself could not be planned; its error says why
        if (pin is not None and pin.model_id == wanted.model and pin.credential_id == keeper.id
                and pin.integration_name == XAI):
            return
        self.add(Change(action=Action.SET_ASSISTANT, org=self.org.id, name="settings/assistant",
                        model_id=wanted.model, credential_id=keeper.id,
                        reason=Reason(R.ASSISTANT_DIFFERS), before=before,
                        after={**after, "credential_id": keeper.id}))

    def protect_pin(self, pin: AssistantPin | None) -> None:
        """The manifest says nothing about the Assistant: it stays where it is, unless its
        credential is about to go. A replace takes it along (as it takes the default); a
        duplicate hands it to the entry's kept credential; a prune is refused."""
        if pin is None or not pin.credential_id:
            return
        for index, change in enumerate(list(self.changes)):
            if change.credential_id != pin.credential_id:
                continue
            if change.action == Action.REPLACE:
                self.add(Change(action=Action.SET_ASSISTANT, org=self.org.id, name="settings/assistant",
                                model_id=pin.model_id, credential_from=index, depends_on=(index,),
                                reason=Reason(R.ASSISTANT_FOLLOWS, {"entry": change.name}),
                                before=pin.to_dict(),
                                after={**pin.to_dict(), "credential_id": None,
                                       "credential": change.name}))
            elif change.action == Action.DELETE and change.name in self.keepers:
                keeper = self.keepers[change.name]
                self.add(Change(action=Action.SET_ASSISTANT, org=self.org.id, name="settings/assistant",
                                model_id=pin.model_id, credential_id=keeper.id,
                                reason=Reason(R.ASSISTANT_FOLLOWS, {"entry": change.name}),
                                before=pin.to_dict(),
                                after={**pin.to_dict(), "credential_id": keeper.id}))
            elif change.action == Action.DELETE:
                self.errors.append(Reason(R.ASSISTANT_WOULD_DANGLE, {
                    "entry": change.name, "credential_id": pin.credential_id,
                    "model": pin.model_id}))

    def ordered(self) -> tuple[Change, ...]:
        """Sort by apply order, keeping `depends_on` pointing at the right changes."""
        order = sorted(range(len(self.changes)),
                       key=lambda i: (ACTION_ORDER[self.changes[i].action], i))
        return _renumbered(self.changes, order)


def _renumbered(changes: Sequence[Change], keep: Sequence[int]) -> tuple[Change, ...]:
    """`changes` at the indexes `keep`, in that order, with the indexes they refer to
    (`depends_on`, `credential_from`) rewritten; references to dropped changes go."""
    new_index = {old: new for new, old in enumerate(keep)}

    def one(change: Change) -> Change:
        source = change.credential_from
        return replace(change,
                       depends_on=tuple(sorted(new_index[d] for d in change.depends_on
                                               if d in new_index)),
                       credential_from=None if source is None else new_index.get(source))

    return tuple(one(changes[i]) for i in keep)


def _with_default(change: Change, value: bool = True) -> Change:
    after = dict(change.after or {})
    after["is_default"] = value
    return replace(change, make_default=value, after=after)


def plan_org(org: OrgEntry, owner: str, token_env: str, keys: Mapping[str, Secret], live: LiveOrg,
             *, prune: bool = False, skip_tests: bool = False, take_default: bool = False,
             now: datetime | None = None, forced: frozenset[str] = frozenset(),
             site: str = "") -> OrgPlan:
    planned = _OrgPlanner(org, owner, keys, live, prune or org.prune, skip_tests,
                          take_default=take_default, now=now, forced=forced, site=site).run()
    return replace(planned, token_env=token_env)


def make_plan(
    manifest: Manifest,
    keys: Mapping[tuple[str, str], Secret],
    live: Mapping[str, LiveOrg],
    *,
    unread: Mapping[str, Reason] | None = None,
    prune: bool = False,
    skip_tests: bool = False,
    take_default: bool = False,
    targets: Sequence[Target] = (),
    api_url: str | None = None,
    now: datetime | None = None,
    replace_targets: Sequence[Target] = (),
) -> Plan:
    """The whole plan. `live` holds each org's state; `unread`, why an org's could not be read
    (that org's plan is then that one error, and the others are planned as usual)."""
    orgs = []
    for org in manifest.orgs:
        if targets and not any(t.org == org.id for t in targets):
            continue
        token_env = manifest.token_env_for(org)
        state = live.get(org.id)
        if state is None:
            why = (unread or {}).get(org.id) or Reason(R.UNREAD, {"message": "not read"})
            orgs.append(OrgPlan(org=org.id, token_env=token_env, label=org.label, errors=(why,)))
            continue
        org_keys = {e.name: keys[(org.id, e.name)] for e in org.credentials if not e.minted}
        planned = plan_org(org, manifest.owner, token_env, org_keys, state, prune=prune,
                           skip_tests=skip_tests, take_default=take_default, now=now,
                           forced=frozenset(t.name for t in replace_targets
                                            if t.org == org.id and t.name),
                           site=site_of(api_url))
        names = {t.name for t in targets if t.org == org.id}
        if names and None not in names:  # a bare `--target ORG` keeps the whole org
            wanted = {n for n in names if n is not None}
            _check_targets(org, manifest.owner, planned, wanted)
            planned = _only(planned, wanted)
        orgs.append(planned)
    return Plan(
        owner=manifest.owner,
        orgs=tuple(orgs),
        manifest_digest=manifest.digest,
        manifest_files=manifest.files,
        api_url=api_url,
        options=PlanOptions(prune=prune, skip_tests=skip_tests, take_default=take_default,
                            targets=tuple(str(t) for t in targets),
                            replace=tuple(str(t) for t in replace_targets)),
    )


def _check_targets(org: OrgEntry, owner: str, planned: OrgPlan, names: set[str]) -> None:
    """`--target ORG/xai/NAME --prune` may name a credential of this owner that the manifest
    no longer lists (the plan then holds its delete): that is known only once the org is
    read. A name that is neither an entry nor such a credential is an error, as an unknown
    entry is before anything is read (mxsync.flows.common.select_orgs)."""
    import difflib

    from mxsync.errors import MxsyncError

    entries = [e.name for e in org.credentials]
    pruned = sorted({c.name for c in planned.changes if c.action == Action.DELETE
                     and c.reason.code == R.PRUNED})
    for name in sorted(names - set(entries) - set(pruned)):
        close = difflib.get_close_matches(name, entries + pruned, n=1)
        raise MxsyncError(
            f"--target {org.id}/xai/{name}: org {org.id} has no entry '{name}', and no "
            f"credential of owner '{owner}' by that name for --prune to delete",
            hint=(f"Did you mean {close[0]}? " if close else "")
            + f"entries: {', '.join(entries) or 'none'}; credentials --prune would delete: "
              f"{', '.join(pruned) or 'none'}")


def _only(plan: OrgPlan, names: set[str]) -> OrgPlan:
    """Keep the targeted entries' changes and everything they depend on (as Terraform's
    `-target` does), so a guard such as "delete the default holder only after the default
    has moved" survives targeting; and the Assistant's move to a targeted new credential."""
    wanted = {i for i, c in enumerate(plan.changes) if c.name in names}
    wanted |= {i for i, c in enumerate(plan.changes)
               if c.action == Action.SET_ASSISTANT and c.credential_from in wanted}
    pending = list(wanted)
    while pending:
        for dep in plan.changes[pending.pop()].depends_on:
            if dep not in wanted:
                wanted.add(dep)
                pending.append(dep)
    return replace(plan, changes=_renumbered(plan.changes, sorted(wanted)))
