"""Audit findings about key age and minted keys. Pure: the flow reads, this judges.

- `rotation-due`: a key older than its entry's `rotate_after` (any source; a minted key's
  age is xAI's createTime, an env or file key's is its credential's created_at);
- `xai-key-missing`: a minted credential whose key is gone, disabled or expired at xAI;
- `xai-orphan`: a key at xAI whose name marks it as this owner's for this org and that
  no credential references.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from mxsync.manifest.model import parse_instant
from mxsync.minting import names
from mxsync.minting.plan import age_s, key_id_of

if TYPE_CHECKING:
    from mxsync.audit import Finding
    from mxsync.manifest.model import OrgEntry
    from mxsync.state import LiveCredential, LiveOrg

MINT_SEVERITY: dict[str, Literal["error", "warning"]] = {
    "rotation-due": "warning",
    "xai-key-missing": "error",
    "xai-orphan": "warning",
}
MINT_CHECKS = tuple(MINT_SEVERITY)
# Plan reasons these findings already report, so audit need not repeat them as drift.
REPORTED_REASONS = frozenset({"rotation-due", "xai-key-missing", "xai-key-disabled",
                              "xai-key-expired", "xai-orphan"})


def _finding(code: str, org: str, credential: str | None, message: str) -> Finding:
    from mxsync.audit import Finding

    return Finding(org=org, code=code, credential=credential, message=message,
                   severity=MINT_SEVERITY[code])


def _label(cred: LiveCredential) -> str:
    return f"{cred.display_name} ({cred.id})"


def _days(seconds: int) -> str:
    return f"{seconds // 86_400}d" if seconds >= 86_400 else f"{seconds // 3_600}h"


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
                out.append(_finding("xai-key-missing", live.id, _label(cred), (
                    f"its minted key {key_id} is {state} at xAI, so the credential cannot work; "
                    "`mxsync apply` mints a new one (a rotation)")))
        if wanted.rotate_after_s is not None:
            age = age_s(key, cred, as_of)
            if age is not None and age >= wanted.rotate_after_s:
                how = ("`mxsync apply` rotates it" if wanted.minted
                       else f"put a new key in {wanted.describe_source()} and apply")
                out.append(_finding("rotation-due", live.id, _label(cred), (
                    f"the key is {_days(age)} old, rotate_after is {_days(wanted.rotate_after_s)}; "
                    f"{how}")))
    referenced = {key_id_of(c) for c in live.credentials}
    for key in live.xai_keys or ():
        if names.owned(key.name, owner, live.id, site) and key.api_key_id not in referenced:
            out.append(_finding("xai-orphan", live.id, None, (
                f"key {key.api_key_id} ({key.name}) at xAI was minted by owner '{owner}' for this "
                "org but no credential holds it; `mxsync apply` deletes it")))
    return out
