"""Rate limits as the service has them: per token, a sliding window, X-RateLimit-* headers,
and a 429 with Retry-After (seconds or an HTTP date). Over real HTTP, with short windows."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import yaml
from hypothesis import given
from hypothesis import strategies as st

from mxsync.emulator.ratelimit import SlidingWindow
from tests.conftest import OrgFactory, TestOrg, start_emulator, stop_emulator

LIMIT_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


def statuses(url: str) -> dict[str, int]:
    return httpx.get(f"{url}/_emulator/stats").json()["statuses"]


def limited_org(new_org: OrgFactory, limit: int, window_s: float) -> TestOrg:
    return new_org(user_fields={"rate_limit_per_minute": limit, "rate_limit_window_s": window_s})


def test_a_token_over_its_limit_gets_429_with_retry_after(new_org: OrgFactory) -> None:
    org = limited_org(new_org, limit=3, window_s=30)
    before = statuses(org.url).get("429", 0)
    with org.client() as c:
        answers = [c.get("/credentials") for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r.headers["x-ratelimit-limit"] for r in answers] == ["3"] * 4
    assert [r.headers["x-ratelimit-remaining"] for r in answers] == ["2", "1", "0", "0"]
    now = time.time()
    for r in answers:
        assert now - 1 <= int(r.headers["x-ratelimit-reset"]) <= now + 31  # Unix seconds
    refused = answers[-1]
    assert isinstance(refused.json()["detail"], str)
    assert 1 <= int(refused.headers["retry-after"]) <= 30
    assert statuses(org.url)["429"] - before == 1  # counted by status in the stats


def test_limits_are_per_token_and_spare_health_and_control(new_org: OrgFactory) -> None:
    org = limited_org(new_org, limit=1, window_s=30)
    other = new_org()  # no limit of its own, and the session emulator runs with --rate-limit 0
    with org.client() as c:
        assert c.get("/auth/me").status_code == 200  # every ModuleX route counts
        for _ in range(3):
            health = c.get("/system/health")
            assert health.status_code == 200 and "x-ratelimit-limit" not in health.headers
            assert c.get("/_emulator/stats").status_code == 200
        assert c.get("/credentials").status_code == 429
    with other.client() as c:
        free = [c.get("/credentials") for _ in range(3)]
    assert [r.status_code for r in free] == [200] * 3
    assert not any(h in free[0].headers for h in LIMIT_HEADERS)


def test_the_window_slides(new_org: OrgFactory) -> None:
    """Two calls, a third later: once the first two leave the window two slots free, not
    three (a fixed window would reset all three), and waiting Retry-After is enough."""
    org = limited_org(new_org, limit=3, window_s=2)
    with org.client() as c:
        assert [c.get("/auth/me").status_code for _ in range(2)] == [200, 200]
        time.sleep(1.0)
        assert c.get("/auth/me").status_code == 200
        refused = c.get("/auth/me")
        assert refused.status_code == 429
        time.sleep(int(refused.headers["retry-after"]))  # the server says when to come back
        assert [c.get("/auth/me").status_code for _ in range(3)] == [200, 200, 429]


def test_options_default_limit_and_http_date(tmp_path: Path) -> None:
    """`--rate-limit` applies to tokens without their own limit; `--retry-after-format
    http-date` sends Retry-After as an HTTP date."""
    fixture = tmp_path / "fixture.yaml"
    fixture.write_text(yaml.safe_dump({"users": [
        {"token": "mx_live_default_limit", "memberships": {"org-a": "owner"}},
        {"token": "mx_live_own_limit", "memberships": {"org-a": "owner"},
         "rate_limit_per_minute": 4},
    ]}))
    emu = start_emulator("--fixture", str(fixture), "--rate-window-s", "30",
                         "--retry-after-format", "http-date", rate_limit=2)
    try:
        def burst(token: str, n: int) -> list[httpx.Response]:
            headers = {"Authorization": f"Bearer {token}", "X-Organization-ID": "org-a"}
            with httpx.Client(base_url=emu.url, headers=headers) as c:
                return [c.get("/credentials") for _ in range(n)]

        default = burst("mx_live_default_limit", 3)
        own = burst("mx_live_own_limit", 5)
        counted = statuses(emu.url)
    finally:
        stop_emulator(emu)
    assert [r.status_code for r in default] == [200, 200, 429]
    assert [r.status_code for r in own] == [200] * 4 + [429]
    assert own[0].headers["x-ratelimit-limit"] == "4"
    retry_at = parsedate_to_datetime(default[-1].headers["retry-after"]).timestamp()
    assert time.time() - 1 <= retry_at <= time.time() + 31
    assert counted == {"200": 6, "429": 2}


def test_a_bad_limit_in_the_world_is_refused(emulator_url: str) -> None:
    r = httpx.post(f"{emulator_url}/_emulator/world", json={"users": [
        {"token": "mx_live_bad_limit", "rate_limit_per_minute": 0}]})
    assert r.status_code == 422
    assert "rate_limit_per_minute must be a positive" in r.json()["detail"]


@given(st.integers(1, 5), st.lists(st.floats(0, 0.5), max_size=40))
def test_never_more_than_the_limit_in_any_window(limit: int, gaps: list[float]) -> None:
    window, now, accepted = SlidingWindow(), 0.0, []
    for gap in gaps:
        now += gap
        decision = window.hit("t", limit, 1.0, now=now)
        if decision.allowed:
            accepted.append(now)
        else:  # refused only when the window really is full, and told when a slot frees
            assert sum(1 for t in accepted if t > now - 1.0) == limit
            assert decision.retry_after_s >= 1
    for start in accepted:
        assert sum(1 for t in accepted if start <= t < start + 1.0) <= limit
