"""Audit findings about key age and minted keys. Pure: the flow reads, this judges.

- `rotation-due`: a key older than its entry's `rotate_after` (any source; a minted key's
  age is xAI's createTime, an env or file key's is its credential's created_at);
- `xai-key-missing`: a minted credential whose key is gone, disabled or expired at xAI;
- `xai-orphan`: a key at xAI whose name marks it as this owner's for this org and that
  no credential references.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from mxsync.audit import Check, Finding, FindingCode
from mxsync.manifest.model import parse_instant
from mxsync.minting import names
from mxsync.minting.plan import age_s, key_id_of
from mxsync.plan import ReasonCode

if TYPE_CHECKING:
    from mxsync.manifest.model import OrgEntry
    from mxsync.state import LiveOrg

ROTATION_DUE = Check(FindingCode.ROTATION_DUE, "warning", "manifest")
XAI_KEY_MISSING = Check(FindingCode.XAI_KEY_MISSING, "error", "manifest")
XAI_ORPHAN = Check(FindingCode.XAI_ORPHAN, "warning", "manifest")
# This kind's checks, which the audit flow registers with `audit.checks_for`.
MINT_CHECKS = (ROTATION_DUE, XAI_KEY_MISSING, XAI_ORPHAN)
# Plan reasons these findings already report, so audit need not repeat them as drift.
REPORTED_REASONS: frozenset[str] = frozenset({
    ReasonCode.ROTATION_DUE, ReasonCode.XAI_KEY_MISSING, ReasonCode.XAI_KEY_DISABLED,
    ReasonCode.XAI_KEY_EXPIRED, ReasonCode.XAI_ORPHAN})


def mint_findings(entry: OrgEntry, owner: str, live: LiveOrg, as_of: datetime, site: str
                  ) -> list[Finding]:
    out: list[Finding] = []
    keys = {k.api_key_id: k for k in live.xai_keys or ()}
    for cred in live.credentials:
        claimed_owner, name = cred.claim()
        wanted = entry.entry(name) if claimed_owner == owner and name else None
        if wanted is None:
            continue
        key_id = key_id_of(cred)
        key = keys.get(key_id) if key_id else None
        if key_id and live.xai_keys is not None:
            expired = bool(key and key.expires_at and parse_instant(key.expires_at) <= as_of)
            if key is None or key.disabled or expired:
                state = "gone" if key is None else ("disabled" if key.disabled else "expired")
                out.append(XAI_KEY_MISSING.found(live.id, cred, key_id=key_id, state=state))
        if wanted.rotate_after_s is not None:
            age = age_s(key, cred, as_of)
            if age is not None and age >= wanted.rotate_after_s:
                out.append(ROTATION_DUE.found(live.id, cred, age_s=age,
                                              rotate_after_s=wanted.rotate_after_s,
                                              minted=wanted.minted,
                                              source=wanted.describe_source()))
    referenced = {key_id_of(c) for c in live.credentials}
    for key in live.xai_keys or ():
        if names.owned(key.name, owner, live.id, site) and key.api_key_id not in referenced:
            out.append(XAI_ORPHAN.found(live.id, key_id=key.api_key_id, key_name=key.name,
                                        owner=owner))
    return out
