"""Views of credentials for people: the `before`/`after` of a plan's changes.

Non-sensitive attributes only, and display only: apply decides from a change's typed
fields, never from these views. Pure; shared by the planner and every credential kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mxsync import ownership
from mxsync.secrets import SENSITIVE, looks_like_secret
from mxsync.state import LiveCredential


def shown_labels(labels: Mapping[str, Any]) -> dict[str, Any]:
    """Labels as any output may show them: a value that looks like a key or token is
    `(sensitive)` in text, JSON and saved plans alike."""
    return {k: SENSITIVE if isinstance(v, str) and looks_like_secret(v) else v
            for k, v in labels.items()}


def view_live(cred: LiveCredential) -> dict[str, Any]:
    return {
        "display_name": cred.display_name,
        "is_default": cred.is_default,
        "base_url": cred.base_url or None,
        "expires_at": cred.expires_at,
        "key_fingerprint": cred.fingerprint,
        "labels": shown_labels(ownership.labels_of(cred.metadata)),
        "credential_id": cred.id,
    }
