"""Planning minted entries. Pure: no I/O, no clock (the planner passes `now`), no environment.

A minted entry has no key to read: what the plan compares is the live credential's
`mxsync_xai_key_id` against the team's keys at xAI.
- no credential of ours: `create (minted)`;
- the key is gone at xAI, disabled or expired, its `mint:` settings differ, the base
  URL or expiry changed, `--replace` names the entry, or the key is older than
  `rotate_after`: `rotate` (a replace: mint, store, move, then delete the old
  credential and its key);
- otherwise keep it (an `update` when only display name or labels differ).
Keys at xAI whose name marks them as this owner's for this org, and that no live
credential references, are deleted (`xai-orphan`): a mint whose answer was lost, or a
run killed before it stored or after it deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mxsync import ownership
from mxsync.display import shown_labels, view_live
from mxsync.kinds import PlanContext, pick
from mxsync.manifest.model import CredentialEntry, Manifest, OrgEntry, parse_instant
from mxsync.minting import names
from mxsync.minting.state import XaiKeyView, uncommon_endpoints
from mxsync.plan import Action, Change, MintSpec, Reason
from mxsync.plan import ReasonCode as R

if TYPE_CHECKING:
    from mxsync.planner import Target
    from mxsync.state import LiveCredential


def key_id_of(cred: LiveCredential) -> str | None:
    value = cred.metadata.get(ownership.XAI_KEY_ID)
    return str(value) if value else None


def wanted_settings(entry: CredentialEntry) -> dict[str, object]:
    spec = entry.mint
    if spec is None:
        return {}
    return {"acls": sorted(spec.acls), "qps": spec.qps, "qpm": spec.qpm, "tpm": spec.tpm}


def age_s(key: XaiKeyView | None, cred: LiveCredential, now: datetime | None) -> int | None:
    """Seconds since the key was made (xAI's createTime, else the credential's created_at)."""
    if now is None:
        return None
    for text in ((key.created_at if key else None), cred.created_at):
        if text:
            try:
                return max(0, int((now - parse_instant(text)).total_seconds()))
            except ValueError:
                continue
    return None


def mint_info(org: OrgEntry, entry: CredentialEntry | None, old_key_id: str | None
              ) -> MintSpec | None:
    """What apply needs to reach xAI for this change; None when the org has no settings."""
    mgmt = org.xai_management
    if mgmt is None:
        return None
    spec = entry.mint if entry is not None else None
    if spec is None:
        return MintSpec(mgmt.team_id, mgmt.key_env, mgmt.url, old_key_id)
    return MintSpec(mgmt.team_id, mgmt.key_env, mgmt.url, old_key_id, acls=tuple(spec.acls),
                    qps=spec.qps, qpm=spec.qpm, tpm=spec.tpm)


def rotation_reason(entry: CredentialEntry, cred: LiveCredential, key: XaiKeyView | None,
                    now: datetime | None, forced: bool) -> Reason | None:
    """Why this credential's key must be replaced, or None to keep it. The first that applies."""
    key_id = key_id_of(cred)
    if key is None:
        return Reason(R.XAI_KEY_MISSING, {"key_id": key_id})
    if key.disabled:
        return Reason(R.XAI_KEY_DISABLED, {"key_id": key_id})
    if key.expires_at and now is not None and parse_instant(key.expires_at) <= now:
        return Reason(R.XAI_KEY_EXPIRED, {"key_id": key_id, "expired_at": key.expires_at})
    have, want = key.settings(), wanted_settings(entry)
    if have != want:
        return Reason(R.MINT_CHANGED, {"fields": {k: [have[k], want[k]] for k in want
                                                  if have[k] != want[k]}})
    fields: dict[str, list[str | None]] = {}
    if cred.base_url != (entry.base_url or ""):
        fields["base_url"] = [cred.base_url or None, entry.base_url]
    if cred.expires_at != entry.expires_at:
        fields["expires_at"] = [cred.expires_at, entry.expires_at]
    if fields:
        return Reason(R.IMMUTABLE_CHANGED, {"fields": fields})
    if forced:
        return Reason(R.REPLACE_FORCED, {})
    age = age_s(key, cred, now)
    if entry.rotate_after_s is not None and age is not None and age >= entry.rotate_after_s:
        return Reason(R.ROTATION_DUE, {"age_s": age, "rotate_after_s": entry.rotate_after_s})
    return None


