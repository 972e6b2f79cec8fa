"""Key-test results in the five words a user acts on, and the client helper that retries
a key that is only busy."""

from __future__ import annotations

from typing import Any

import pytest

from mxsync.api import ModulexClient
from mxsync.keytest import (
    KeyTestResult,
    Refusal,
    Verdict,
    classify_answer,
    classify_error,
    classify_unreachable,
)
from mxsync.render.keytest import describe
from mxsync.secrets import Secret
from tests.conftest import OrgFactory, fake_key
from tests.hostile.client import CANARY_KEY, CANARY_TOKEN, with_client
from tests.hostile.server import HostileServer, Reply, canned, json_reply

NO_CREDITS = ("Your team has either used all available credits or reached its monthly "
              "spending limit.")


@pytest.mark.parametrize(("answer", "verdict", "status", "refusal"), [
    ({"is_valid": True, "status_code": 200, "message": "Connection successful"}, Verdict.VALID, 200,
     None),
    ({"is_valid": True, "message": "ok"}, Verdict.VALID, None, None),  # a stored test: no status
    ({"is_valid": False, "status_code": 400, "message": "Incorrect API key provided"},
     Verdict.REJECTED, 400, None),
    ({"is_valid": False, "status_code": 401}, Verdict.REJECTED, 401, None),
    ({"is_valid": False, "status_code": 403, "message": NO_CREDITS}, Verdict.REFUSED, 403,
     Refusal.NO_CREDITS),
    ({"is_valid": False, "status_code": 403, "message": "The API key is disabled"},
     Verdict.REFUSED, 403, Refusal.DISABLED),
    ({"is_valid": False, "status_code": 403, "message": "team blocked"}, Verdict.REFUSED, 403,
     Refusal.DISABLED),
    ({"is_valid": False, "status_code": 403}, Verdict.REFUSED, 403, None),
    ({"is_valid": False, "status_code": 429, "message": "Too many requests"},
     Verdict.RATE_LIMITED, 429, None),
    ({"is_valid": False, "status_code": 503}, Verdict.UNREACHABLE, 503, None),
    ({"is_valid": False, "status_code": 500}, Verdict.UNREACHABLE, 500, None),
    ({"is_valid": False, "status_code": "429"}, Verdict.RATE_LIMITED, 429, None),
    ({"is_valid": False, "message": "xAI rejected the key (HTTP 403)"}, Verdict.REFUSED, 403, None),
    ({"is_valid": False, "message": "bad key"}, Verdict.REJECTED, None, None),
    ({"message": "?"}, Verdict.UNTESTED, None, None),
    ({"is_valid": True, "status_code": 429}, Verdict.RATE_LIMITED, 429, None),  # status wins
    ([], Verdict.UNTESTED, None, None),
])
def test_classify(answer: Any, verdict: Verdict, status: int | None, refusal: Refusal | None) -> None:
    result = classify_answer(answer)
    assert (result.verdict, result.status_code, result.refusal) == (verdict, status, refusal)
    assert result.passed is (verdict is Verdict.VALID)


@pytest.mark.parametrize(("result", "words"), [
    (KeyTestResult(Verdict.REJECTED, 400, ""), "xAI answered 400, rejected: the key is wrong"),
    (KeyTestResult(Verdict.REFUSED, 403, "", Refusal.NO_CREDITS), "team has no credits left"),
    (KeyTestResult(Verdict.REFUSED, 403, "", Refusal.DISABLED), "key or its xAI team is disabled"),
    (KeyTestResult(Verdict.RATE_LIMITED, 429, ""), "could not be made now"),
    (KeyTestResult(Verdict.UNREACHABLE, 502, ""),
     "could not be made now: unreachable: xAI could not be reached"),
    (KeyTestResult(Verdict.UNTESTED, 500, "boom"),
     "could not be made: ModuleX's key test answered 500 (boom)"),
])
def test_each_verdict_says_what_it_means(result: KeyTestResult, words: str) -> None:
    assert words in describe(result)
    if result.verdict in (Verdict.RATE_LIMITED, Verdict.UNREACHABLE, Verdict.UNTESTED):
        assert "invalid" not in describe(result) and "rejected" not in describe(result)


def test_the_message_is_redacted_and_short() -> None:
    message = f"Incorrect API key provided: {CANARY_KEY} \x1b[2J" + "z" * 500
    result = classify_answer({"is_valid": False, "status_code": 400, "message": message},
                             secrets=(CANARY_KEY,))
    assert "CANARY" not in describe(result) and "\x1b" not in result.reason
    assert len(result.reason) <= 200


def test_errors_and_silence_are_not_a_bad_key() -> None:
    assert classify_error(502, "upstream failed").verdict is Verdict.UNTESTED
    assert classify_error(502, "upstream failed").reason == "upstream failed"
    assert classify_unreachable("ConnectError").verdict is Verdict.UNREACHABLE


def _xai(status: int, message: str = "") -> Reply:
    return json_reply({"is_valid": status == 200, "status_code": status, "message": message,
                       "test_method": "api_call"})


def _check(client: ModulexClient) -> Any:
    return client.check_key(Secret(CANARY_TOKEN), "org-a", Secret(CANARY_KEY), None,
                            attempts=3, backoff_s=0.01)


def test_a_busy_key_is_tested_again() -> None:
    with HostileServer(canned([_xai(429), _xai(429), _xai(200)])) as server:
        result = with_client(server.url, _check)
    assert result.verdict is Verdict.VALID
    assert server.count("POST", "/credentials/test-temporary") == 3


def test_a_key_busy_every_time_is_could_not_test_now() -> None:
    with HostileServer(canned([_xai(429, "slow down")])) as server:
        result = with_client(server.url, _check)
    assert result.verdict is Verdict.RATE_LIMITED and "could not be made now" in describe(result)
    assert server.count("POST", "/credentials/test-temporary") == 3


def test_a_refused_key_is_not_tested_again() -> None:
    with HostileServer(canned([_xai(403, NO_CREDITS)])) as server:
        result = with_client(server.url, _check)
    assert (result.verdict, result.refusal) == (Verdict.REFUSED, Refusal.NO_CREDITS)
    assert len(server.seen) == 1


@pytest.mark.parametrize(("reply", "status"), [
    (json_reply({"detail": "xAI test failed: upstream timeout"}, 502), 502),
    (json_reply({"detail": "Credential test not available"}, 400), 400),
    (json_reply(["not", "an", "object"]), 200),
])
def test_a_failing_stored_test_is_could_not_test(reply: Reply, status: int) -> None:
    with HostileServer(canned([reply])) as server:
        result = with_client(server.url, lambda c: c.check_stored_key(
            Secret(CANARY_TOKEN), "org-a", "c-1", backoff_s=0.01))
    assert result.verdict is Verdict.UNTESTED and result.status_code == status
    assert "could not be made" in describe(result)


def test_over_the_emulator_valid_and_rejected(new_org: OrgFactory) -> None:
    bad = fake_key("bad")
    org = new_org(invalid_keys=[bad])

    async def both(client: ModulexClient) -> tuple[Any, Any]:
        token = Secret(org.token)
        return (await client.check_key(token, org.id, Secret(fake_key()), None),
                await client.check_key(token, org.id, Secret(bad), None))

    good, rejected = with_client(org.url, both)
    assert good.verdict is Verdict.VALID
    assert rejected.verdict is Verdict.REJECTED and rejected.status_code in (400, 401)
