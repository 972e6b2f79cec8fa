"""Faults, concurrency and the `mxsync emulator` options, over real HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import OrgFactory, fake_key, start_emulator, stop_emulator

# A dropped connection reaches the client as a clean close or as a reset, by timing.
NO_ANSWER = (httpx.RemoteProtocolError, httpx.ReadError)


def create_body(key: str | None = None) -> dict:
    return {"integration_name": "xai", "auth_data": {"api_key": key or fake_key()}}


@pytest.mark.parametrize("status", [500, 502, 503])
def test_status_faults_answer_before_anything_changes(new_org: OrgFactory, status: int) -> None:
    org = new_org()
    org.faults({str(status): 1.0})
    with org.client() as c:
        r = c.post("/credentials", json=create_body())
    assert r.status_code == status
    assert isinstance(r.json()["detail"], str)
    org.faults({})
    assert org.xai() == []


def test_429_carries_retry_after(new_org: OrgFactory) -> None:
    org = new_org()
    org.faults({"429": 1.0})
    with org.client() as c:
        r = c.get("/credentials")
    assert r.status_code == 429
    assert r.headers["retry-after"] == "1"
    assert "detail" in r.json()


def test_reset_closes_the_connection_without_an_answer(new_org: OrgFactory) -> None:
    org = new_org()
    org.faults({"reset": 1.0})
    with org.client() as c, pytest.raises(NO_ANSWER):
        c.post("/credentials", json=create_body())
    org.faults({})
    assert org.xai() == []


def test_lost_response_commits_then_drops(new_org: OrgFactory) -> None:
    org = new_org()
    org.faults({"lost-response": 1.0})
    with org.client() as c, pytest.raises(NO_ANSWER):
        c.post("/credentials", json=create_body())
    org.faults({})
    assert len(org.xai()) == 1  # the change happened; only the answer was lost


def test_lost_response_does_not_touch_reads(new_org: OrgFactory) -> None:
    org = new_org()
    org.faults({"lost-response": 1.0})
    with org.client() as c:
        assert c.get("/credentials").status_code == 200


def test_timeout_holds_the_answer_after_the_change(new_org: OrgFactory) -> None:
    org = new_org()
    org.faults({"timeout": 1.0}, hold_s=2.0)
    with org.client(timeout=0.3) as c, pytest.raises(httpx.ReadTimeout):
        c.post("/credentials", json=create_body())
    org.faults({})
    assert len(org.xai()) == 1


def test_faults_are_scoped_and_spare_health_and_control(new_org: OrgFactory) -> None:
    faulty, clean = new_org(), new_org()
    faulty.faults({"503": 1.0})
    with clean.client() as c:
        assert c.get("/credentials").status_code == 200
    assert httpx.get(f"{faulty.url}/system/health").status_code == 200
    assert httpx.get(f"{faulty.url}/_emulator/stats").status_code == 200


def test_seeded_faults_are_reproducible(new_org: OrgFactory) -> None:
    def run() -> list[int]:
        org = new_org()
        org.faults({"500": 0.3, "503": 0.2}, seed=42)
        with org.client() as c:
            return [c.get("/credentials").status_code for _ in range(30)]

    first, second = run(), run()
    assert first == second
    assert {200, 500, 503} <= set(first)


def test_200_concurrent_creates_leave_200_and_one_default(new_org: OrgFactory) -> None:
    org = new_org()

    async def burst() -> list[int]:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=org.url, headers=org.headers(),
                                     limits=limits, timeout=30) as c:
            answers = await asyncio.gather(
                *(c.post("/credentials", json=create_body()) for _ in range(200)))
        return [a.status_code for a in answers]

    assert asyncio.run(burst()) == [201] * 200
    creds = org.xai()
    assert len(creds) == 200
    assert sum(c["is_default"] for c in creds) == 1


def test_emulator_options_state_latency_fixture_and_quiet_logs(tmp_path: Path) -> None:
    """--fixture, --state across a restart, --latency-ms, --fault and a log with no secret."""
    key = fake_key("canary")
    token = "mx_live_canary_token_0123456789"
    fixture = tmp_path / "fixture.yaml"
    fixture.write_text(yaml.safe_dump({
        "users": [{"token": token, "id": "u1", "email": "a@example.com",
                   "memberships": {"org-a": "owner"}}],
        "orgs": [{"id": "org-a", "credentials": [
            {"integration_name": "xai", "display_name": "legacy", "api_key": key}]}],
    }))
    state = tmp_path / "state.json"
    headers = {"Authorization": f"Bearer {token}", "X-Organization-ID": "org-a"}
    emu = start_emulator("--fixture", str(fixture), "--state", str(state), "--log-level", "debug",
                         "--latency-ms", "150", rate_limit=0)
    try:
        t0 = time.monotonic()
        listed = httpx.get(f"{emu.url}/credentials", headers=headers)
        assert time.monotonic() - t0 >= 0.15  # the added latency is a lower bound
        assert listed.json()["total_credentials"] == 1
        created = httpx.post(f"{emu.url}/credentials", headers=headers,
                             json=create_body(fake_key("second")))
        assert created.status_code == 201
        httpx.post(f"{emu.url}/credentials", headers=headers,
                   json={"integration_name": "xai", "auth_data": {"api_key": "xai-bad"}})
    finally:
        log = stop_emulator(emu)
    assert key not in log and token not in log and "xai-bad" not in log
    assert json.loads(state.read_text())["credentials"][0]["display_name"] == "legacy"
    assert not list(tmp_path.glob(".mxsync-emulator-*"))  # no temp file left behind
    assert state.stat().st_mode & 0o077 == 0

    emu = start_emulator("--state", str(state), "--fault", "503:1.0", rate_limit=0)
    try:
        assert httpx.get(f"{emu.url}/credentials", headers=headers).status_code == 503
        httpx.post(f"{emu.url}/_emulator/faults", json={"faults": {}}).raise_for_status()
        names = [c["display_name"] for c in
                 httpx.get(f"{emu.url}/credentials", headers=headers)
                 .json()["integrations"]["xai"]["credentials"]]
        assert names == ["legacy", "xAI"]  # the world came back from --state
    finally:
        stop_emulator(emu)


def test_bad_fault_option_is_a_clear_usage_error() -> None:
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "mxsync", "emulator", "--fault", "boom:1"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1  # a usage error, never 2
    assert "KIND:RATE" in r.stderr and "Traceback" not in r.stderr


def test_xai_upstream_receives_the_key_test(emulator_url: str, new_org: OrgFactory) -> None:
    """With --xai-upstream, the second emulator asks the first one's xAI stand-in."""
    revoked = fake_key("upstream")
    new_org(invalid_keys=[revoked])  # known as invalid to the first emulator only
    token = "mx_live_up_0123456789"
    emu = start_emulator("--xai-upstream", f"{emulator_url}/v1", rate_limit=0)
    try:
        httpx.post(f"{emu.url}/_emulator/world", json={"users": [
            {"token": token, "id": "u", "email": "u@example.com",
             "memberships": {"org-u": "owner"}}]}).raise_for_status()
        r = httpx.post(f"{emu.url}/credentials/test-temporary",
                       headers={"Authorization": f"Bearer {token}", "X-Organization-ID": "org-u"},
                       json={"integration_name": "xai", "auth_type": "api_key",
                             "auth_data": {"api_key": revoked}})
    finally:
        stop_emulator(emu)
    body = r.json()
    assert body["is_valid"] is False and body["status_code"] == 400
    assert body["test_endpoint"] == f"{emulator_url}/v1/chat/completions"
