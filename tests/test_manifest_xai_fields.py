"""The manifest fields of org xAI settings (models, assistant) and of minted keys
(xai_management, mint, rotate_after): what validate says, and what plan and apply read."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from mxsync.cli import cli
from mxsync.manifest import load_or_raise
from mxsync.manifest.model import AssistantSetting, MintSpec, XaiManagement, parse_duration

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str, name: str = "mxsync.yaml") -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return str(path)


def validate(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["validate", *args], env=env, catch_exceptions=False)
    return result.exit_code, result.output


def errors_of(tmp_path: Path, text: str) -> list[dict]:
    code, out = validate("-f", write(tmp_path, text), "--json")
    found = [p for p in json.loads(out) if p["severity"] == "error"]
    assert code == (1 if found else 0)
    return found


def test_minted_example_builds_typed_entries() -> None:
    manifest = load_or_raise([str(ROOT / "examples" / "minted.yaml")])
    acme, beta = manifest.orgs
    minted, legacy = acme.credentials
    assert minted.key is None and minted.minted
    assert minted.mint == MintSpec(acls=("api-key:model:grok-4-fast", "api-key:model:grok-code-fast-1",
                                         "api-key:endpoint:chat"), qpm=600)
    assert minted.rotate_after_s == 30 * 86_400
    assert minted.describe_source() == "a key minted at xAI"
    assert legacy.key is not None and legacy.key.env == "XAI_KEY_ACME_LEGACY" and legacy.mint is None
    assert legacy.rotate_after_s == 90 * 86_400
    assert acme.models == ("grok-4-fast", "grok-code-fast-1")
    assert acme.assistant == AssistantSetting(model="grok-4-fast", credential="minted", follows_default=True)
    top = XaiManagement(team_id="team-acme")
    assert manifest.xai_management == top and acme.xai_management == top
    # the org's block overrides field by field and inherits the rest
    assert beta.xai_management == XaiManagement(team_id="team-beta")
    assert beta.credentials[0].rotate_after_s == 720 * 3_600
    assert beta.models is None and beta.assistant is None


def test_unset_settings_stay_unmanaged_and_empty_models_means_all(tmp_path: Path) -> None:
    manifest = load_or_raise([write(tmp_path, """
        version: 1
        orgs:
          - id: a
            xai:
              models: []
              assistant: {model: grok-4-fast, credential: p}
              credentials: [{name: p, api_key_env: K}]
          - id: b
            xai: {credentials: [{name: p, api_key_file: k.key}]}
    """)])
    a, b = manifest.orgs
    assert a.models == () and b.models is None  # [] = the catalog's full list; absent = not managed
    assert a.assistant == AssistantSetting(model="grok-4-fast", credential="p")
    assert b.assistant is None and b.xai_management is None and manifest.xai_management is None
    assert b.credentials[0].key is not None and b.credentials[0].key.file == str(tmp_path / "k.key")
    assert b.credentials[0].rotate_after_s is None


def test_settings_are_part_of_the_digest(tmp_path: Path) -> None:
    """A saved plan is refused as stale when the manifest changed: settings count as a change."""
    text = """
        version: 1
        orgs:
          - id: a
            xai:
              default: p
              assistant: {model: MODEL}
              credentials: [{name: p, api_key_env: K}]
    """
    one = load_or_raise([write(tmp_path, text.replace("MODEL", "grok-4-fast"), "one.yaml")])
    two = load_or_raise([write(tmp_path, text.replace("MODEL", "grok-3"), "two.yaml")])
    assert one.digest != two.digest


def test_split_manifest_shares_xai_management_across_files(tmp_path: Path) -> None:
    write(tmp_path, "version: 1\nxai_management: {team_id: t-1, key_env: MGMT}\n", "d/00-settings.yaml")
    write(tmp_path, """
        version: 1
        orgs:
          - id: a
            xai: {credentials: [{name: m, mint: {acls: ["api-key:model:*"]}}]}
    """, "d/a.yaml")
    manifest = load_or_raise([str(tmp_path / "d")])
    assert manifest.orgs[0].xai_management == XaiManagement(team_id="t-1", key_env="MGMT")


@pytest.mark.parametrize(("text", "seconds"), [("1h", 3_600), ("30d", 2_592_000), ("720h", 2_592_000)])
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["0d", "30", "30m", "d", "30d\n", " 30d", "1.5d", "-1d"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


MINT_ORG = """
    version: 1
    xai_management: {team_id: team-a}
    orgs:
      - id: a
        xai:
          credentials:
            - name: m
              CRED
"""

def minted(*lines: str) -> str:
    """MINT_ORG with these lines as the credential's fields (after `name: m`)."""
    return MINT_ORG.replace("CRED", ("\n" + " " * 14).join(lines))


