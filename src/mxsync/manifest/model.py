"""The manifest as typed, immutable values: what plan and apply read."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mxsync.secrets import KeySource

DEFAULT_OWNER = "default"
DEFAULT_TOKEN_ENV = "MODULEX_API_KEY"


def entry_name_for(display_name: str) -> str:
    """The valid entry name closest to a live display name (`My Key!` -> `My-Key`).

    `mxsync import` names entries this way, and plan adopts an unmanaged credential whose
    display name maps to the entry's name (if its masked key matches), renaming it."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", display_name).strip("-._")[:63]


def parse_instant(text: str) -> datetime:
    """ISO-8601 to an aware UTC datetime; a time without zone is taken as UTC."""
    parsed = datetime.fromisoformat(text.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def normalize_instant(text: str | None) -> str | None:
    """One spelling per instant, so `...+00:00` and `...Z` never look like a change."""
    if text is None:
        return None
    return parse_instant(text).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Location:
    file: str
    line: int
    column: int
    path: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.path}"


@dataclass(frozen=True)
class CredentialEntry:
    name: str
    key: KeySource
    base_url: str | None = None
    expires_at: str | None = None  # normalized UTC, see normalize_instant
    labels: Mapping[str, str] = field(default_factory=dict)
    test: bool = True
    where: Location | None = field(default=None, compare=False)


@dataclass(frozen=True)
class OrgEntry:
    id: str
    label: str | None = None
    token_env: str | None = None
    prune: bool = False
    default: str | None = None
    require_models: tuple[str, ...] = ()
    credentials: tuple[CredentialEntry, ...] = ()
    where: Location | None = field(default=None, compare=False)

    def entry(self, name: str) -> CredentialEntry | None:
        return next((c for c in self.credentials if c.name == name), None)


@dataclass(frozen=True)
class Manifest:
    owner: str = DEFAULT_OWNER
    api_url: str | None = None
    token_env: str = DEFAULT_TOKEN_ENV
    orgs: tuple[OrgEntry, ...] = ()
    files: tuple[str, ...] = ()
    digest: str = ""

    def token_env_for(self, org: OrgEntry) -> str:
        return org.token_env or self.token_env

    @property
    def credential_count(self) -> int:
        return sum(len(o.credentials) for o in self.orgs)
