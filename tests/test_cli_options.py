"""One CLI: --debug/--no-color anywhere, one --format everywhere (with --json), audit's
default manifest, true --api-url help, and quiet ends when the reader goes away."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mxsync.cli import cli
from tests.cli_helpers import mxsync, write_manifest
from tests.conftest import OrgFactory, TestOrg, fake_key


def env_for(org: TestOrg, **keys: str) -> dict[str, str]:
    return {"MODULEX_BASE_URL": org.url, "MODULEX_API_KEY": org.token, **keys}


def _manifest(org: TestOrg, folder: Path, name: str = "m.yaml") -> str:
    return write_manifest(folder / name, [{"id": org.id, "xai": {"credentials": [
        {"name": "p", "api_key_env": "K"}]}}])


@pytest.mark.parametrize("where", ["before", "after", "env"])
def test_debug_before_or_after_the_command_or_from_the_environment(
        tmp_path: Path, where: str) -> None:
    """--debug shows the traceback of an expected error; it works in all three places."""
    missing = str(tmp_path / "missing.json")
    args = {"before": ["--debug", "show", missing], "after": ["show", missing, "--debug"],
            "env": ["show", missing]}[where]
    run = mxsync(*args, env={"MXSYNC_DEBUG": "1"} if where == "env" else {})
    assert run.code == 1
    assert "Traceback" in run.err and "does not exist" in run.err
    plain = mxsync("show", missing, env={})
    assert "Traceback" not in plain.err and plain.err.startswith("Error: plan file")


def test_debug_logs_the_exchange_redacted(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    key = f"xai-CANARY{fake_key()}"
    run = mxsync("plan", "-f", _manifest(org, tmp_path), "--debug", env=env_for(org, K=key))
    assert run.code == 0, run.both
    assert "ModuleX API at" in run.err  # the client's debug log is on
    assert key not in run.both and org.token not in run.both


def test_debug_installs_log_redaction() -> None:
    import logging

    from mxsync.secrets.redaction import RedactingFormatter

    root = logging.getLogger()
    before = list(root.handlers)
    handler = logging.StreamHandler()
    root.addHandler(handler)
    try:
        CliRunner().invoke(cli, ["schema", "--debug"], catch_exceptions=False)
        assert isinstance(handler.formatter, RedactingFormatter)
    finally:
        root.removeHandler(handler)
        assert root.handlers == before


def test_no_color_after_the_command(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", "-f", str(tmp_path / "none.yaml"), "--no-color"])
    assert "no such option" not in result.output
    assert result.exit_code == 1


@pytest.mark.parametrize("command", ["plan", "show", "apply", "audit", "catalog", "validate"])
def test_every_result_printing_command_takes_format_json_and_its_json_alias(
        new_org: OrgFactory, tmp_path: Path, command: str) -> None:
    org = new_org()
    manifest = _manifest(org, tmp_path)
    env = env_for(org, K=fake_key())
    planfile = tmp_path / "plan.json"
    assert mxsync("plan", "-f", manifest, "--out", str(planfile), env=env).code == 0
    args = {"plan": ["plan", "-f", manifest], "show": ["show", str(planfile)],
            "apply": ["apply", "-f", manifest, "--auto-approve"],
            "audit": ["audit", "-f", manifest, "--fail-on", "never"],
            "catalog": ["catalog", "--org", org.id],
            "validate": ["validate", "-f", manifest]}[command]
    outputs = []
    for flags in (["--format", "json"], ["--json"]):
        run = mxsync(*args, *flags, env=env)
        assert run.code == 0, run.both
        outputs.append(json.loads(run.out))
    assert type(outputs[0]) is type(outputs[1])


def test_show_renders_the_saved_plan_as_markdown(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    manifest = _manifest(org, tmp_path)
    env = env_for(org, K=fake_key())
    planfile = tmp_path / "plan.json"
    planned = mxsync("plan", "-f", manifest, "--out", str(planfile), "--format", "markdown",
                     env=env)
    shown = mxsync("show", "--format", "markdown", str(planfile), env={})  # offline
    assert shown.code == 0, shown.both
    assert shown.out.startswith("## mxsync plan")
    assert f"`{org.id}/xai/p`" in shown.out
    assert shown.out == planned.out


def test_validate_paths_honour_json(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("version: 1\nowner: o\norgs:\n  - id: org-a\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nowner: o\norgs:\n  - id: org-a\n    colour: red\n")
    run = mxsync("validate", str(good), str(bad), "--json", env={})
    assert run.code == 1
    problems = json.loads(run.out)
    assert [p["file"] for p in problems] == [str(bad)]
    ok = mxsync("validate", str(good), "--format", "json", env={})
    assert ok.code == 0 and json.loads(ok.out) == []
    text = mxsync("validate", str(good), env={})
    assert text.out.strip() == "1 manifest valid."


def test_audit_falls_back_to_mxsync_yaml_like_plan(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    _manifest(org, tmp_path, "mxsync.yaml")
    env = env_for(org, K=fake_key())
    run = mxsync("audit", "--format", "json", env=env, cwd=tmp_path)
    assert run.code == 1, run.both  # drift: the manifest's entry is not there yet
    codes = {f["code"] for f in json.loads(run.out)["findings"]}
    assert "drift" in codes
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = mxsync("audit", env=env, cwd=empty)
    assert nothing.code == 1
    assert "no mxsync.yaml here" in nothing.err and "--org" in nothing.err


def test_audit_text_format_and_its_old_name_table(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    env = env_for(org)
    text = mxsync("audit", "--org", org.id, "--format", "text", env=env)
    table = mxsync("audit", "--org", org.id, "--format", "table", env=env)
    assert text.code == table.code == 0, text.both
    assert text.out == table.out and "Audit: 1 org, 0 errors, 0 warnings." in text.out


@pytest.mark.parametrize(("command", "mentions_manifest"), [
    ("plan", True), ("apply", True), ("audit", True), ("import", False), ("catalog", False)])
def test_api_url_help_says_where_the_url_comes_from(command: str, mentions_manifest: bool) -> None:
    result = CliRunner().invoke(cli, [command, "--help"], terminal_width=200)
    line = " ".join(result.output.split())
    assert "MODULEX_BASE_URL" in line and "https://api.modulex.dev" in line
    assert ("api.url" in line) is mentions_manifest


def test_a_reader_that_goes_away_ends_the_output_quietly(tmp_path: Path) -> None:
    """`mxsync validate ... | head`: no "internal error", no traceback, no complaint."""
    paths = []
    for i in range(50):
        path = tmp_path / f"bad{i}.yaml"
        path.write_text("version: 1\nowner: o\norgs:\n  - id: org-a\n    colour: red\n")
        paths.append(str(path))
    proc = subprocess.Popen([sys.executable, "-m", "mxsync", "validate", *paths],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=60)
    assert err == ""
    assert code == 141


def test_a_mistyped_org_gets_a_did_you_mean(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    typo = org.id[:-1] + ("x" if org.id[-1] != "x" else "y")
    env = env_for(org, K=fake_key())
    audit = mxsync("audit", "--org", typo, env=env)
    catalog = mxsync("catalog", "--org", typo, env=env)
    path = write_manifest(tmp_path / "m.yaml", [{"id": typo}])
    plan = mxsync("plan", "-f", path, env=env)
    for run in (audit, catalog, plan):
        assert run.code == 1
        assert f"Did you mean {org.id}?" in run.both, run.both
