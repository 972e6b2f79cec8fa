"""The emulator's defaults are the service's: every token limited to 60 calls a minute,
no slash redirects, `X-API-KEY` beside Bearer, 400 for a missing org header (401 with
`--missing-org-status 401`), and mxsync reads either missing-org answer the same way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mxsync.api import ApiError, ModulexClient
from mxsync.secrets import Secret
from tests.conftest import EmulatorProcess, OrgFactory, start_emulator, stop_emulator
from tests.hostile.client import outcome

TOKEN = "mx_live_defaults_0123456789abcdef"
OTHER = "mx_live_defaults_other_0123456789"  # a token whose minute no other test spends
ORG = "org-defaults"


@pytest.fixture(scope="module")
def fixture_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("defaults") / "fixture.yaml"
    path.write_text(yaml.safe_dump({"users": [{"token": t, "memberships": {ORG: "owner"}}
                                               for t in (TOKEN, OTHER)]}))
    return path


@pytest.fixture(scope="module")
def as_shipped(fixture_file: Path) -> Iterator[EmulatorProcess]:
    """Started as a user starts it: no --rate-limit, no --missing-org-status."""
    emu = start_emulator("--fixture", str(fixture_file), rate_limit=None)
    yield emu
    stop_emulator(emu)


def test_every_token_gets_the_services_60_a_minute(as_shipped: EmulatorProcess) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Organization-ID": ORG}
    with httpx.Client(base_url=as_shipped.url, headers=headers) as c:
        answers = [c.get("/auth/me") for _ in range(61)]
        health = c.get("/system/health")
    assert [r.status_code for r in answers] == [200] * 60 + [429]
    assert answers[0].headers["x-ratelimit-limit"] == "60"
    assert answers[0].headers["x-ratelimit-remaining"] == "59"
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert health.status_code == 200 and "x-ratelimit-limit" not in health.headers


def test_a_missing_org_header_is_400_by_default(as_shipped: EmulatorProcess) -> None:
    r = httpx.get(f"{as_shipped.url}/credentials", headers={"Authorization": f"Bearer {OTHER}"})
    assert r.status_code == 400
    assert r.json() == {"detail": "X-Organization-ID header is required"}


def test_rate_limit_0_turns_the_limit_off(emulator_url: str, new_org: OrgFactory) -> None:
    """The session emulator runs with --rate-limit 0: no headers, no 429."""
    org = new_org()
    with org.client() as c:
        answers = [c.get("/auth/me") for _ in range(3)]
    assert {r.status_code for r in answers} == {200}
    assert "x-ratelimit-limit" not in answers[0].headers


def test_no_slash_redirects(new_org: OrgFactory) -> None:
    org = new_org()
    with org.client(follow_redirects=False) as c:
        for path in ("/credentials/", "/auth/me/", "/organizations/settings/"):
            r = c.get(path)
            assert r.status_code == 404, path
            assert "location" not in r.headers
            assert "detail" in r.json()  # ModuleX routes keep FastAPI's shape


def test_x_api_key_is_taken_beside_bearer(new_org: OrgFactory) -> None:
    org = new_org(credentials=[{"integration_name": "xai", "display_name": "k",
                                "api_key": "xai-" + "a" * 30}])
    listed = httpx.get(f"{org.url}/credentials", params={"integration_name": "xai"},
                       headers={"X-API-KEY": org.token, "X-Organization-ID": org.id})
    assert listed.status_code == 200
    assert [c["display_name"] for c in listed.json()["credentials"]] == ["k"]
    wrong = httpx.get(f"{org.url}/auth/me", headers={"X-API-KEY": "mx_live_nobody"})
    assert wrong.status_code == 401
    # Authorization wins when both are sent, as the token a client meant to use.
    both = httpx.get(f"{org.url}/auth/me", headers={"Authorization": "Bearer mx_live_nobody",
                                                     "X-API-KEY": org.token})
    assert both.status_code == 401


def test_x_api_key_is_rate_limited_like_bearer(new_org: OrgFactory) -> None:
    org = new_org(user_fields={"rate_limit_per_minute": 2, "rate_limit_window_s": 30})
    headers = {"X-API-KEY": org.token}
    answers = [httpx.get(f"{org.url}/auth/me", headers=headers) for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 429]
    assert answers[0].headers["x-ratelimit-limit"] == "2"


@pytest.fixture(scope="module")
def org_status_401(fixture_file: Path) -> Iterator[EmulatorProcess]:
    emu = start_emulator("--fixture", str(fixture_file), "--missing-org-status", "401",
                         rate_limit=0)
    yield emu
    stop_emulator(emu)


def _without_org(client: ModulexClient) -> Any:
    return client.request("GET", "/credentials", token=Secret(TOKEN))


def test_mxsync_reads_400_and_401_for_a_missing_org_as_the_same_error(
        org_status_401: EmulatorProcess, new_org: OrgFactory, emulator_url: str) -> None:
    raw = httpx.get(f"{org_status_401.url}/credentials", headers={"Authorization": f"Bearer {TOKEN}"})
    assert raw.status_code == 401
    httpx.post(f"{emulator_url}/_emulator/world", json={"users": [
        {"token": TOKEN, "memberships": {ORG: "owner"}}]}).raise_for_status()
    errors = {url: outcome(url, _without_org) for url in (emulator_url, org_status_401.url)}
    said = []
    for error in errors.values():
        assert isinstance(error, ApiError) and error.kind == "missing-org"
        assert error.hint is not None and "X-Organization-ID" in error.hint
        said.append(str(error).replace(f"answered {error.status}", "answered N"))
    assert [e.status for e in errors.values() if isinstance(e, ApiError)] == [400, 401]
    assert said[0] == said[1]
