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
class AssistantPin:
    """`composer_llm`: the Assistant's model, and the credential it runs on."""

    integration_name: str | None
    provider_id: str | None
    model_id: str | None
    credential_id: str | None

    def to_dict(self) -> dict[str, str | None]:
        return {"integration_name": self.integration_name, "provider_id": self.provider_id,
                "model_id": self.model_id, "credential_id": self.credential_id}


@dataclass(frozen=True)
class OrgSettings:
    """`GET /organizations/settings`, the parts mxsync manages for xAI."""

    visible_models: tuple[str, ...] | None  # xai's list; None: the provider's full list
    assistant: AssistantPin | None

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> OrgSettings:
        visibility = body.get("llm_model_visibility")
        listed = visibility.get(XAI) if isinstance(visibility, Mapping) else None
        models = (tuple(str(m.get("id")) for m in listed if isinstance(m, Mapping))
                  if isinstance(listed, list) and listed else None)
        pin = body.get("composer_llm")
        assistant = None
        if isinstance(pin, Mapping):
            def text(key: str) -> str | None:
                value = pin.get(key)
                return None if value is None else str(value)

            assistant = AssistantPin(text("integration_name"), text("provider_id"),
                                     text("model_id"), text("credential_id"))
        return cls(visible_models=models, assistant=assistant)

    def to_dict(self) -> dict[str, Any]:
        return {"visible_models": None if self.visible_models is None else list(self.visible_models),
                "assistant": self.assistant.to_dict() if self.assistant else None}


XAI = "xai"


@dataclass(frozen=True)
class LiveOrg:
    id: str
    credentials: tuple[LiveCredential, ...] = ()
    models: tuple[str, ...] | None = None  # None: the catalog was not read
    # The catalog's display names, each with the id it names (for did-you-mean).
    model_names: tuple[tuple[str, str], ...] = ()
    # The keys of the xAI team this org mints in (None: not read, the org mints nothing).
    xai_keys: tuple[XaiKeyView, ...] | None = None
    # The endpoints that team offers, read only when an entry's ACL names one past
    # `minting.live.COMMON_ENDPOINTS` (None: not read).
    xai_endpoints: tuple[str, ...] | None = None
    settings: OrgSettings | None = None  # None: the settings were not read

    @property
    def digest(self) -> str:
        return live_digest(self.credentials, self.settings)

    def pinned_id(self) -> str | None:
        """The xai credential the Assistant runs on, when the settings were read."""
        pin = self.settings.assistant if self.settings else None
        return pin.credential_id if pin else None


def live_digest(credentials: Sequence[LiveCredential], settings: OrgSettings | None = None) -> str:
    """What a saved plan was computed against. `last_used_at` is left out on purpose:
    it moves whenever a workflow runs, which must not make a plan stale. Settings count
    only when the plan read them."""
    rows: list[Any] = sorted(
        (c.id, c.display_name, c.is_default, c.expires_at, dict(c.metadata)) for c in credentials
    )
    if settings is not None:
        rows.append(["settings", settings.to_dict()])
    text = json.dumps(rows, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:32]
