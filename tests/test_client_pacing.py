"""Pacing by the service's rate-limit headers: shared per token, independent across tokens,
429s waited out within bounds, progress with an ETA, and the waits explained at DEBUG."""

from __future__ import annotations

import asyncio
import logging
import time
from email.utils import formatdate
from typing import Any

import pytest

from mxsync._http.retry import RetryPolicy
from mxsync._http.retry_after import parse_retry_after
from mxsync.api import ApiError, CallProgress, ModulexClient
from mxsync.ratelimit import RateInfo, TokenLimiter, parse_rate_headers
from mxsync.secrets import Secret
from tests.hostile.client import CANARY_TOKEN, outcome, with_client
from tests.hostile.server import HostileServer, RateLimited, Reply, canned, json_reply

NOW = 1_800_000_000.0


@pytest.mark.parametrize(("headers", "expected"), [
    ({}, None),
    ({"x-ratelimit-limit": "60", "x-ratelimit-remaining": "59", "x-ratelimit-reset": str(NOW + 42)},
     RateInfo(60, 59, 42.0)),
    ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "7"}, RateInfo(None, 0, 7.0)),  # relative
    ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "2.5"}, RateInfo(None, 0, 2.5)),
    ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(NOW - 5)}, RateInfo(None, 0, 0.0)),
    ({"x-ratelimit-limit": "lots", "x-ratelimit-remaining": "-3", "x-ratelimit-reset": "nan"}, None),
])
def test_rate_headers(headers: dict[str, str], expected: RateInfo | None) -> None:
    assert parse_rate_headers(headers, NOW) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), ("3", 3.0), ("0.5", 0.5), ("soon", None), ("-1", None),
    (formatdate(NOW + 30, usegmt=True), 30.0), (formatdate(NOW - 30, usegmt=True), 0.0),
])
def test_retry_after_in_seconds_or_as_a_date(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def _many(client: ModulexClient, tokens: list[Secret], per_token: int) -> Any:
    async def one(token: Secret) -> None:
        await client.my_organizations(token)

    return asyncio.gather(*(one(t) for t in tokens for _ in range(per_token)))


@pytest.mark.parametrize("reset", ["relative", "epoch"])
def test_one_token_is_paced_by_its_headers_without_429s(reset: str) -> None:
    window = 0.4 if reset == "relative" else 1.0
    limiter = RateLimited({CANARY_TOKEN: 3}, window_s=window, reset=reset)
    token = Secret(CANARY_TOKEN)
    with HostileServer(limiter) as server:
        stats = with_client(server.url, lambda c: _stats_after(c, _many(c, [token], 7)),
                            parallelism=8)
    assert len(server.seen) == 7 and limiter.rejected == 0
    assert stats.rate_limited == 0


async def _stats_after(client: ModulexClient, work: Any) -> Any:
    await work
    return client.stats


def test_tokens_are_paced_independently() -> None:
    slow, fast = Secret("mx_live_slow_token"), Secret("mx_live_fast_token")
    limiter = RateLimited({slow.reveal(): 2, fast.reveal(): None}, window_s=0.5)
    with HostileServer(limiter) as server:
        with_client(server.url, lambda c: _many(c, [slow, fast], 5), parallelism=16)
    order = [s.headers["authorization"].endswith("slow_token") for s in server.seen]
    # The slow token's third call waits for its window; the fast token's calls do not wait for it.
    third_slow = [i for i, is_slow in enumerate(order) if is_slow][2]
    assert order[third_slow:].count(False) == 0
    assert limiter.rejected == 0


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_a_429_with_retry_after_is_waited_out(form: str) -> None:
    when = "0.3" if form == "seconds" else formatdate(time.time() + 1, usegmt=True)
    replies = [json_reply({"detail": "slow down"}, 429, {"retry-after": when}),
               json_reply({"organizations": [{"id": "org-a", "role": "owner"}]})]
    with HostileServer(canned(replies)) as server:
        orgs, stats = with_client(server.url, lambda c: _orgs_and_stats(c),
                                  retry=RetryPolicy(attempts=1))
    assert orgs == [{"id": "org-a", "role": "owner"}]
    assert stats.rate_limited == 1 and len(server.seen) == 2


async def _orgs_and_stats(client: ModulexClient) -> Any:
    return await client.my_organizations(Secret(CANARY_TOKEN)), client.stats


def test_a_retry_after_past_the_cap_is_a_clear_error() -> None:
    reply = json_reply({"detail": "come back tomorrow"}, 429, {"retry-after": "86400"})
    with HostileServer(canned([reply])) as server:
        error = outcome(server.url, lambda c: c.my_organizations(Secret(CANARY_TOKEN)),
                        retry=RetryPolicy(max_retry_after_s=30))
    assert isinstance(error, ApiError) and error.status == 429
    assert "86400 s" in str(error) and "30 s allowed" in str(error)
    assert len(server.seen) == 1


def test_endless_429s_end_at_the_total_wait_bound() -> None:
    reply = json_reply({"detail": "busy"}, 429, {"retry-after": "0.3"})
    with HostileServer(canned([reply])) as server:
        error = outcome(server.url, lambda c: c.my_organizations(Secret(CANARY_TOKEN)),
                        retry=RetryPolicy(max_wait_s=1.0))
    assert isinstance(error, ApiError) and error.status == 429
    assert "1 s allowed for the retries of one call" in str(error)
    assert 2 <= len(server.seen) <= 5


def test_progress_counts_calls_and_gives_an_eta_when_the_limit_sets_the_pace(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="mxsync")
    token = Secret(CANARY_TOKEN)
    seen: list[CallProgress] = []
    limiter = RateLimited({CANARY_TOKEN: 2}, window_s=0.4)

    async def run(client: ModulexClient) -> None:
        client.expect(6, token)
        await _many(client, [token], 6)

    with HostileServer(limiter) as server:
        with_client(server.url, run, parallelism=6, progress=seen.append)
    done = [p for p in seen if p.waiting_s == 0]
    assert [p.done for p in done] == [1, 2, 3, 4, 5, 6]
    assert done[-1].left == 0 and done[-1].expected == 6
    assert any(p.eta_s is not None and p.eta_s > 0 for p in seen)
    assert any(p.waiting_s > 0 for p in seen)
    assert "token #1: waiting" in caplog.text and "window resets" in caplog.text
    assert CANARY_TOKEN not in caplog.text


def test_an_unlimited_token_has_no_eta() -> None:
    seen: list[CallProgress] = []
    with HostileServer(canned([json_reply({"organizations": []})])) as server:
        with_client(server.url, lambda c: _many(c, [Secret(CANARY_TOKEN)], 3), progress=seen.append)
    assert [p.done for p in seen] == [1, 2, 3]
    assert all(p.eta_s is None and p.waiting_s == 0 for p in seen)


def test_a_post_rate_limited_is_sent_again_and_created_once() -> None:
    created = {"credential_id": "c-1", "credentials_metadata": {}}
    replies = [json_reply({"detail": "slow"}, 429, {"retry-after": "0.2"}),
               json_reply(created, 201)]
    with HostileServer(canned(replies, then=Reply(500))) as server:
        answer = with_client(server.url, lambda c: c.create_credential(
            Secret(CANARY_TOKEN), "org-a", key=Secret("xai-" + "k" * 30), base_url=None,
            display_name="a", metadata={}, make_default=False, expires_at=None))
    assert answer["credential_id"] == "c-1"
    assert server.count("POST", "/credentials") == 2  # the 429 proves the first did nothing


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _limiter(max_wait_s: float = 120.0) -> tuple[TokenLimiter, FakeClock]:
    clock = FakeClock()
    return TokenLimiter("token #1", max_wait_s=max_wait_s, clock=clock, wall=lambda: NOW), clock


def test_an_answer_is_taken_to_exclude_the_calls_still_in_flight() -> None:
    limiter, _ = _limiter()

    async def go() -> None:
        probe = await limiter.acquire()  # the first call of a token goes alone, to learn the limit
        assert probe.probe
        limiter.observe({"x-ratelimit-limit": "60", "x-ratelimit-remaining": "59"})
        limiter.release(probe, answered=True)
        for _ in range(3):
            await limiter.acquire()
        limiter.observe({"x-ratelimit-limit": "60", "x-ratelimit-remaining": "10"})

    asyncio.run(go())
    assert limiter._remaining == 10 - 2  # two others still in flight may not be counted yet


def test_only_the_probe_ends_the_probe() -> None:
    """A slow call of the old window that ends first must not let the waiting calls in."""
    limiter, clock = _limiter()

    async def go() -> list[bool]:
        first = await limiter.acquire()
        limiter.observe({"x-ratelimit-limit": "2", "x-ratelimit-remaining": "1",
                         "x-ratelimit-reset": "10"})
        limiter.release(first, answered=True)
        slow = await limiter.acquire()  # the last call of this window, still in flight
        clock.now += 11  # the window has reset: the next call goes alone
        probe = await limiter.acquire()
        waiter = asyncio.create_task(limiter.acquire())
        limiter.release(slow, answered=True)
        await asyncio.sleep(0)
        held = not waiter.done()
        limiter.observe({"x-ratelimit-limit": "2", "x-ratelimit-remaining": "1"})
        limiter.release(probe, answered=True)
        await waiter
        return [probe.probe, held]

    assert asyncio.run(go()) == [True, True]


def test_a_far_reset_or_block_is_clamped_to_the_longest_wait() -> None:
    limiter, clock = _limiter(max_wait_s=5.0)
    limiter.observe({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(NOW + 86_400)})
    delay, why = limiter._delay(clock.now)
    assert delay is not None and delay <= 5.0 + 1.0 and "window resets" in why
    limiter.block_for(86_400, "the service answered 429")
    delay, _ = limiter._delay(clock.now)
    assert delay is not None and delay <= 5.0


def test_eta_only_when_the_limit_sets_the_pace() -> None:
    limiter, _ = _limiter()
    assert limiter.eta_s(100) is None  # no limit known
    limiter.observe({"x-ratelimit-limit": "60", "x-ratelimit-remaining": "50",
                     "x-ratelimit-reset": "30"})
    assert limiter.eta_s(40) is None  # within what is left: latency sets the pace
    eta = limiter.eta_s(170)
    assert eta is not None and eta > 100  # 120 calls past this window at 60 a minute


def test_calls_before_the_announcement_count_as_expected() -> None:
    token = Secret(CANARY_TOKEN)
    seen: list[CallProgress] = []

    async def run(client: ModulexClient) -> tuple[CallProgress, CallProgress]:
        await _many(client, [token], 2)
        before = client.snapshot()
        client.expect(3)
        after = client.snapshot()
        await _many(client, [token], 3)
        return before, after

    with HostileServer(canned([json_reply({"organizations": []})])) as server:
        before, after = with_client(server.url, run, progress=seen.append)
    assert (before.expected, before.left) == (0, 0)
    assert (after.done, after.expected, after.left) == (2, 5, 3)
    assert (seen[-1].done, seen[-1].left) == (5, 0)
