"""The manifest as typed, immutable values: what plan and apply read."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mxsync.secrets import KeySource

DEFAULT_OWNER = "default"
DEFAULT_TOKEN_ENV = "MODULEX_API_KEY"
DEFAULT_MANAGEMENT_KEY_ENV = "XAI_MANAGEMENT_KEY"
DEFAULT_MANAGEMENT_URL = "https://management-api.x.ai"

_DURATION_UNITS = {"d": 86_400, "h": 3_600}
DURATION_PATTERN = re.compile(r"([1-9][0-9]{0,5})([dh])")


def entry_name_for(display_name: str) -> str:
    """The valid entry name closest to a live display name (`My Key!` -> `My-Key`).

    `mxsync import` names entries this way, and plan adopts an unmanaged credential whose
    display name maps to the entry's name (if its masked key matches), renaming it."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", display_name).strip("-._")[:63]


class InstantOutOfRange(ValueError):
    """An ISO-8601 text whose instant, in UTC, falls outside the years 1 to 9999."""


def parse_instant(text: str) -> datetime:
    """ISO-8601 to an aware UTC datetime; a time without zone is taken as UTC.

    Raises ValueError for any text that is not such an instant, including one that is
    out of range once moved to UTC (`9999-12-31T23:59:59-01:00`), so callers need one
    `except`."""
    parsed = datetime.fromisoformat(text.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise InstantOutOfRange("the instant is out of range (years 1 to 9999 in UTC)") from None


def normalize_instant(text: str | None) -> str | None:
    """One spelling per instant, so `...+00:00` and `...Z` never look like a change."""
    if text is None:
        return None
    p = parse_instant(text)  # strftime's %Y would drop the leading zeros of years before 1000
    return f"{p.year:04d}-{p.month:02d}-{p.day:02d}T{p.hour:02d}:{p.minute:02d}:{p.second:02d}Z"


def parse_duration(text: str) -> int:
    """`30d` / `12h` to seconds. The schema admits only these two units: a key's age is
    counted in days or hours, and a unit-less number would be ambiguous."""
    match = DURATION_PATTERN.fullmatch(text)
    if match is None:
        raise ValueError(f"not a duration like 30d or 12h: {text!r}")
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]


@dataclass(frozen=True)
class Location:
    file: str
    line: int
    column: int
    path: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.path}"


@dataclass(frozen=True)
class XaiManagement:
    """How to reach xAI's Management API for one team. Holds the *name* of the variable
    with the management key, never the key."""

    team_id: str
    key_env: str = DEFAULT_MANAGEMENT_KEY_ENV
    url: str = DEFAULT_MANAGEMENT_URL


@dataclass(frozen=True)
class MintSpec:
    """What a key minted through the Management API may do. Compared as a whole: a change
    of any field means the live key no longer matches the manifest (a rotation)."""

    acls: tuple[str, ...]
    qps: int | None = None
    qpm: int | None = None
    tpm: int | None = None


@dataclass(frozen=True)
class CredentialEntry:
    """One desired xAI credential. Exactly one of `key` (an env var or file holding the key)
    and `mint` (mxsync mints the key at xAI, so no one ever holds it) is set."""

    name: str
    key: KeySource | None  # None exactly when `mint` is set
    base_url: str | None = None
    expires_at: str | None = None  # normalized UTC, see normalize_instant
    labels: Mapping[str, str] = field(default_factory=dict)
    test: bool = True
    mint: MintSpec | None = None
    rotate_after_s: int | None = None  # seconds; from `rotate_after: 30d`
    where: Location | None = field(default=None, compare=False)
    # The name people see in ModuleX when it cannot be the entry's name (`Ünïcødé kéy`).
    display_name: str | None = None
    # The live credential_id this entry takes under management (written by `import`).
    adopt_id: str | None = None

    @property
    def minted(self) -> bool:
        return self.mint is not None

    @property
    def shown_name(self) -> str:
        """The display name the live credential should carry: `display_name`, else the name."""
        return self.display_name if self.display_name is not None else self.name

    def at(self) -> str:
        """` (FILE:LINE:COL)` for messages, or nothing for an entry not read from a file."""
        return f" ({self.where})" if self.where is not None else ""

    def describe_source(self) -> str:
        """Where the key comes from, for messages: `$VAR`, `file PATH` or `minted at xAI`."""
        return self.key.describe() if self.key is not None else "a key minted at xAI"


@dataclass(frozen=True)
class AssistantSetting:
    """The model and credential ModuleX's Assistant uses (`composer_llm`).

    `credential` is always an entry name of the org: the one written, or the org's
    `default` when none was written (`follows_default` then says so)."""

    model: str
    credential: str
    follows_default: bool = False


@dataclass(frozen=True)
class OrgEntry:
    id: str
    label: str | None = None
    token_env: str | None = None
    prune: bool = False
    default: str | None = None
    require_models: tuple[str, ...] = ()
    credentials: tuple[CredentialEntry, ...] = ()
    models: tuple[str, ...] | None = None  # None: not managed; (): the catalog's full list
    assistant: AssistantSetting | None = None
    # The Management API settings in force for this org: its own block merged over the
    # manifest's top-level one (field by field), or None when neither is set.
    xai_management: XaiManagement | None = None
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
    xai_management: XaiManagement | None = None  # the top-level block; orgs carry the merged one

    def token_env_for(self, org: OrgEntry) -> str:
        return org.token_env or self.token_env

    @property
    def credential_count(self) -> int:
        return sum(len(o.credentials) for o in self.orgs)
