"""The world of issue #24, generated: N orgs of hand-made xAI credentials (120 by default).

    python -m benchmarks.scale_world --orgs 120 --out world.json   # write the fixture only

The issue tried mxsync as a platform team would: 120 orgs, 232 hand-made credentials with
repeated and case-different display names (`test` twice, `Prod` and `prod`), unicode,
blank and very long names, 35 expired, 11 credentials holding one key and 16 orgs without a
default. `generate` builds that world for any N, every count scaled by N / 120 (at least one
of each feature, two for the shared key), from a seed: the same N and seed give the same
fixture byte for byte (ids, keys, names, order), so a run can be compared with the last.
Keys are fake (`xai-` + 40 random letters and digits). The fixture is the emulator's format
(`mxsync emulator --fixture FILE`).

The run over this world (`benchmarks/scale_run.py`) measures each step against its floor.
"""

from __future__ import annotations

import argparse
import json
import random
import string
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BASE_ORGS = 120
# The world at 120 orgs. The first five are the issue's own figures; the rest say how
# often each kind of awkward name appears (orgs holding it).
BASE = {
    "credentials": 232,
    "expired": 35,
    "shared_key": 11,
    "no_default": 16,
    "test_twice": 12,  # orgs with two credentials named `test`
    "prod_case": 8,  # orgs with `Prod` and `prod`
    "unicode": 6,  # orgs with `Ünïcødé kéy`
    "blank": 4,  # orgs with a display name of one space
    "long": 4,  # orgs with a 300-character display name
}
UNICODE_NAME = "Ünïcødé kéy"
LONG_NAME = "very long name " * 20  # 300 characters
ORDINARY = ("default", "ci", "production", "staging", "batch jobs", "dev key", "backup",
            "team-a", "analytics", "support bot", "nightly", "research")
EXPIRED_AT = "2025-09-30T00:00:00Z"  # the expired default
FUTURE_AT = "2030-06-30T00:00:00Z"
ADMIN_ID = "u-scale-admin"
OBSERVER_ID = "u-scale-observer"


@dataclass
class World:
    """A generated fixture and what a run needs to know about it."""

    fixture: dict[str, Any]
    token: str  # the admin token mxsync uses (owner of every org)
    observer: str  # a second token, unlimited, for checks outside the measured steps
    orgs: list[str]
    key_of: dict[str, str]  # credential id -> its key
    counts: dict[str, int] = field(default_factory=dict)  # the features as generated

    @property
    def credentials(self) -> int:
        return len(self.key_of)

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(self.fixture, ensure_ascii=False))
        return path


def scaled(n: int) -> dict[str, int]:
    """The feature counts for N orgs: the issue's, times N / 120, at least one of each (two
    credentials for the shared key, which needs two to be shared)."""
    out = {k: max(1, round(v * n / BASE_ORGS)) for k, v in BASE.items()}
    out["shared_key"] = max(2, out["shared_key"])
    out["no_default"] = min(out["no_default"], n)
    return out


def _key(rng: random.Random) -> str:
    return "xai-" + "".join(rng.choices(string.ascii_letters + string.digits, k=40))


def generate(n: int = BASE_ORGS, seed: int = 24, prefix: str = "") -> World:
    """The world for N orgs. `prefix` goes before every org id and token, so that several
    worlds can share one emulator (the tests' session emulator)."""
    if n < 1:
        raise ValueError("a world needs at least one org")
    rng = random.Random(f"{seed}:{n}")
    counts = scaled(n)
    orgs = [f"{prefix}org-{i:04d}" for i in range(n)]
    names: dict[str, list[str]] = {o: [] for o in orgs}

    def place(feature: str, display_names: list[str]) -> None:
        for org in rng.sample(orgs, min(counts[feature], n)):
            names[org].extend(display_names)

    place("test_twice", ["test", "test"])
    place("prod_case", ["Prod", "prod"])
    place("unicode", [UNICODE_NAME])
    place("blank", [" "])
    place("long", [LONG_NAME])
    for org in orgs:  # every org holds at least one credential
        if not names[org]:
            names[org].append(rng.choice(ORDINARY))
    total = max(counts["credentials"], sum(len(v) for v in names.values()))
    while sum(len(v) for v in names.values()) < total:
        org = rng.choice(orgs)
        free = [o for o in ORDINARY if o.lower() not in {x.lower() for x in names[org]}]
        if free:
            names[org].append(rng.choice(free))
    counts["credentials"] = total

    start = datetime(2025, 1, 1, tzinfo=UTC)
    records: list[dict[str, Any]] = []  # every credential, in creation order
    by_org: dict[str, list[dict[str, Any]]] = {}
    for org in orgs:
        rng.shuffle(names[org])
        by_org[org] = []
        for display in names[org]:
            cred = {
                "credential_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "integration_name": "xai",
                "display_name": display,
                "api_key": _key(rng),
                "created_at": (start + timedelta(minutes=len(records)))
                .strftime("%Y-%m-%dT%H:%M:%SZ"),
                "is_default": False,
                "metadata": {},
            }
            records.append(cred)
            by_org[org].append(cred)
    for cred in rng.sample(records, counts["expired"]):
        cred["expires_at"] = EXPIRED_AT
    for cred in rng.sample([c for c in records if "expires_at" not in c], len(records) // 5):
        cred["expires_at"] = FUTURE_AT
    shared = _key(rng)
    for cred in rng.sample(records, counts["shared_key"]):
        cred["api_key"] = shared
    without_default = set(rng.sample(orgs, counts["no_default"]))
    for org in orgs:
        if org not in without_default:
            rng.choice(by_org[org])["is_default"] = True  # `is_default: false` elsewhere, to the letter

    tag = "".join(rng.choices(string.ascii_lowercase + string.digits, k=24))
    token, observer = f"mx_live_{prefix}admin_{tag}", f"mx_live_{prefix}observer_{tag}"
    fixture = {
        "users": [
            {"token": token, "id": f"{prefix}{ADMIN_ID}", "email": "platform@example.com",
             "memberships": dict.fromkeys(orgs, "owner")},
            # Reads the world between the steps, on its own limit, so that checking costs the
            # admin token nothing.
            {"token": observer, "id": f"{prefix}{OBSERVER_ID}", "email": "observer@example.com",
             "memberships": dict.fromkeys(orgs, "admin"), "rate_limit_per_minute": 1_000_000},
        ],
        "orgs": [{"id": o, "name": f"Team {i:04d}", "credentials": by_org[o]}
                 for i, o in enumerate(orgs)],
    }
    return World(fixture, token, observer, orgs,
                 {c["credential_id"]: c["api_key"] for c in records}, counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orgs", type=int, default=BASE_ORGS)
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--out", type=Path, required=True, help="the fixture file to write")
    args = parser.parse_args()
    world = generate(args.orgs, args.seed)
    world.write(args.out)
    print(json.dumps({"orgs": len(world.orgs), **world.counts}))


if __name__ == "__main__":
    main()
