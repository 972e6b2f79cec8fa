"""A minted key's rotation moves the Assistant's pin with the default (#13 + #14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mxsync import ownership
from tests.cli_helpers import write_manifest
from tests.conftest import OrgFactory
from tests.mint_helpers import mint_world
from tests.xai_helpers import MINT_ACLS


def test_a_minted_rotation_moves_the_assistant_pin_to_the_new_credential(
        new_org: OrgFactory, emulator_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    world = mint_world(new_org, emulator_url, tmp_path, monkeypatch)
    write_manifest(world.manifest, [{
        "id": world.org.id, "token_env": world.token_env,
        "xai": {"default": "minted", "assistant": {"model": "grok-4-fast", "credential": "minted"},
                "credentials": [{"name": "minted", "mint": {"acls": MINT_ACLS, "qpm": 600}}]},
    }], owner=world.owner, api={"url": world.org.url},
        xai_management={"team_id": world.team.id, "key_env": world.key_env, "url": world.team.url})

    def pin() -> str | None:
        with world.org.client() as c:
            r = c.get("/organizations/settings")
        r.raise_for_status()
        composer = r.json().get("composer_llm")
        return composer["credential_id"] if composer else None

    world.converge()
    first = world.assert_converged()
    assert pin() == first["credential_id"]
    _, report = world.apply(replace=(f"{world.org.id}/xai/minted",))
    assert not report.failed
    second = world.assert_converged()
    assert second["credential_id"] != first["credential_id"]
    assert second["credentials_metadata"][ownership.XAI_KEY_ID] != \
        first["credentials_metadata"][ownership.XAI_KEY_ID]
    assert pin() == second["credential_id"]