def _view(entry: CredentialEntry, is_default: bool) -> dict[str, Any]:
    return {
        "display_name": entry.name, "is_default": is_default, "base_url": entry.base_url,
        "expires_at": entry.expires_at, "key_fingerprint": None,
        "labels": dict(entry.labels), "api_key": "(minted at xAI)",
    }


def plan_entry(p: PlanContext, entry: CredentialEntry, mine: list[LiveCredential]) -> None:
    """The minted counterpart of the planner's `plan_entry` (same bookkeeping on `p`)."""
    if p.live.xai_keys is None:  # never plan blind: a key not read is not a key gone
        p.error(Reason(R.XAI_UNREAD, {
            "team_id": p.org.xai_management.team_id if p.org.xai_management else None,
            "message": "they were not read"}))
        p.claim(mine)
        return
    keys = {k.api_key_id: k for k in p.live.xai_keys}
    if _endpoints_not_offered(p, entry, mine):
        return
    if not mine:
        unmarked = [c for c in p.live.credentials if not ownership.has_marker(c.metadata)
                    and c.display_name == entry.name]
        if unmarked:  # a key no one knows cannot be this minted one: never adopt
            p.error(Reason(R.NAME_TAKEN, {
                "entry": entry.name, "where": str(entry.where), "ids": [c.id for c in unmarked],
                "source": entry.describe_source()}))
            p.claim(unmarked)
            return
        p.created(entry.name, p.add(_mint_change(p, entry, Action.CREATE, Reason(R.ABSENT), None)))
        return
    p.claim(mine)
    forced = entry.name in p.forced
    why = {c.id: rotation_reason(entry, c, keys.get(key_id_of(c) or ""), p.now, forced)
           for c in mine}
    good = [c for c in mine if why[c.id] is None]
    if good:
        keeper = pick(sorted(good, key=lambda c: c.created_at or "", reverse=True)[:1])
        p.kept(entry.name, keeper)
        _keep(p, entry, keeper)
        extras = [c for c in mine if c.id != keeper.id]
    else:
        old = pick(mine)
        reason = why[old.id] or Reason(R.REPLACE_FORCED, {})
        p.created(entry.name, p.add(_mint_change(p, entry, Action.REPLACE, reason, old,
                                                 before=view_live(old))))
        extras = [c for c in mine if c.id != old.id]
    for extra in extras:
        p.delete(extra, entry.name, Reason(R.DUPLICATE, {"entry": entry.name}))


def _endpoints_not_offered(p: PlanContext, entry: CredentialEntry,
                           mine: list[LiveCredential]) -> bool:
    """An ACL naming an endpoint the team does not offer is the entry's error at plan time,
    not a mint that xAI refuses half-way through apply. The team's list is read only when an
    ACL names an endpoint past the common ones (see `minting.state.uncommon_endpoints`)."""
    offered = p.live.xai_endpoints
    if offered is None or entry.mint is None:
        return False
    missing = sorted(uncommon_endpoints(entry.mint.acls) - set(offered))
    if not missing:
        return False
    p.error(Reason(R.ACL_ENDPOINT_UNKNOWN, {
        "entry": entry.name, "where": str(entry.where or ""), "endpoints": missing,
        "offered": sorted(offered),
        "team_id": p.org.xai_management.team_id if p.org.xai_management else None}))
    p.claim(mine)
    return True


def _mint_change(p: PlanContext, entry: CredentialEntry, action: Action, reason: Reason,
                 old: LiveCredential | None, before: dict[str, Any] | None = None) -> Change:
    make_default = bool(old and old.is_default)
    return Change(
        action=action,
        org=p.org.id, name=entry.name, reason=reason,
        credential_id=old.id if old else None,
        base_url=entry.base_url, expires_at=entry.expires_at, display_name=entry.name,
        # The fingerprint and the key id are known only once the key is minted (at apply).
        metadata=ownership.managed_metadata(entry.labels, p.owner, entry.name, "", entry.base_url),
        make_default=make_default, old_was_default=make_default,
        test=entry.test and not p.skip_tests,
        before=before, after=_view(entry, make_default),
        mint=mint_info(p.org, entry, key_id_of(old) if old else None),
    )


