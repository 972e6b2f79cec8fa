"""`mxsync validate` warns about a `mint:` whose ACLs would fail ModuleX's key test (a chat
completion on grok-4-fast), at file:line:col like its other warnings; and the warning is
true: such a key, minted, fails that test on the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import OrgFactory
from tests.test_validate import run, write
from tests.xai_helpers import new_team

MANIFEST = """
    version: 1
    xai_management: {{team_id: team-x}}
    orgs:
      - id: a
        xai:
          credentials:
            - name: minted
              mint: {{acls: {acls}}}
"""


def validate(tmp_path: Path, acls: str) -> tuple[str, int, str]:
    path = write(tmp_path, MANIFEST.format(acls=acls))
    code, out = run("validate", "-f", path)
    return path, code, out


@pytest.mark.parametrize("acls", [
    '["api-key:model:grok-4-fast", "api-key:endpoint:chat"]',
    '["api-key:model:*", "api-key:endpoint:*"]',
    '["api-key:model:*", "api-key:endpoint:chat", "api-key:endpoint:responses"]',
    '["api-key:model:grok-4-fast", "api-key:endpoint:image", "api-key:endpoint:chat"]',
])
def test_acls_the_key_test_can_use_pass_quietly(tmp_path: Path, acls: str) -> None:
    _, code, out = validate(tmp_path, acls)
    assert code == 0 and "warning" not in out, out


def test_no_chat_endpoint_is_a_located_warning(tmp_path: Path) -> None:
    path, code, out = validate(tmp_path, '["api-key:model:*"]')
    assert code == 0, out  # a warning: the manifest is still valid
    where = f"{path}:8:24: orgs[0].xai.credentials[0].mint.acls: warning: "
    assert where + "these ACLs do not grant api-key:endpoint:chat (or api-key:endpoint:*): " \
                   "ModuleX's key test is a chat completion, so it will fail" in out
    assert out.strip().endswith("valid (1 warning).")


def test_no_test_model_is_a_warning_too(tmp_path: Path) -> None:
    path, code, out = validate(tmp_path, '["api-key:model:grok-4-0709", "api-key:endpoint:image"]')
    assert code == 0, out
    assert out.count(f"{path}:8:24: orgs[0].xai.credentials[0].mint.acls: warning: ") == 2
    assert "do not grant api-key:model:grok-4-fast" in out
    assert out.strip().endswith("valid (2 warnings).")


def test_json_names_the_warning(tmp_path: Path) -> None:
    path = write(tmp_path, MANIFEST.format(acls='["api-key:model:*", "api-key:endpoint:image"]'))
    code, out = run("validate", "-f", path, "--json")
    found = json.loads(out)
    assert code == 0
    assert [(p["severity"], p["line"], p["column"]) for p in found] == [("warning", 8, 24)]


@pytest.mark.parametrize("acls", [["api-key:model:*"], ["api-key:model:*", "api-key:endpoint:image"]])
def test_what_the_warning_says_is_what_happens(emulator_url: str, new_org: OrgFactory,
                                               acls: list[str]) -> None:
    team = new_team(emulator_url)
    secret = team.mint(acls=acls)["apiKey"]
    with new_org().client() as c:
        result = c.post("/credentials/test-temporary", json={
            "integration_name": "xai", "auth_type": "api_key", "auth_data": {"api_key": secret}})
    assert result.status_code == 200
    assert result.json()["is_valid"] is False and result.json()["status_code"] == 403
    assert "not permitted to use the chat endpoint" in result.json()["message"]
