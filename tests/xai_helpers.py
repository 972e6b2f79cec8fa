"""Test helpers for xAI's Management API on the emulator: a team of the test's own."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

MINT_ACLS = ["api-key:model:grok-4-fast", "api-key:endpoint:chat"]


@dataclass
class XaiTeam:
    """A team and a management key that only this test uses (its faults hit only it)."""

    __test__ = False
    id: str
    token: str
    emulator_url: str
    other_team: str = field(default="")  # a team the key may not manage

    @property
    def url(self) -> str:
        return f"{self.emulator_url}/xai-management"

    def client(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url,
                            headers={"Authorization": f"Bearer {token or self.token}"})

    def mint(self, name: str = "k", **extra: Any) -> dict[str, Any]:
        with self.client() as c:
            r = c.post(f"/auth/teams/{self.id}/api-keys", json={"name": name, "acls": MINT_ACLS, **extra})
        r.raise_for_status()
        return dict(r.json())

    def faults(self, faults: dict[str, float], seed: int = 0, hold_s: float = 30.0) -> None:
        httpx.post(f"{self.emulator_url}/_emulator/faults", json={
            "org": self.id, "faults": faults, "seed": seed, "hold_s": hold_s}).raise_for_status()


def new_team(emulator_url: str, **team: Any) -> XaiTeam:
    """Add a team (with any fixture fields, e.g. propagation_s) and a key that manages it."""
    suffix = uuid.uuid4().hex[:12]
    team_id, other = f"team-{suffix}", f"team-other-{suffix}"
    token = f"mgmt-test-{uuid.uuid4().hex}"
    httpx.post(f"{emulator_url}/_emulator/world", json={"xai": {
        "teams": [{"id": team_id, "name": f"Team {suffix}", **team}, {"id": other}],
        "management_keys": [{"token": token, "teams": [team_id]}],
    }}).raise_for_status()
    return XaiTeam(id=team_id, token=token, emulator_url=emulator_url, other_team=other)