def _keep(p: PlanContext, entry: CredentialEntry, cred: LiveCredential) -> None:
    metadata = ownership.managed_metadata(entry.labels, p.owner, entry.name, cred.fingerprint or "",
                                          entry.base_url, key_id_of(cred))
    if cred.display_name == entry.name and dict(cred.metadata) == metadata:
        return
    p.add(Change(
        action=Action.UPDATE, org=p.org.id, name=entry.name, credential_id=cred.id,
        reason=Reason(R.ATTRIBUTES_DIFFER), fingerprint=cred.fingerprint,
        display_name=entry.name if cred.display_name != entry.name else None, metadata=metadata,
        before=view_live(cred),
        after={**view_live(cred), "display_name": entry.name,
               "labels": shown_labels(entry.labels)},
    ))


def delete_info(org: OrgEntry, cred: LiveCredential) -> MintSpec | None:
    """For a delete of a minted credential: its key at xAI goes with it."""
    key_id = key_id_of(cred)
    return mint_info(org, None, key_id) if key_id else None


def plan_orphans(p: PlanContext) -> None:
    """Keys this owner minted for this org that no live credential references: delete them."""
    if p.live.xai_keys is None or p.org.xai_management is None:
        return
    referenced = {key_id_of(c) for c in p.live.credentials}
    for key in sorted(p.live.xai_keys, key=lambda k: (k.created_at or "", k.api_key_id)):
        name = names.owned(key.name, p.owner, p.org.id, p.site)
        if name is None or key.api_key_id in referenced:
            continue
        p.add(Change(
            action=Action.DELETE, org=p.org.id, name=name.entry,
            reason=Reason(R.XAI_ORPHAN, {"key_id": key.api_key_id, "key_name": key.name}),
            before={"is_default": False, "xai_key_id": key.api_key_id, "xai_key_name": key.name,
                    "created_at": key.created_at},
            mint=mint_info(p.org, None, key.api_key_id),
        ))


class MintedPlanKind:
    """Minted keys as a credential kind of the planner (`mxsync.kinds.PlanKind`)."""

    def handles(self, entry: CredentialEntry) -> bool:
        return entry.minted

    def plan_entry(self, ctx: PlanContext, entry: CredentialEntry,
                   mine: list[LiveCredential]) -> None:
        plan_entry(ctx, entry, mine)

    def plan_org(self, ctx: PlanContext) -> None:
        plan_orphans(ctx)

    def on_delete(self, org: OrgEntry, cred: LiveCredential) -> MintSpec | None:
        return delete_info(org, cred)


def check_replace(manifest: Manifest, wanted: Sequence[Target]) -> None:
    """`--replace ORG/xai/NAME` must name a minted entry of the manifest."""
    from mxsync.errors import MxsyncError

    for target in wanted:
        org = next((o for o in manifest.orgs if o.id == target.org), None)
        entry = org.entry(target.name) if org is not None and target.name else None
        if entry is None:
            typed = f"{target.org}/xai/{target.name or ''}"
            raise MxsyncError(f"--replace {typed}: no such entry in the manifest",
                              hint=_could_mean(typed, manifest))
        if not entry.minted:
            raise MxsyncError(
                f"--replace {target.org}/xai/{target.name}: the entry's key comes from "
                f"{entry.describe_source()}, which mxsync cannot renew",
                hint="--replace mints a new key for a `mint:` entry; to rotate an env or file "
                     "key, put the new key there and run plan")


def _could_mean(typed: str, manifest: Manifest, shown: int = 5) -> str:
    """The entries a mistyped `--replace` could mean, closest first: the minted ones (the
    only ones --replace renews), or every entry when the manifest mints none."""
    import difflib

    minted = [f"{o.id}/xai/{e.name}" for o in manifest.orgs for e in o.credentials if e.minted]
    if not minted:
        return ("the manifest has no minted entry (`mint:`), and --replace only renews those; "
                "name one as ORG/xai/NAME")
    ranked = sorted(minted, key=lambda a: -difflib.SequenceMatcher(None, typed, a).ratio())
    more = f" (and {len(ranked) - shown} more)" if len(ranked) > shown else ""
    return (f"did you mean {', '.join(ranked[:shown])}{more}? --replace names one minted "
            "entry as ORG/xai/NAME")
