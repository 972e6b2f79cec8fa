"""A minted-key world for one test: its own org, xAI team and management key on the emulator,
a manifest that mints into that team, and the checks every converged run must pass."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mxsync import ownership
from mxsync.minting import names
from tests.cli_helpers import write_manifest
from tests.conftest import OrgFactory, TestOrg
from tests.xai_helpers import MINT_ACLS, XaiTeam, new_team


@dataclass
class MintWorld:
    __test__ = False
    org: TestOrg
    team: XaiTeam
    manifest: Path
    owner: str
    token_env: str
    key_env: str

    @property
    def env(self) -> dict[str, str]:
        return {self.token_env: self.org.token, self.key_env: self.team.token,
                "MODULEX_BASE_URL": self.org.url, "XAI_MANAGEMENT_URL": self.team.url}

    def write(self, qpm: int = 600, rotate_after: str | None = None,
              acls: list[str] | None = None, **entry: Any) -> None:
        minted: dict[str, Any] = {"name": "minted", "mint": {"acls": acls or MINT_ACLS, "qpm": qpm},
                                  **entry}
        if rotate_after:
            minted["rotate_after"] = rotate_after
        write_manifest(self.manifest, [{
            "id": self.org.id, "token_env": self.token_env,
            "xai": {"default": "minted", "credentials": [minted]},
        }], owner=self.owner, api={"url": self.org.url},
            xai_management={"team_id": self.team.id, "key_env": self.key_env, "url": self.team.url})

    def team_keys(self) -> list[dict[str, Any]]:
        with self.team.client() as c:
            r = c.get(f"/auth/teams/{self.team.id}/api-keys", params={"pageSize": 100})
        r.raise_for_status()
        return list(r.json()["apiKeys"])

    def clear_faults(self) -> None:
        self.org.faults({})
        self.team.faults({})

    def plan(self, replace: tuple[str, ...] = (), timeout_s: float = 30.0) -> Any:
        from mxsync.flows.common import RunOptions
        from mxsync.flows.plan import plan_manifest
        from mxsync.manifest import load_or_raise
        from mxsync.planner import Target

        options = RunOptions(timeout_s=timeout_s, replace=tuple(Target.parse(r) for r in replace))
        return plan_manifest(load_or_raise([str(self.manifest)]), options)

    def apply(self, replace: tuple[str, ...] = (), timeout_s: float = 30.0) -> tuple[Any, Any]:
        """One plan + apply in this process (as `mxsync apply -f --auto-approve` does)."""
        from mxsync.flows.apply import apply_plan
        from mxsync.flows.common import RunOptions

        plan = self.plan(replace, timeout_s)
        report = apply_plan(plan, RunOptions(timeout_s=timeout_s), saved=False)
        return plan, report

    def converge(self, runs: int = 12, timeout_s: float = 30.0) -> int:
        """Apply until a plan has nothing left to do; how many applies that took."""
        from mxsync.errors import MxsyncError

        for n in range(runs):
            try:
                plan = self.plan(timeout_s=timeout_s)
            except MxsyncError:
                continue
            if not plan.has_changes and not plan.errors:
                return n
            from mxsync.flows.apply import apply_plan
            from mxsync.flows.common import RunOptions

            apply_plan(plan, RunOptions(timeout_s=timeout_s), saved=False)
        raise AssertionError(f"no convergence after {runs} applies")

    def assert_converged(self, qpm: int = 600) -> dict[str, Any]:
        """Exactly one live xAI key, held by the one credential, which is the default; no
        orphan; and ModuleX's stored-key test passes with it. Returns that credential."""
        self.clear_faults()
        creds = self.org.xai()
        keys = self.team_keys()
        assert len(creds) == 1, creds
        [cred] = creds
        assert cred["is_default"] is True
        meta = cred["credentials_metadata"]
        assert len(keys) == 1, [k["name"] for k in keys]
        [key] = keys
        assert meta[ownership.XAI_KEY_ID] == key["apiKeyId"]
        assert key["disabled"] is False and key["qpm"] == qpm
        assert names.owned(key["name"], self.owner, self.org.id,
                           names.site_of(self.org.url)) is not None
        with self.org.client() as c:
            r = c.post(f"/credentials/{cred['credential_id']}/test")
        r.raise_for_status()
        assert r.json()["is_valid"] is True, r.json()
        return dict(cred)


def mint_world(new_org: OrgFactory, emulator_url: str, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch, **team: Any) -> MintWorld:
    suffix = uuid.uuid4().hex[:8].upper()
    world = MintWorld(org=new_org(), team=new_team(emulator_url, **team),
                      manifest=tmp_path / "mxsync.yaml", owner=f"t{suffix.lower()}",
                      token_env=f"MODULEX_API_KEY_T{suffix}", key_env=f"XAI_MGMT_T{suffix}")
    world.write()
    for name, value in world.env.items():
        monkeypatch.setenv(name, value)
    return world


def stats(emulator_url: str) -> dict[str, Any]:
    return dict(httpx.get(f"{emulator_url}/_emulator/stats").json())


def run(coro: Any) -> Any:
    return asyncio.run(coro)
