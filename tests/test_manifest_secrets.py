"""validate never repeats a secret, wherever it was pasted: as a value, as a mapping key,
as an anchor or tag, in a comment, or where a variable's name belongs (issue 12.1)."""

from __future__ import annotations

import json
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from mxsync.cli import cli

ROOT = Path(__file__).resolve().parents[1]
CANARIES = [
    "xai-CANARYcanaryCANARYcanary00000",  # an xAI key
    "mx_live_CANARYtoken000000",  # a ModuleX token
    "Zq8Yx3CANARYLm0Pa9Rt7Wv2Ks5Bn1Cd4", "Fg6Hj2CANARYnq4Rs8Tv0Wx3Yz5Ab7Cd9",  # of no known shape
    "9f86d081884c7d659a2fCANARY0c55ad015",  # hex
]

PLACES = {
    "top-level key": "version: 1\nC: 1\n",
    "org key": "version: 1\norgs:\n  - id: a\n    C: x\n",
    "duplicate org key": "version: 1\norgs:\n  - id: a\n    C: x\n    C: y\n",
    "label key": "version: 1\norgs:\n  - id: a\n    xai: {credentials: [{name: p, api_key_env: K, "
                 "metadata: {C: x}}]}\n",
    "reserved label key": "version: 1\norgs:\n  - id: a\n    xai: {credentials: [{name: p, api_key_env: K, "
                          "metadata: {mxsync_C: x}}]}\n",
    "mint key": "version: 1\nxai_management: {team_id: t}\norgs:\n  - id: a\n    xai: {credentials: "
                "[{name: p, mint: {acls: [\"api-key:model:*\"], C: 1}}]}\n",
    "twice a name": "version: 1\norgs:\n  - id: a\n    xai: {credentials: [{name: C, api_key_env: K1}, "
                    "{name: C, api_key_env: K2}]}\n",
    "default": "version: 1\norgs:\n  - id: a\n    xai: {default: C, "
               "credentials: [{name: Cx, api_key_env: K}]}\n",
    "assistant": "version: 1\norgs:\n  - id: a\n    xai: {assistant: {model: m, credential: C}, "
                 "credentials: [{name: p, api_key_env: K}]}\n",
    "org id twice": "version: 1\norgs:\n  - id: C\n  - id: C\n",
    "model": "version: 1\norgs:\n  - id: a\n    xai: {models: [C, C]}\n",
    "acl": "version: 1\nxai_management: {team_id: t}\norgs:\n  - id: a\n    xai: {credentials: "
           "[{name: p, mint: {acls: [C]}}]}\n",
    "team": "version: 1\nxai_management: {team_id: C}\n",
    "token_env": "version: 1\napi: {token_env: C}\norgs:\n  - id: a\n",
    "org token_env": "version: 1\norgs:\n  - id: a\n    token_env: C\n",
    "api_key_env": "version: 1\norgs:\n  - id: a\n    xai: {credentials: [{name: p, api_key_env: C}]}\n",
    "api_key_file": "version: 1\norgs:\n  - id: a\n    xai: {credentials: [{name: p, api_key_file: C}]}\n",
    "key_env": "version: 1\nxai_management: {team_id: t, key_env: C}\norgs:\n  - id: a\n    xai: "
               "{credentials: [{name: p, mint: {acls: [\"api-key:model:*\"]}}]}\n",
    "url": "version: 1\napi: {url: \"https://C@example.com\"}\n",
    "owner": "version: 1\nowner: C\n",
    "version": "version: C\n",
    "anchor and alias": "version: 1\norgs: &C []\nowner: *C\n",
    "undefined alias": "version: 1\norgs: *C\n",
    "tag": "version: 1\norgs: !C []\n",
    "comment": "version: 1\n# C\norgs: []\n",
    "syntax error after": "version: 1\norgs: [C\n",
    "syntax error in key": "version: 1\nC: [\n",
    "the whole document": "C\n",
    "a list of it": "- C\n",
    "quoted key": "version: 1\n\"C\": 1\n",
    "long value": "version: 1\norgs:\n  - id: a\n    name: \"" + "C" * 3000 + "\"\n",
}


def fragments(canary: str) -> list[str]:
    """Every 10-character piece: a secret must not survive even in part."""
    return [canary[i:i + 10] for i in range(len(canary) - 9)]


def outputs(text: str, env: dict[str, str]) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mxsync.yaml"
        path.write_text(text)
        runs = [["validate", "-f", str(path)], ["validate", "-f", str(path), "--json"],
                ["validate", "-f", str(path), "--check-env"], ["validate", str(path)]]
        seen = []
        for args in runs:
            result = CliRunner().invoke(cli, args, env=env)
            assert "Traceback" not in result.output and "internal error" not in result.output, result.output
            seen.append(result.output)
    return "\n".join(seen)


@pytest.mark.parametrize("canary", CANARIES)
@pytest.mark.parametrize("place", list(PLACES))
def test_no_canary_in_any_output(place: str, canary: str) -> None:
    text = PLACES[place].replace("C", canary) if place != "long value" else PLACES[place]
    env = {"MODULEX_API_KEY": canary, "K": canary, "XAI_MANAGEMENT_KEY": canary}
    seen = outputs(text, env)
    leaked = [piece for piece in fragments(canary) if piece in seen]
    assert not leaked, seen


def test_secret_as_key_is_located_and_named_as_such() -> None:
    canary = CANARIES[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.yaml"
        path.write_text(textwrap.dedent(f"""
            version: 1
            orgs:
              - id: a
                {canary}: x
        """).lstrip())
        result = CliRunner().invoke(cli, ["validate", "-f", str(path), "--json"])
    found = json.loads(result.output)
    assert {(p["line"], p["column"], p["path"]) for p in found} == {(4, 5, "orgs[0].<key>")}
    assert any("looks like an xAI key" in p["message"] for p in found)


EXAMPLE = yaml.safe_load((ROOT / "examples" / "minted.yaml").read_text())


def plant(doc: Any, path: list[int], canary: str, as_key: bool) -> Any:
    """The example with the canary put at a (clamped) path, as a key or as a value."""
    if isinstance(doc, dict) and doc and path:
        key = sorted(doc)[path[0] % len(doc)]
        return {**doc, key: plant(doc[key], path[1:], canary, as_key)}
    if isinstance(doc, list) and doc and path:
        index = path[0] % len(doc)
        return [*doc[:index], plant(doc[index], path[1:], canary, as_key), *doc[index + 1:]]
    if as_key and isinstance(doc, dict):
        return {**doc, canary: "x"}
    return canary


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 10), max_size=7), st.sampled_from(CANARIES), st.booleans())
def test_no_canary_wherever_it_is_planted(path: list[int], canary: str, as_key: bool) -> None:
    text = yaml.safe_dump(plant(EXAMPLE, path, canary, as_key), sort_keys=False)
    seen = outputs(text, {"XAI_MANAGEMENT_KEY": canary})
    assert not [piece for piece in fragments(canary) if piece in seen], seen
