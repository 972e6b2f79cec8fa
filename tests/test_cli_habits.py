"""What users bring from Terraform and from other tools, and what CI relies on:

- a usage error exits 1, never 2 (`plan --detailed-exitcode` uses 2 for "there are
  changes", and a CI step that accepts "0 2" must not pass on a typo);
- `-out`, `-auto-approve`, `-target`, `-replace` (one dash, as Terraform spells them) get a
  pointer to the two-dash spelling instead of "No such option: -o";
- `mxsync version` is `mxsync --version`;
- a missing manifest, or a token pasted with its `Bearer ` prefix, is said plainly.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mxsync import __version__
from tests.cli_helpers import mxsync


@pytest.mark.parametrize("args", [
    ["plan", "--detailed-exitcode", "--bogus"],
    ["plan", "--detailed-exitcode", "--format", "yaml"],
    ["plan", "--detailed-exitcode", "--parallelism", "0"],
    ["plna", "--detailed-exitcode"],
    ["--bogus", "plan"],
    ["audit", "--org", "o", "--as-of", "yesterday"],
])
def test_usage_errors_exit_1_not_the_changes_status(args: list[str]) -> None:
    run = mxsync(*args, env={})
    assert run.code == 1, run.both
    assert "Error:" in run.err and "Traceback" not in run.both


@pytest.mark.parametrize(("command", "habit"), [
    ("plan", "-out=plan.json"), ("plan", "-target"), ("apply", "-auto-approve"),
    ("apply", "-replace"), ("plan", "-detailed-exitcode"),
])
def test_terraform_spellings_point_at_the_two_dash_option(command: str, habit: str) -> None:
    name = habit.split("=")[0].lstrip("-")
    run = mxsync(command, habit, "x", env={})
    assert run.code == 1, run.both
    assert f"Error: No such option: -{name} (mxsync spells it --{name}, with two dashes)" in run.err


def test_a_single_dash_value_is_left_alone(tmp_path: Path) -> None:
    """Only an option's own name is read as a habit; `-f` with a file named like an option
    still means that file."""
    run = mxsync("validate", "-f", str(tmp_path / "-target"), env={})
    assert run.code == 1 and "two dashes" not in run.err
    assert "no such file or folder" in run.both


def test_version_command_prints_what_the_version_option_prints() -> None:
    by_command, by_option = mxsync("version", env={}), mxsync("--version", env={})
    assert by_command.code == by_option.code == 0
    assert by_command.out == by_option.out == f"mxsync, version {__version__}\n"


def test_a_missing_manifest_is_named_without_a_position(tmp_path: Path) -> None:
    run = mxsync("validate", env={}, cwd=tmp_path)
    assert run.code == 1
    assert run.out.startswith("no such file or folder: mxsync.yaml")
    assert ":1:1:" not in run.both and "(top)" not in run.both


@pytest.mark.parametrize("token", ["Bearer mx_live_0123456789abcdef", "bearer\tmx_live_0123456789abcdef"])
def test_a_token_with_its_bearer_prefix_is_refused_before_any_call(token: str) -> None:
    run = mxsync("audit", "--org", "org-a", "--api-url", "http://127.0.0.1:9",
                 env={"MODULEX_API_KEY": token})
    assert run.code == 1
    assert "drop the Bearer prefix" in run.err
    assert "0123456789abcdef" not in run.both and "cannot reach" not in run.both
