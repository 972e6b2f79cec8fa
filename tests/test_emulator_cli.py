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
