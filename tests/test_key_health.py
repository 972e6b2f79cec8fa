"""Key tests before apply stores a key, classified: valid, rejected, refused (no credits or
disabled), rate-limited, unreachable. Over real HTTP against the emulator's xAI stand-in."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mxsync.keytest import Refusal, Verdict, classify_answer
from tests.cli_helpers import mxsync, write_manifest
from tests.conftest import OrgFactory, TestOrg, fake_key, start_emulator, stop_emulator


def env_for(org: TestOrg, **keys: str) -> dict[str, str]:
    return {"MODULEX_BASE_URL": org.url, "MODULEX_API_KEY": org.token, **keys}


def xai_lists(url: str, **lists: list[str]) -> None:
    """Tell the emulator's xAI stand-in how to answer for these keys (fixture `xai:` lists)."""
    httpx.post(f"{url}/_emulator/world", json={"xai": lists}).raise_for_status()


def xai_calls(url: str) -> int:
    return int(httpx.get(f"{url}/_emulator/stats").json()["xai_calls"])


def one_entry(tmp_path: Path, org: TestOrg) -> str:
    return write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {
        "credentials": [{"name": "p", "api_key_env": "K"}]}}])


NO_CREDITS = "refused: the key in $K is real but its xAI team has no credits left or reached " \
             "its monthly spending limit"


@pytest.fixture
def unfunded_as_403(emulator_url: str) -> Iterator[None]:
    """The session emulator's stand-in answers the no-credits text with 403 (as xAI does on
    /v1/responses) for one test; back to its default 429 afterwards."""
    httpx.post(f"{emulator_url}/_emulator/world", json={"xai": {"unfunded_status": 403}}
               ).raise_for_status()
    try:
        yield
    finally:
        httpx.post(f"{emulator_url}/_emulator/world", json={"xai": {"unfunded_status": 429}}
                   ).raise_for_status()


@pytest.mark.parametrize(("listed", "words"), [
    ("invalid_keys", "key test failed: xAI answered 400, rejected: the key in $K is wrong"),
    ("unfunded_keys", f"key test failed: xAI answered 429, {NO_CREDITS}"),
    ("disabled_keys", "key test failed: xAI answered 403, refused: the key in $K is real but "
                      "the key or its xAI team is disabled"),
])
def test_apply_stores_no_key_that_failed_its_test_and_says_why(
        new_org: OrgFactory, tmp_path: Path, listed: str, words: str) -> None:
    org = new_org()
    key = fake_key(listed.split("_")[0])
    xai_lists(org.url, **{listed: [key]})
    before = xai_calls(org.url)
    run = mxsync("apply", "-f", one_entry(tmp_path, org), "--auto-approve",
                 env=env_for(org, K=key))
    assert run.code == 1, run.both
    assert words in run.out
    assert "nothing was stored for this entry" in run.out
    assert key not in run.both
    assert org.xai() == []
    assert xai_calls(org.url) - before == 1  # refused or rejected: one try, retrying cannot help


