"""`mxsync emulator` as a user meets it: the default world, --print-fixture, clear errors
for a busy port and impossible fault rates, and clearing every fault at once."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx
import yaml

from mxsync.emulator.server import DEMO_TOKEN
from tests.conftest import OrgFactory, start_emulator, stop_emulator


def run_emulator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mxsync", "emulator", *args],
                          capture_output=True, text=True, timeout=60)


def test_without_a_fixture_it_serves_the_documented_demo_world() -> None:
    emu = start_emulator(rate_limit=None)  # the defaults, as a user starts it
    try:
        r = httpx.get(f"{emu.url}/credentials", params={"integration_name": "xai"},
                      headers={"Authorization": f"Bearer {DEMO_TOKEN}",
                               "X-Organization-ID": "org-acme"})
    finally:
        err = stop_emulator(emu)
    assert [(c["display_name"], c["is_default"]) for c in r.json()["credentials"]] == [
        ("legacy", True)]
    assert "built-in demo world" in err and DEMO_TOKEN in err and "--print-fixture" in err


def test_print_fixture_prints_a_fixture_that_loads(tmp_path: Path) -> None:
    printed = run_emulator("--print-fixture")
    assert printed.returncode == 0 and printed.stderr == ""
    doc = yaml.safe_load(printed.stdout)
    assert doc["users"][0]["token"] == DEMO_TOKEN
    assert {o["id"] for o in doc["orgs"]} == {"org-acme", "org-beta", "org-old"}
    fixture = tmp_path / "mine.yaml"
    fixture.write_text(printed.stdout)
    emu = start_emulator("--fixture", str(fixture), rate_limit=None)
    try:
        me = httpx.get(f"{emu.url}/auth/me", headers={"Authorization": f"Bearer {DEMO_TOKEN}"})
    finally:
        err = stop_emulator(emu)
    assert me.json()["id"] == doc["users"][0]["id"]
    assert "built-in demo world" not in err  # a given fixture is not announced as the default


def test_a_busy_port_is_one_clear_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = run_emulator("--port", str(port))
    assert r.returncode == 1 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert f"port {port}" in lines[0] and "already in use" in lines[0] and "--port" in lines[0]


def test_fault_rates_over_one_are_a_usage_error_not_a_traceback() -> None:
    for args, part in ((("--fault", "503:0.7", "--fault", "reset:0.6"), "add up to 1.3"),
                       (("--fault", "503:1.5"), "between 0 and 1"),
                       (("--fault", "503:lots"), "not a number")):
        r = run_emulator("--port", "0", *args)
        assert r.returncode == 1, args  # a usage error, never 2
        assert part in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_fault_rates_over_one_are_refused_by_the_api(emulator_url: str) -> None:
    r = httpx.post(f"{emulator_url}/_emulator/faults",
                   json={"faults": {"503": 0.7, "reset": 0.6}})
    assert r.status_code == 422 and "add up to 1.3" in r.json()["detail"]


def test_clearing_all_faults_clears_per_org_faults_too(new_org: OrgFactory) -> None:
    org = new_org()
    org.faults({"503": 1.0})
    with org.client() as c:
        assert c.get("/credentials").status_code == 503
        httpx.post(f"{org.url}/_emulator/faults", json={"faults": {}}).raise_for_status()
        assert c.get("/credentials").status_code == 200


def test_a_new_state_file_still_announces_the_demo_world_and_its_token(tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    emu = start_emulator("--state", str(state), rate_limit=0)
    err = stop_emulator(emu)
    assert "built-in demo world" in err and DEMO_TOKEN in err and str(state) in err
    emu = start_emulator("--state", str(state), rate_limit=0)  # resumed: still the demo user
    try:
        me = httpx.get(f"{emu.url}/auth/me", headers={"Authorization": f"Bearer {DEMO_TOKEN}"})
    finally:
        err = stop_emulator(emu)
    assert me.status_code == 200
    assert f"Resuming the world saved in {state}" in err and DEMO_TOKEN in err


def test_a_fixture_with_an_existing_state_file_is_refused_not_ignored(tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    stop_emulator(start_emulator("--state", str(state), rate_limit=0))
    saved = state.read_text()
    fixture = tmp_path / "mine.yaml"
    fixture.write_text(run_emulator("--print-fixture").stdout)
    r = run_emulator("--port", "0", "--state", str(state), "--fixture", str(fixture))
    assert r.returncode == 1 and r.stdout == "" and "Traceback" not in r.stderr
    assert "would not be used" in r.stderr and f"delete {state}" in r.stderr
    assert "drop --fixture" in r.stderr
    assert state.read_text() == saved  # the saved world is left as it was


def test_a_second_emulator_on_the_same_state_file_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    first = start_emulator("--state", str(state), rate_limit=0)
    try:
        r = run_emulator("--port", "0", "--state", str(state))
        assert r.returncode == 1 and r.stdout == "" and "Traceback" not in r.stderr
        assert "another emulator" in r.stderr and str(state) in r.stderr
        assert httpx.get(f"{first.url}/auth/me",
                         headers={"Authorization": f"Bearer {DEMO_TOKEN}"}).status_code == 200
    finally:
        stop_emulator(first)
    again = start_emulator("--state", str(state), rate_limit=0)  # the lock went with the first
    stop_emulator(again)
