"""What mxsync writes into a credential's metadata, and how it reads it back.

Ownership lives in the live credential itself, never in a local state file. These
keys are how a later run knows which live credential a manifest entry owns and
whether its key or base URL changed, since the API never returns `auth_data`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MANAGED_BY = "managed_by"
MARKER = "mxsync"
OWNER = "mxsync_owner"
NAME = "mxsync_name"
FINGERPRINT = "mxsync_key_fingerprint"
BASE_URL = "mxsync_base_url"
XAI_KEY_ID = "mxsync_xai_key_id"  # only on a minted credential: its key's apiKeyId at xAI
RESERVED = frozenset({MANAGED_BY, OWNER, NAME, FINGERPRINT, BASE_URL, XAI_KEY_ID})


def managed_metadata(
    labels: Mapping[str, str], owner: str, name: str, fingerprint: str, base_url: str | None,
    xai_key_id: str | None = None,
) -> dict[str, Any]:
    """The whole metadata of a managed credential: the user's labels beside our keys (and, for
    a minted key, its apiKeyId at xAI, so a later run can find, check and delete it)."""
    extra = {XAI_KEY_ID: xai_key_id} if xai_key_id else {}
    return {
        **labels,
        MANAGED_BY: MARKER,
        OWNER: owner,
        NAME: name,
        FINGERPRINT: fingerprint,
        BASE_URL: base_url or "",
        **extra,
    }


def has_marker(metadata: Mapping[str, Any] | None) -> bool:
    return metadata is not None and metadata.get(MANAGED_BY) == MARKER


def owned_by(metadata: Mapping[str, Any] | None, owner: str) -> bool:
    return metadata is not None and has_marker(metadata) and metadata.get(OWNER) == owner


def labels_of(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """The user's part of a managed credential's metadata."""
    return {k: v for k, v in (metadata or {}).items() if k not in RESERVED}
