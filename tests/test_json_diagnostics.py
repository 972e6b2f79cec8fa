"""`--format json` runs on a manifest that cannot be loaded: located diagnostics as JSON on
stdout (as Terraform's -json does), each exactly as `validate --format json` prints it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import dedent, mxsync

BAD = dedent("""
    version: 1
    owner: test
    orgs:
      - id: org-a
        xai:
          credentials:
            - name: main
              api_key_env: XAI_KEY_MAIN
              colour: blue
""")


@pytest.mark.parametrize("command", [["plan"], ["apply", "--auto-approve"], ["audit"]])
def test_a_bad_manifest_is_json_diagnostics_on_stdout(tmp_path: Path, command: list[str]) -> None:
    path = tmp_path / "mxsync.yaml"
    path.write_text(BAD)
    env = {"MODULEX_API_KEY": "mx_live_never_used_0123456789", "XAI_KEY_MAIN": "unused"}
    run = mxsync(*command, "-f", str(path), "--format", "json", env=env)
    assert run.code == 1
    doc = json.loads(run.out)
    assert doc["valid"] is False and doc["format_version"] == "1.0"
    assert (doc["error_count"], doc["warning_count"]) == (1, 0)
    [found] = doc["diagnostics"]
    assert (found["file"], found["line"], found["column"], found["severity"]) == (
        str(path), 9, 11, "error")
    assert found["path"] == "orgs[0].xai.credentials[0].colour"
    # One diagnostic format: validate prints the same objects.
    assert json.loads(mxsync("validate", "-f", str(path), "--json", env={}).out) == [found]
    assert "unknown key 'colour'" in run.err  # the person reading the log still sees it
    text = mxsync(*command, "-f", str(path), env=env)
    assert text.code == 1 and text.out == ""  # text runs keep stdout for results only


def test_a_missing_manifest_is_a_json_diagnostic_too(tmp_path: Path) -> None:
    run = mxsync("plan", "--json", cwd=tmp_path, env={})
    assert run.code == 1
    [found] = json.loads(run.out)["diagnostics"]
    assert found["file"] == "mxsync.yaml" and found["message"].startswith("no such file")
