"""Option values that cannot mean anything are usage errors, never an internal error, and a
password in the API URL is refused before anything is sent or shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import mxsync, write_manifest


@pytest.mark.parametrize("args", [
    ["plan", "--timeout", "nan"], ["plan", "--timeout", "inf"],
    ["audit", "--org", "o", "--unused-for", "99999999999"],
    ["audit", "--org", "o", "--failing-ratio", "nan"],
    ["emulator", "--port", "70000"], ["emulator", "--latency-ms", "-5"],
])
def test_impossible_option_values_are_usage_errors(args: list[str]) -> None:
    run = mxsync(*args, env={})
    assert run.code == 1, run.both  # never 2: --detailed-exitcode's "changes"
    assert "Invalid value" in run.err and "internal error" not in run.both


def test_an_api_url_with_a_password_is_refused_and_never_shown(tmp_path: Path) -> None:
    path = write_manifest(tmp_path / "m.yaml", [{"id": "org-a"}])
    run = mxsync("plan", "-f", path, "--api-url", "http://user:s3cretpw@127.0.0.1:1/",
                 "--debug", env={"MODULEX_API_KEY": "mx_live_" + "x" * 20})
    assert run.code == 1
    assert "s3cretpw" not in run.both and "user name or password" in run.both
    broken = mxsync("plan", "-f", path, "--api-url", "http://[::1",
                    env={"MODULEX_API_KEY": "mx_live_" + "x" * 20})
    assert broken.code == 1 and "internal error" not in broken.both
