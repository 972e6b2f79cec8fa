"""The name a minted key gets at xAI: the only mark that ties a key to this tool.

`mxsync/OWNER/ENTRY/ATTEMPT/ORG`. Owner, entry and attempt never hold a `/` (the
manifest schema forbids it), so the org id, which may, goes last and the name
splits back unambiguously. The attempt starts with the UTC time of the mint, so
a reader can tell a key from an earlier run from one this run just made.
"""

from __future__ import annotations

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


def new_name(owner: str, org: str, entry: str, now: datetime | None = None) -> KeyName:
    """A fresh name for one mint attempt: its time and 32 random bits, so no two collide."""
    when = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return KeyName(owner, entry, f"{when}-{secrets.token_hex(4)}", org)


def parse(name: str) -> KeyName | None:
    """The parts of a name this tool gave; None for any other key's name."""
    parts = name.split("/", 4)
    if len(parts) != 5 or parts[0] != PREFIX or not all(parts[1:]):
        return None
    return KeyName(owner=parts[1], entry=parts[2], attempt=parts[3], org=parts[4])


def owned(name: str, owner: str, org: str) -> KeyName | None:
    """The parsed name when it marks this owner's key for this org, else None."""
    parsed = parse(name)
    return parsed if parsed is not None and parsed.owner == owner and parsed.org == org else None
