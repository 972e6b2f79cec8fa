"""`audit --expiring-within DAYS` and `--unused-for DAYS`: the thresholds move the findings,
judged as of a fixed instant, on a live org read over HTTP."""

from __future__ import annotations

import json

import pytest

from tests.cli_helpers import mxsync
from tests.conftest import OrgFactory, TestOrg, fake_key

AS_OF = "2026-06-01T00:00:00Z"
YESTERDAY = "2026-05-31T00:00:00Z"
LONG_AGO = "2025-01-01T00:00:00Z"


def cred(name: str, *, expires_at: str | None = None, last_used_at: str | None = None,
         created_at: str = LONG_AGO) -> dict[str, object]:
    return {"integration_name": "xai", "display_name": name, "api_key": fake_key(),
            "expires_at": expires_at, "last_used_at": last_used_at, "created_at": created_at}


@pytest.fixture
def org(new_org: OrgFactory) -> TestOrg:
    return new_org(credentials=[
        cred("exp-10d", expires_at="2026-06-11T00:00:00Z", last_used_at=YESTERDAY),
        cred("exp-40d", expires_at="2026-07-11T00:00:00Z", last_used_at=YESTERDAY),
        cred("used-50d", last_used_at="2026-04-12T00:00:00Z"),
        cred("used-100d", last_used_at="2026-02-21T00:00:00Z"),
        cred("never-10d", created_at="2026-05-22T00:00:00Z"),
        cred("never-182d", created_at="2025-12-01T00:00:00Z"),
    ])


def findings(org: TestOrg, *options: str) -> dict[str, set[str]]:
    """Names of the credentials with an `expiring` and an `unused` finding."""
    run = mxsync("audit", "--org", org.id, "--as-of", AS_OF, "--format", "json",
                 "--fail-on", "never", *options,
                 env={"MODULEX_BASE_URL": org.url, "MODULEX_API_KEY": org.token})
    assert run.code == 0, run.both
    found: dict[str, set[str]] = {"expiring": set(), "unused": set()}
    for f in json.loads(run.out)["findings"]:
        if f["code"] in found:
            found[f["code"]].add(f["credential"].split(" (")[0])
    return found


@pytest.mark.parametrize(("options", "expiring", "unused"), [
    ((), {"exp-10d"}, {"used-100d", "never-182d"}),  # the defaults: 30 and 90 days
    (("--expiring-within", "45", "--unused-for", "30"),
     {"exp-10d", "exp-40d"}, {"used-50d", "used-100d", "never-182d"}),
    (("--expiring-within", "0", "--unused-for", "365"), set(), set()),
    (("--expiring-within", "5", "--unused-for", "5"),
     set(), {"used-50d", "used-100d", "never-10d", "never-182d"}),
])
def test_thresholds_move_the_findings(org: TestOrg, options: tuple[str, ...],
                                      expiring: set[str], unused: set[str]) -> None:
    assert findings(org, *options) == {"expiring": expiring, "unused": unused}


def test_the_messages_say_the_days(org: TestOrg) -> None:
    run = mxsync("audit", "--org", org.id, "--as-of", AS_OF, "--expiring-within", "45",
                 "--unused-for", "30", env={"MODULEX_BASE_URL": org.url,
                                            "MODULEX_API_KEY": org.token})
    assert run.code == 0, run.both  # warnings only: the default --fail-on error passes
    assert "expires on 2026-07-11T00:00:00Z (in 40 days)" in run.out
    assert "last used 2026-04-12T00:00:00Z, more than 30 days ago" in run.out
    assert "never used since it was created on 2025-12-01T00:00:00Z" in run.out


@pytest.mark.parametrize(("option", "value"), [("--expiring-within", "-1"),
                                               ("--unused-for", "0"),
                                               ("--unused-for", "soon")])
def test_out_of_range_days_are_a_usage_error(option: str, value: str) -> None:
    run = mxsync("audit", "--org", "org-a", option, value, env={})
    assert run.code == 1 and option in run.err and "Traceback" not in run.both