@pytest.mark.usefixtures("unfunded_as_403")
def test_no_credits_with_403_is_refused_the_same_way(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    key = fake_key("unfunded")
    xai_lists(org.url, unfunded_keys=[key])
    before = xai_calls(org.url)
    run = mxsync("apply", "-f", one_entry(tmp_path, org), "--auto-approve",
                 env=env_for(org, K=key))
    assert run.code == 1, run.both
    assert f"key test failed: xAI answered 403, {NO_CREDITS}" in run.out
    assert xai_calls(org.url) - before == 1


@pytest.mark.parametrize("as_403", [False, True], ids=["429", "403"])
def test_audit_reports_an_unfunded_stored_key_as_refused(
        new_org: OrgFactory, request: pytest.FixtureRequest, as_403: bool) -> None:
    if as_403:
        request.getfixturevalue("unfunded_as_403")
    key = fake_key("unfunded")
    org = new_org(credentials=[{"integration_name": "xai", "display_name": "p", "api_key": key,
                                "is_default": True}])
    xai_lists(org.url, unfunded_keys=[key])
    before = xai_calls(org.url)
    run = mxsync("audit", "--org", org.id, "--test-keys", "--no-usage", "--format", "json",
                 env=env_for(org))
    found = [f for f in json.loads(run.out)["findings"] if f["code"].startswith("key-")]
    assert [(f["code"], f["severity"]) for f in found] == [("key-refused", "error")]
    assert "no credits left or reached its monthly spending limit" in found[0]["message"]
    assert xai_calls(org.url) - before == 1
    assert key not in run.both


# xAI's texts as public reports (2026) quote them; team ids replaced.
_TEAM = "0f2b6c1e-0000-4000-8000-000000000000"
_UNFUNDED = (f"Your team {_TEAM} has either used all available credits or reached its monthly "
             "spending limit. To continue making API requests, please purchase more credits or "
             "raise your spending limit.")
_TOO_MANY_TOKENS = (f"Too many tokens for team {_TEAM} and model grok-4-0709. Your team's rate "
                    "limit is — Tokens per Minute (actual/limit): 65605/16000. You can view your "
                    "team rate limits at https://console.x.ai.")
_TOO_MANY_REQUESTS = f"Too many requests for team {_TEAM}"


@pytest.mark.parametrize(("status", "text", "verdict", "refusal"), [
    (429, _UNFUNDED, Verdict.REFUSED, Refusal.NO_CREDITS),  # chat completions
    (403, _UNFUNDED, Verdict.REFUSED, Refusal.NO_CREDITS),  # /v1/responses
    (403, "personal-team-blocked:spending-limit", Verdict.REFUSED, Refusal.NO_CREDITS),
    (429, _TOO_MANY_TOKENS, Verdict.RATE_LIMITED, None),
    (429, _TOO_MANY_REQUESTS, Verdict.RATE_LIMITED, None),
    (429, "The API key xa***cd has exceeded its rate limit. Please slow down.",
     Verdict.RATE_LIMITED, None),
    (403, "The API key xa***cd is disabled.", Verdict.REFUSED, Refusal.DISABLED),
    (400, "Incorrect API key provided: xa***4o. You can obtain an API key from "
          "https://console.x.ai.", Verdict.REJECTED, None),
])
def test_key_tests_are_classified_by_what_xai_says(
        status: int, text: str, verdict: Verdict, refusal: Refusal | None) -> None:
    for answer in ({"is_valid": False, "status_code": status,
                    "message": f"xAI API test failed (HTTP {status}): {text}"},
                   {"is_valid": False, "message": f"xAI API test failed (HTTP {status}): {text}"}):
        result = classify_answer(answer)
        assert (result.verdict, result.refusal, result.status_code) == (verdict, refusal, status)


def test_a_busy_key_is_tested_a_few_times_then_could_not_test_now(
        new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    key = fake_key("busy")
    xai_lists(org.url, rate_limited_keys=[key])
    before = xai_calls(org.url)
    run = mxsync("apply", "-f", one_entry(tmp_path, org), "--auto-approve",
                 env=env_for(org, K=key))
    assert run.code == 1, run.both
    assert "key test could not be made now: xAI answered 429, rate-limited" in run.out
    assert "says nothing about the key" in run.out and "invalid" not in run.out
    assert xai_calls(org.url) - before == 3  # tried again with backoff, not once, not forever
    assert org.xai() == []


def test_skip_tests_stores_a_key_the_test_would_refuse(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    key = fake_key("unfunded")
    xai_lists(org.url, unfunded_keys=[key])
    before = xai_calls(org.url)
    run = mxsync("apply", "-f", one_entry(tmp_path, org), "--auto-approve", "--skip-tests",
                 env=env_for(org, K=key))
    assert run.code == 0, run.both
    assert [c["display_name"] for c in org.xai()] == ["p"]
    assert xai_calls(org.url) == before


def test_a_valid_key_is_tested_once_and_stored(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    before = xai_calls(org.url)
    run = mxsync("apply", "-f", one_entry(tmp_path, org), "--auto-approve",
                 env=env_for(org, K=fake_key()))
    assert run.code == 0, run.both
    assert xai_calls(org.url) - before == 1
    assert len(org.xai()) == 1


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def xai_down() -> Iterator[str]:
    """An emulator whose key tests go to an xAI that does not answer."""
    emu = start_emulator("--xai-upstream", f"http://127.0.0.1:{_dead_port()}", rate_limit=0)
    yield emu.url
    stop_emulator(emu)


def test_xai_unreachable_is_not_a_bad_key(xai_down: str, tmp_path: Path) -> None:
    org = OrgFactory(xai_down)()
    run = mxsync("apply", "-f", one_entry(tmp_path, org), "--auto-approve",
                 env=env_for(org, K=fake_key()))
    assert run.code == 1, run.both
    assert "key test could not be made now: unreachable: xAI could not be reached" in run.out
    assert "rejected" not in run.out and "invalid" not in run.out
    assert org.xai() == []


@pytest.mark.parametrize("answer", [
    {"is_valid": False, "status_code": 0, "message": "xAI API test failed (HTTP 0): ConnectError"},
    {"is_valid": False, "message": "xAI API test failed (HTTP 0): ConnectError"},  # stored test
])
def test_no_answer_from_xai_is_unreachable(answer: dict[str, object]) -> None:
    assert classify_answer(answer).verdict is Verdict.UNREACHABLE


def test_audit_of_a_stored_key_xai_does_not_answer_is_untested(xai_down: str) -> None:
    org = OrgFactory(xai_down)(credentials=[{"integration_name": "xai", "display_name": "p",
                                             "api_key": fake_key(), "is_default": True}])
    run = mxsync("audit", "--org", org.id, "--test-keys", "--no-usage", "--format", "json",
                 env=env_for(org))
    found = [f for f in json.loads(run.out)["findings"] if f["code"].startswith("key-")]
    assert [(f["code"], f["severity"]) for f in found] == [("key-untested", "warning")]
    assert "xAI could not be reached" in found[0]["message"]
