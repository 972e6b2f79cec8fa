"""A team's keys at xAI as plain data, for the planner and audit (no I/O, no HTTP stack)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ENDPOINT_ACL = "api-key:endpoint:"
# Endpoints every xAI team offers: an ACL naming only these needs no read of the team's list.
COMMON_ENDPOINTS = frozenset({"*", "chat", "image"})


def uncommon_endpoints(acls: Iterable[str]) -> set[str]:
    """The endpoints these ACLs grant past the common ones: only these make planning ask the
    team which endpoints it offers (one call per team, and none for most manifests)."""
    return {a[len(ENDPOINT_ACL):] for a in acls if a.startswith(ENDPOINT_ACL)} - COMMON_ENDPOINTS


@dataclass(frozen=True)
class XaiKeyView:
    """What the Management API's list says about one key; never its secret.

    Times are RFC 3339 text in UTC (or None when xAI did not say), so the plan stays
    plain data and the planner decides ages against the `now` it is given."""

    api_key_id: str
    name: str
    disabled: bool = False
    created_at: str | None = None
    expires_at: str | None = None
    acls: tuple[str, ...] = ()
    qps: int | None = None
    qpm: int | None = None
    tpm: int | None = None

    def settings(self) -> dict[str, object]:
        """The fields a manifest's `mint:` sets, to compare with it."""
        return {"acls": sorted(self.acls), "qps": self.qps, "qpm": self.qpm, "tpm": self.tpm}