# Each case: the text, then (line, column, path, message part) of the one error expected.
CASES = {
    "mint and env": (minted("api_key_env: K", "mint: {acls: [\"api-key:model:*\"]}"),
                     (9, 17, "orgs[0].xai.credentials[0].mint",
                      "set exactly one of api_key_env, api_key_file or mint")),
    "no source at all": (minted("test: false"),
                         (7, 11, "orgs[0].xai.credentials[0]", "or mint (mxsync mints the key at xAI)")),
    "mint without management": ("""
        version: 1
        orgs:
          - id: a
            xai: {credentials: [{name: m, mint: {acls: ["api-key:model:*"]}}]}
    """, (4, 35, "orgs[0].xai.credentials[0].mint", "add `xai_management: {team_id: ...}`")),
    "empty acls": (minted("mint: {acls: []}"),
                   (8, 24, "orgs[0].xai.credentials[0].mint.acls", "a key with no ACL can call nothing")),
    "acl near miss": (minted("mint: {acls: [api-key:endpot:chat]}"),
                      (8, 25, "orgs[0].xai.credentials[0].mint.acls[0]",
                       "did you mean 'api-key:endpoint:chat'?")),
    "acl unknown form": (minted("mint: {acls: [\"model:grok-4\"]}"),
                         (8, 25, "orgs[0].xai.credentials[0].mint.acls[0]",
                          "use one of api-key:model:<model id>, api-key:model:*")),
    "acl twice": (minted("mint: {acls: [\"api-key:model:*\", \"api-key:model:*\"]}"),
                  (8, 24, "orgs[0].xai.credentials[0].mint.acls", "the same value twice")),
    "qpm zero": (minted("mint: {acls: [\"api-key:model:*\"], qpm: 0}"),
                 (8, 50, "orgs[0].xai.credentials[0].mint.qpm", "whole number from 1")),
    "unknown mint key": (minted("mint: {acls: [\"api-key:model:*\"], qpmm: 5}"),
                         (8, 45, "orgs[0].xai.credentials[0].mint.qpmm", "did you mean 'qpm'?")),
    "rotate_after without unit": (minted("api_key_env: K", "rotate_after: 30"),
                                  (9, 25, "orgs[0].xai.credentials[0].rotate_after", "30d (days) or 12h")),
    "rotate_after in minutes": (minted("api_key_env: K", "rotate_after: 30m"),
                                (9, 25, "orgs[0].xai.credentials[0].rotate_after", "not a duration")),
    "top management without team": ("""
        version: 1
        xai_management: {key_env: MGMT}
        orgs: []
    """, (2, 17, "xai_management", "missing required key 'team_id'")),
    "org management without team anywhere": ("""
        version: 1
        orgs:
          - id: a
            xai_management: {key_env: MGMT}
    """, (4, 21, "orgs[0].xai_management", "no team_id")),
    "management over plain http": ("""
        version: 1
        xai_management: {team_id: t, url: "http://mgmt.example.com"}
    """, (2, 35, "xai_management.url", "management key in clear")),
    "assistant names no entry": ("""
        version: 1
        orgs:
          - id: a
            xai:
              assistant: {model: grok-4-fast, credential: primry}
              credentials: [{name: primary, api_key_env: K}]
    """, (5, 51, "orgs[0].xai.assistant.credential", "did you mean 'primary'?")),
    "assistant with no credential and no default": ("""
        version: 1
        orgs:
          - id: a
            xai:
              assistant: {model: grok-4-fast}
              credentials: [{name: primary, api_key_env: K}]
    """, (5, 18, "orgs[0].xai.assistant",
        "set assistant.credential to one of this org's entries, or set xai.default")),
    "assistant without model": ("""
        version: 1
        orgs:
          - id: a
            xai:
              default: p
              assistant: {credential: p}
              credentials: [{name: p, api_key_env: K}]
    """, (6, 18, "orgs[0].xai.assistant", "missing required key 'model'")),
    "model id with a space": ("""
        version: 1
        orgs:
          - id: a
            xai: {models: [grok-4-fast, "grok 3"]}
    """, (4, 33, "orgs[0].xai.models[1]", "not a model id")),
    "models listed twice": ("""
        version: 1
        orgs:
          - id: a
            xai: {models: [grok-4-fast, grok-4-fast]}
    """, (4, 19, "orgs[0].xai.models", "the same value twice")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_new_rule_points_at_the_problem(tmp_path: Path, case: str) -> None:
    text, (line, column, path, message) = CASES[case]
    found = errors_of(tmp_path, text)
    assert len(found) == 1, found
    got = found[0]
    assert (got["line"], got["column"], got["path"]) == (line, column, path), got
    assert message in got["message"], got["message"]


def test_an_endpoint_name_one_letter_off_is_a_located_warning(tmp_path: Path) -> None:
    """Any endpoint name is a valid ACL (a team may list more than xAI's usual ones), so a
    typo of a known one is a warning offline; plan refuses it against the team's list."""
    code, out = validate("-f", write(tmp_path, minted(
        "mint: {acls: [api-key:model:*, api-key:endpoint:chat, api-key:endpoint:imgae]}")),
        "--json")
    found = json.loads(out)
    assert code == 0, found
    assert [(p["severity"], p["path"]) for p in found] == [
        ("warning", "orgs[0].xai.credentials[0].mint.acls[2]")], found
    assert "did you mean 'api-key:endpoint:image'?" in found[0]["message"]


def test_management_settings_must_agree_across_files(tmp_path: Path) -> None:
    one = write(tmp_path, "version: 1\nxai_management: {team_id: t-1}\n", "one.yaml")
    two = write(tmp_path, "version: 1\nxai_management: {team_id: t-2}\n", "two.yaml")
    code, out = validate("-f", one, "-f", two)
    assert code == 1 and "'xai_management' differs from the one in" in out


def test_check_env_names_a_missing_management_key_once(tmp_path: Path) -> None:
    path = write(tmp_path, """
        version: 1
        xai_management: {team_id: t, key_env: MGMT_KEY}
        orgs:
          - id: a
            xai: {credentials: [{name: m, mint: {acls: ["api-key:model:*"]}}]}
          - id: b
            xai: {credentials: [{name: m, mint: {acls: ["api-key:model:*"]}}]}
    """)
    env = {"MODULEX_API_KEY": "mx_live_fake0000000000"}
    code, out = validate("-f", path, "--check-env", env=env)
    assert code == 1
    assert out.count("management key variable MGMT_KEY is not set") == 1, out
    assert f"{path}:5:35: orgs[0].xai.credentials[0].mint:" in out
    code, out = validate("-f", path, "--check-env", env={**env, "MGMT_KEY": "xmk-CANARY-management"})
    assert code == 0, out
    assert "CANARY" not in out
