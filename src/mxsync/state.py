"""The live state as plain data: what the planner, audit and the plan file read.

No I/O and no HTTP stack here, so the planner can import these types without
loading httpx; reading them from the API is `live.py`'s job.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mxsync import ownership
from mxsync.manifest.model import normalize_instant
from mxsync.minting.state import XaiKeyView


@dataclass(frozen=True)
class LiveCredential:
    id: str
    display_name: str
    is_default: bool
    metadata: Mapping[str, Any] = field(default_factory=dict)
    expires_at: str | None = None  # normalized, like the manifest's
    created_at: str | None = None
    last_used_at: str | None = None
    masked: str | None = None  # only read for adoption candidates

    @classmethod
    def from_api(cls, record: Mapping[str, Any]) -> LiveCredential:
        expires = record.get("expires_at")
        # An unparsable expiry keeps the service's text: it shows up as a difference.
        with contextlib.suppress(ValueError):
            expires = normalize_instant(expires) if expires else None
        return cls(
            id=str(record["credential_id"]),
            display_name=str(record.get("display_name") or ""),
            is_default=bool(record.get("is_default")),
            metadata=dict(record.get("credentials_metadata") or {}),
            expires_at=expires,
            created_at=record.get("created_at"),
            last_used_at=record.get("last_used_at"),
        )

    def claim(self) -> tuple[str | None, str | None]:
        """(owner, entry name) when mxsync manages it, else (None, None)."""
        if not ownership.has_marker(self.metadata):
            return None, None
        return self.metadata.get(ownership.OWNER), self.metadata.get(ownership.NAME)

    @property
    def fingerprint(self) -> str | None:
        return self.metadata.get(ownership.FINGERPRINT)

    @property
    def base_url(self) -> str:
        return str(self.metadata.get(ownership.BASE_URL) or "")


@dataclass(frozen=True)
class LiveOrg:
    id: str
    credentials: tuple[LiveCredential, ...] = ()
    models: tuple[str, ...] | None = None  # None: the catalog was not read
    # The keys of the xAI team this org mints in (None: not read, the org mints nothing).
    xai_keys: tuple[XaiKeyView, ...] | None = None

    @property
    def digest(self) -> str:
        return live_digest(self.credentials)


def live_digest(credentials: Sequence[LiveCredential]) -> str:
    """What a saved plan was computed against. `last_used_at` is left out on purpose:
    it moves whenever a workflow runs, which must not make a plan stale."""
    rows = sorted(
        (c.id, c.display_name, c.is_default, c.expires_at, dict(c.metadata)) for c in credentials
    )
    text = json.dumps(rows, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:32]
