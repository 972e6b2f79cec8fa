"""The name a minted key gets at xAI: the only mark that ties a key to this tool.

`mxsync/OWNER/ENTRY/ATTEMPT/ORG`. Owner, entry and attempt never hold a `/` (the
manifest schema forbids it), so the org id, which may, goes last and the name
splits back unambiguously. The attempt starts with the UTC time of the mint, so
a reader can tell a key from an earlier run from one this run just made, and ends
with a tag of the ModuleX API the key was minted for: one xAI team may serve a
production ModuleX and a staging one (or the emulator) with the same org ids, and
a run against one must never take the other's keys for its own orphans.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

PREFIX = "mxsync"


@dataclass(frozen=True)
class KeyName:
    owner: str
    entry: str
    attempt: str
    org: str

    def __str__(self) -> str:
        return f"{PREFIX}/{self.owner}/{self.entry}/{self.attempt}/{self.org}"


def site_of(api_url: str | None) -> str:
    """A short tag of the ModuleX API a key is minted for ("" when unknown: matches none)."""
    if not api_url:
        return ""
    return hashlib.sha256(api_url.rstrip("/").lower().encode()).hexdigest()[:8]


def new_name(owner: str, org: str, entry: str, site: str, now: datetime | None = None) -> KeyName:
    """A fresh name for one mint attempt: its time, 32 random bits (so no two collide), and
    the tag of the ModuleX API it is for."""
    when = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return KeyName(owner, entry, f"{when}-{secrets.token_hex(4)}-{site}", org)


def parse(name: str) -> KeyName | None:
    """The parts of a name this tool gave; None for any other key's name."""
    parts = name.split("/", 4)
    if len(parts) != 5 or parts[0] != PREFIX or not all(parts[1:]):
        return None
    return KeyName(owner=parts[1], entry=parts[2], attempt=parts[3], org=parts[4])


def owned(name: str, owner: str, org: str, site: str) -> KeyName | None:
    """The parsed name when it marks this owner's key for this org of this ModuleX API,
    else None (an unknown `site` matches nothing, so nothing is taken for an orphan)."""
    parsed = parse(name)
    if parsed is None or not site or not parsed.attempt.endswith(f"-{site}"):
        return None
    return parsed if parsed.owner == owner and parsed.org == org else None
