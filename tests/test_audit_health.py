"""`mxsync audit`: key health. Stored-key tests classified (`key-invalid`, `key-refused`,
`key-untested`) and `failing` from usage counts, which cost nothing at xAI. A failing call
for one credential is that credential's finding and stops nothing else."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.cli_helpers import Run, mxsync
from tests.conftest import OrgFactory, TestOrg, fake_key

USAGE_ROUTE = "GET /credentials/{credential_id}/usage"
TEST_ROUTE = "POST /credentials/{credential_id}/test"
RETRY_ATTEMPTS = 6  # the client's RetryPolicy.attempts: a 500 is tried this many times


def cred(name: str, key: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"integration_name": "xai", "display_name": name, "api_key": key or fake_key(),
            **extra}


def live_audit(orgs: list[TestOrg], *args: str) -> Run:
    """A live audit (no manifest) of these orgs with the first org's token."""
    org_args = [a for o in orgs for a in ("--org", o.id)]
    return mxsync("audit", *org_args, "--format", "json", *args,
                  env={"MODULEX_BASE_URL": orgs[0].url, "MODULEX_API_KEY": orgs[0].token})


def codes(run: Run) -> dict[tuple[str, str | None], str]:
    """(code, credential display name) -> message."""
    doc = json.loads(run.out)
    return {(f["code"], (f["credential"] or "").split(" (")[0] or None): f["message"]
            for f in doc["findings"] if f["code"] != "unmanaged"}


def stats(url: str) -> dict[str, Any]:
    return dict(httpx.get(f"{url}/_emulator/stats").json())


def share(new_org: OrgFactory, owner: TestOrg) -> TestOrg:
    """Another org that `owner`'s token also owns."""
    other = new_org()
    httpx.post(f"{owner.url}/_emulator/world", json={"users": [
        {"token": owner.token, "memberships": {other.id: "owner"}}]}).raise_for_status()
    return other


def test_stored_key_tests_are_classified(new_org: OrgFactory) -> None:
    keys = {n: fake_key(n) for n in ("bad", "broke", "off", "busy", "good")}
    org = new_org(credentials=[cred(n, k, is_default=n == "good") for n, k in keys.items()])
    httpx.post(f"{org.url}/_emulator/world", json={"xai": {
        "invalid_keys": [keys["bad"]], "unfunded_keys": [keys["broke"]],
        "disabled_keys": [keys["off"]], "rate_limited_keys": [keys["busy"]]}}).raise_for_status()
    run = live_audit([org], "--test-keys", "--no-usage")
    assert run.code == 1, run.both
    found = codes(run)
    assert set(found) == {("key-invalid", "bad"), ("key-refused", "broke"), ("key-refused", "off"),
                          ("key-untested", "busy")}
    assert "wrong, unknown or deleted" in found[("key-invalid", "bad")]
    assert "no credits left or reached its monthly spending limit" in found[("key-refused", "broke")]
    assert "disabled or blocked" in found[("key-refused", "off")]
    busy = found[("key-untested", "busy")]
    assert "could not be made now" in busy and "over its own xAI rate limit" in busy
    assert "invalid" not in busy and "rejected" not in busy
    severities = {(f["code"]): f["severity"] for f in json.loads(run.out)["findings"]}
    assert severities["key-invalid"] == severities["key-refused"] == "error"
    assert severities["key-untested"] == "warning"
    assert not any(k in run.both for k in keys.values())


def test_a_failing_test_endpoint_is_could_not_test_and_stops_nothing(new_org: OrgFactory) -> None:
    broken = new_org(credentials=[cred("first", is_default=True)])
    fine = share(new_org, broken)
    with fine.client() as c:
        c.post("/credentials", json={"integration_name": "xai", "display_name": "second",
                                     "auth_data": {"api_key": fake_key()}}).raise_for_status()
    # In `broken` every try of its key test gets a 500; its other calls answer.
    broken.faults({"500": 1.0}, routes=[TEST_ROUTE])
    before = stats(broken.url)["routes"].get(TEST_ROUTE, 0)
    run = live_audit([broken, fine], "--test-keys", "--no-usage")
    found = codes(run)
    untested = found[("key-untested", "first")]
    assert "could not be made: ModuleX's key test answered 500" in untested
    assert "Internal server error" in untested  # its reason
    assert stats(broken.url)["routes"][TEST_ROUTE] - before == RETRY_ATTEMPTS + 1  # both orgs
    assert not any(code == "key-untested" and name == "second" for code, name in found)
    assert json.loads(run.out)["summary"]["orgs"] == 2
    assert run.code == 0, run.both  # a warning only


def test_failing_from_usage_counts(new_org: OrgFactory) -> None:
    org = new_org(credentials=[
        cred("dying", usage={"total_calls": 100, "successful_calls": 10, "failed_calls": 90},
             is_default=True),
        cred("few", usage={"total_calls": 10, "successful_calls": 0, "failed_calls": 10}),
        cred("shaky", usage={"total_calls": 100, "successful_calls": 60, "failed_calls": 40}),
        cred("fine", usage={"total_calls": 500, "successful_calls": 499, "failed_calls": 1}),
        cred("idle"),
    ])
    before = stats(org.url)
    run = live_audit([org])
    after = stats(org.url)
    found = codes(run)
    assert [k for k in found if k[0] == "failing"] == [("failing", "dying")]
    assert "90 of its 100 recent calls failed (90%)" in found[("failing", "dying")]
    assert "--test-keys" in found[("failing", "dying")]
    assert json.loads(run.out)["findings"][0]["severity"] == "warning"
    assert run.code == 0, run.both
    # One usage call per credential, and no billed xAI call.
    assert after["routes"][USAGE_ROUTE] - before["routes"].get(USAGE_ROUTE, 0) == 5
    assert after["xai_calls"] == before["xai_calls"]
    stricter = codes(live_audit([org], "--failing-ratio", "0.4", "--failing-min-calls", "10"))
    assert {k for k in stricter if k[0] == "failing"} == {
        ("failing", "dying"), ("failing", "few"), ("failing", "shaky")}


def test_no_usage_reads_none_and_skips_the_check(new_org: OrgFactory) -> None:
    org = new_org(credentials=[cred("dying", is_default=True, usage={
        "total_calls": 100, "successful_calls": 0, "failed_calls": 100})])
    before = stats(org.url)["routes"].get(USAGE_ROUTE, 0)
    run = live_audit([org], "--no-usage")
    assert stats(org.url)["routes"].get(USAGE_ROUTE, 0) == before
    assert not any(code == "failing" for code, _ in codes(run))
    assert "failing" not in json.loads(run.out)["checks"]
    assert "failing" in json.loads(live_audit([org]).out)["checks"]


def test_unreadable_usage_is_a_warning_of_its_own(new_org: OrgFactory) -> None:
    org = new_org(credentials=[cred("only", is_default=True)])
    org.faults({"503": 1.0}, routes=[USAGE_ROUTE])
    run = live_audit([org])
    found = codes(run)
    assert "could not read its usage" in found[("usage-unread", "only")]
    assert "503" in found[("usage-unread", "only")]
    assert run.code == 0, run.both
