"""Is a saved plan still the plan for this org's live state?

`apply PLANFILE` lists each org again before it changes anything. The same digest as
at plan time means the plan is current. A different digest usually means the world
moved and the plan is stale, except in one common case: the plan was already applied
(a re-run CI job, a second `apply plan.json`). Then every change it lists is already in
the live state, and saying "stale, run plan again" would send the user hunting for a
change nobody made; "already applied" is the truth, and nothing needs doing.

Pure: the caller lists the credentials, this only compares.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from mxsync.plan import Change, OrgPlan
from mxsync.state import LiveCredential, OrgSettings

Verdict = Literal["current", "already-applied", "stale"]


def verdict(org: OrgPlan, owner: str, live: Sequence[LiveCredential], digest: str,
            settings: OrgSettings | None = None) -> Verdict:
    """"current" (apply it), "already-applied" (nothing to do) or "stale" (refuse).

    `digest` is the live state's digest now, computed by the caller exactly as the plan's
    was (whatever it covers besides the credentials)."""
    if digest == org.live_digest:
        return "current"
    if org.changes and all(_present(change, owner, org, live, settings)
                           for change in org.changes):
        return "already-applied"
    return "stale"


def _present(change: Change, owner: str, org: OrgPlan, live: Sequence[LiveCredential],
             settings: OrgSettings | None) -> bool:
    """Does the live state already show this change's effect?"""
    by_id = {c.id: c for c in live}
    if change.action == "set-models":
        return settings is not None and sorted(settings.visible_models or ()) == sorted(
            change.models or ())
    if change.action == "set-assistant":
        pin = settings.assistant if settings else None
        if pin is None or pin.model_id != change.model_id:
            return False
        if change.credential_from is None:
            return pin.credential_id == change.credential_id
        if not 0 <= change.credential_from < len(org.changes):
            return False
        entry = org.changes[change.credential_from].name  # the pin follows this entry's new one
        on = by_id.get(pin.credential_id or "")
        return on is not None and on.claim() == (owner, entry) and on.id not in set(org.known_ids)
    if change.action == "delete":
        return change.credential_id not in by_id
    if change.action == "set-default":
        cred = by_id.get(change.credential_id or "")
        return cred is not None and cred.is_default
    if change.action in ("update", "adopt"):
        cred = by_id.get(change.credential_id or "")
        return (cred is not None
                and (change.metadata is None or dict(cred.metadata) == change.metadata)
                and (change.display_name is None or cred.display_name == change.display_name))
    if change.action not in ("create", "replace"):
        return False  # an action this check cannot see in the credentials: not provably done
    # create / replace: a credential that was not there at plan time, carrying this entry's
    # key, base URL and expiry, under this owner (and the old one gone, for a replace).
    if change.action == "replace" and change.credential_id in by_id:
        return False
    known = set(org.known_ids)
    return any(c.id not in known
               and c.claim() == (owner, change.name)
               and c.fingerprint == change.fingerprint
               and c.base_url == (change.base_url or "")
               and c.expires_at == change.expires_at
               and (c.is_default or not change.make_default)
               for c in live)
