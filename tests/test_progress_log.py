"""Progress without a terminal (CI logs): plan, apply, audit and import print a line to
stderr every interval while they run (10 s; MXSYNC_PROGRESS_INTERVAL_S shortens it here),
and nothing when they end within it.

The emulator holds the org's credential list for a while (a `timeout` fault whose answer
comes after `hold_s`), so the run outlasts a short interval without anything timed here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import Run, mxsync, write_manifest
from tests.conftest import OrgFactory, TestOrg, fake_key

HOLD_S = 1.5  # the credential list's answer is this late; the interval below is far shorter


def run(org: TestOrg, command: str, tmp_path: Path, **env: str) -> Run:
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {"credentials": []}}])
    args = {"plan": ["plan", "-f", path],
            "audit": ["audit", "--org", org.id, "--no-usage"],
            "import": ["import", "--org", org.id]}[command]
    return mxsync(*args, env={"MODULEX_BASE_URL": org.url, "MODULEX_API_KEY": org.token, **env})


@pytest.fixture
def slow_org(new_org: OrgFactory) -> TestOrg:
    org = new_org()
    org.faults({"timeout": 1.0}, hold_s=HOLD_S, routes=["GET /credentials"])
    return org


@pytest.mark.parametrize("command", ["plan", "audit", "import"])
def test_a_run_longer_than_the_interval_logs_progress_lines(
        slow_org: TestOrg, tmp_path: Path, command: str) -> None:
    result = run(slow_org, command, tmp_path, MXSYNC_PROGRESS_INTERVAL_S="0.2")
    assert result.code in (0, 1), result.both  # audit may find something; it must not crash
    lines = [line for line in result.err.splitlines() if line.startswith("mxsync: ")]
    assert len(lines) >= 2, result.err
    # Each a whole line of its own (no terminal codes), saying what is being waited for.
    assert all(line.startswith("mxsync: reading the live state") for line in lines), lines
    assert "mxsync: reading the live state: 0/1 orgs" in lines
    assert "\r" not in result.err and "\x1b[" not in result.err
    assert "mxsync: " not in result.out


def test_a_run_shorter_than_the_interval_logs_nothing(slow_org: TestOrg, tmp_path: Path) -> None:
    result = run(slow_org, "plan", tmp_path)  # the default interval, 10 s, is never reached
    assert result.code == 0, result.both
    assert "mxsync: " not in result.err


def test_an_audit_held_after_reading_logs_its_checks(new_org: OrgFactory) -> None:
    """Reading done, the usage reads still under way: the line goes on, saying what is left
    (a nightly audit spent most of its minutes there, with nothing on stderr)."""
    org = new_org(credentials=[{"integration_name": "xai", "display_name": "k",
                                "api_key": fake_key()}])
    org.faults({"timeout": 1.0}, hold_s=HOLD_S, routes=["GET /credentials/{credential_id}/usage"])
    try:
        result = mxsync("audit", "--org", org.id, env={
            "MODULEX_BASE_URL": org.url, "MODULEX_API_KEY": org.token,
            "MXSYNC_PROGRESS_INTERVAL_S": "0.2"})
    finally:
        org.faults({})
    assert result.code in (0, 1), result.both
    lines = [line for line in result.err.splitlines() if line.startswith("mxsync: ")]
    assert "mxsync: checking: 2 calls done, 1 left" in lines, result.err  # org list, credentials; usage left
