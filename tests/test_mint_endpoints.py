"""An ACL may grant any endpoint the xAI team lists (`responses`, not only `chat` and
`image`); one the team does not list is the entry's error at plan time, before anything is
minted, and the message says which endpoints the team offers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import mxsync
from tests.conftest import OrgFactory
from tests.mint_helpers import MintWorld, mint_world
from tests.xai_helpers import MINT_ACLS


@pytest.fixture
def world(new_org: OrgFactory, emulator_url: str, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> MintWorld:
    return mint_world(new_org, emulator_url, tmp_path, monkeypatch)


def test_a_key_may_be_minted_for_an_endpoint_the_team_lists(world: MintWorld) -> None:
    acls = [*MINT_ACLS, "api-key:endpoint:responses"]
    world.write(acls=acls)
    run = mxsync("apply", "-f", str(world.manifest), "--auto-approve", env=world.env)
    assert run.code == 0, run.out + run.err
    [key] = world.team_keys()
    assert sorted(key["aclStrings"]) == sorted(acls)
    again = mxsync("plan", "-f", str(world.manifest), "--detailed-exitcode", env=world.env)
    assert again.code == 0, again.out + again.err


def test_an_endpoint_the_team_does_not_list_is_a_plan_error_and_nothing_is_minted(
        world: MintWorld) -> None:
    world.write(acls=[*MINT_ACLS, "api-key:endpoint:video"])
    run = mxsync("apply", "-f", str(world.manifest), "--auto-approve", env=world.env)
    assert run.code == 1, run.out + run.err
    text = run.out + run.err
    assert f"xAI team {world.team.id} offers no endpoint video (it offers chat, image, responses)" \
        in text, text
    assert "fix the ACL in mint.acls" in text and "Traceback" not in text
    assert world.team_keys() == []
