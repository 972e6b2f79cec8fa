"""The retry decision, row by row: every status class x method x replay safety, then the bounds."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mxsync._http.retry import Failure, Raise, RetryPolicy, Verdict, decide, is_replay_safe
from mxsync._http.retry_after import parse_retry_after

METHODS = ("GET", "PUT", "DELETE", "POST", "PATCH")
FLAGS = (None, True, False)
# What each outcome means for a call that may be replayed, and one that may not.
#   outcome                   statuses / failure          safe                        unsafe
TABLE = [
    ("2xx", (200, 201, 204), (Verdict.RETURN, None), (Verdict.RETURN, None)),
    ("3xx", (301, 302, 307, 308), (Verdict.FAIL, Raise.REDIRECT), (Verdict.FAIL, Raise.REDIRECT)),
    ("4xx", (400, 401, 402, 403, 404, 409, 422), (Verdict.FAIL, Raise.API_ERROR),
     (Verdict.FAIL, Raise.API_ERROR)),
    ("429", (429,), (Verdict.RETRY, None), (Verdict.RETRY, None)),  # not carried out: any call
    ("5xx retried", (500, 502, 503, 504), (Verdict.RETRY, None),
     (Verdict.FAIL, Raise.OUTCOME_UNKNOWN)),
    ("5xx final", (501, 505), (Verdict.FAIL, Raise.API_ERROR), (Verdict.FAIL, Raise.API_ERROR)),
    ("lost", (Failure.LOST,), (Verdict.RETRY, None), (Verdict.FAIL, Raise.OUTCOME_UNKNOWN)),
    ("not sent", (Failure.NOT_SENT,), (Verdict.RETRY, None), (Verdict.RETRY, None)),
]


def expected_safety(method: str, flag: bool | None) -> bool:
    return flag if flag is not None else method in ("GET", "PUT", "DELETE")


ROWS = [
    pytest.param(outcome, method, flag, safe_result if expected_safety(method, flag) else unsafe_result,
                 id=f"{name}-{outcome}-{method}-{flag}")
    for (name, outcomes, safe_result, unsafe_result), method, flag
    in itertools.product(TABLE, METHODS, FLAGS)
    for outcome in outcomes
]


@pytest.mark.parametrize(("outcome", "method", "flag", "expected"), ROWS)
def test_first_attempt(outcome: int | Failure, method: str, flag: bool | None,
                       expected: tuple[Verdict, Raise | None]) -> None:
    status = outcome if isinstance(outcome, int) else None
    failure = outcome if isinstance(outcome, Failure) else None
    decision = decide(method=method, replay_safe=flag, status=status, failure=failure)
    assert (decision.verdict, decision.error) == expected
    if decision.verdict is Verdict.RETRY:
        assert 0 < decision.delay_s <= RetryPolicy().cap_s


def test_replay_safety_follows_http_unless_told() -> None:
    assert [is_replay_safe(m, None) for m in METHODS] == [True, True, True, False, False]
    assert is_replay_safe("POST", True) and not is_replay_safe("GET", False)


@pytest.mark.parametrize(("status", "failure", "exhausted"), [
    (503, None, Raise.API_ERROR), (429, None, Raise.API_ERROR), (None, Failure.LOST, Raise.UNREACHABLE)])
def test_counted_failures_end_at_the_attempt_limit(status: int | None, failure: Failure | None,
                                                    exhausted: Raise) -> None:
    policy = RetryPolicy(attempts=4)
    verdicts = [decide(method="GET", replay_safe=None, status=status, failure=failure,
                       failures=n, policy=policy) for n in range(4)]
    assert [d.verdict for d in verdicts] == [Verdict.RETRY] * 3 + [Verdict.FAIL]
    assert verdicts[-1].error is exhausted and all(d.counted for d in verdicts)


def test_a_refused_connection_gives_up_sooner() -> None:
    first = decide(method="GET", replay_safe=None, status=None, failure=Failure.NOT_SENT)
    second = decide(method="GET", replay_safe=None, status=None, failure=Failure.NOT_SENT, failures=1)
    assert first.verdict is Verdict.RETRY and (second.verdict, second.error) == (
        Verdict.FAIL, Raise.UNREACHABLE)


def test_retry_after_is_waited_out_without_using_up_attempts() -> None:
    policy = RetryPolicy(attempts=1)
    decision = decide(method="POST", replay_safe=False, status=429, retry_after_s=30.0,
                      failures=0, policy=policy)
    assert (decision.verdict, decision.delay_s, decision.counted) == (Verdict.RETRY, 30.0, False)


def test_retry_after_of_zero_still_costs_time() -> None:
    decision = decide(method="GET", replay_safe=None, status=429, retry_after_s=0.0)
    assert decision.verdict is Verdict.RETRY and decision.delay_s > 0


def test_a_single_wait_past_the_cap_is_an_error() -> None:
    policy = RetryPolicy(max_retry_after_s=120.0)
    decision = decide(method="GET", replay_safe=None, status=429, retry_after_s=86_400.0,
                      policy=policy)
    assert (decision.verdict, decision.error) == (Verdict.FAIL, Raise.WAIT_TOO_LONG)
    assert "86400 s" in decision.why and "120 s" in decision.why


def test_waits_of_one_call_cannot_add_up_past_the_bound() -> None:
    policy = RetryPolicy(max_wait_s=100.0)
    ok = decide(method="GET", replay_safe=None, status=429, retry_after_s=50.0, waited_s=50.0,
                policy=policy)
    over = decide(method="GET", replay_safe=None, status=429, retry_after_s=50.0, waited_s=50.1,
                  policy=policy)
    assert ok.verdict is Verdict.RETRY
    assert (over.verdict, over.error) == (Verdict.FAIL, Raise.WAIT_TOO_LONG)


def test_a_5xx_retry_after_is_honoured() -> None:
    decision = decide(method="GET", replay_safe=None, status=503, retry_after_s=7.0)
    assert decision.delay_s == 7.0


@given(
    status=st.one_of(st.none(), st.integers(100, 599)),
    failure=st.sampled_from(list(Failure)),
    method=st.sampled_from(METHODS),
    flag=st.sampled_from(FLAGS),
    failures=st.integers(0, 20),
    waited=st.floats(0, 2_000),
    retry_after=st.one_of(st.none(), st.floats(0, 1e9)),
    jitter=st.floats(0.5, 1.0),
)
def test_no_hostile_answer_stretches_the_bounds(status: int | None, failure: Failure, method: str,
                                                flag: bool | None, failures: int, waited: float,
                                                retry_after: float | None, jitter: float) -> None:
    policy = RetryPolicy()
    decision = decide(method=method, replay_safe=flag, status=status,
                      failure=None if status else failure, failures=failures, waited_s=waited,
                      retry_after_s=retry_after, policy=policy, jitter=jitter)
    if decision.verdict is Verdict.RETRY:
        assert 0 < decision.delay_s <= policy.max_retry_after_s
        assert waited + decision.delay_s <= policy.max_wait_s
        assert not decision.counted or failures + 1 < policy.attempts
        # a call that may have been carried out is replayed only when that is harmless
        if not is_replay_safe(method, flag):
            assert status == 429 or (status is None and failure is Failure.NOT_SENT)
    else:
        assert decision.delay_s == 0


@given(header=st.one_of(st.text(max_size=80), st.sampled_from([
           "0", "-30", "nan", "inf", "1e400", "Mon, 01 Jan 2024 00:00:00 +99999999999999999999",
           "Mon, 01 Jan 99999 00:00:00 GMT", "Thu, 01 Jan 1970 00:00:00 GMT"])),
       now=st.floats(0, 4e9), waited=st.floats(0, 600), failures=st.integers(0, 5))
def test_any_retry_after_header_gives_a_wait_between_the_floor_and_the_caps(
        header: str, now: float, waited: float, failures: int) -> None:
    """Whatever a 429 says, the loop waits at least the floor and never past a cap, or stops."""
    policy = RetryPolicy()
    decision = decide(method="GET", replay_safe=None, status=429, failures=failures,
                      waited_s=waited, retry_after_s=parse_retry_after(header, now), policy=policy)
    if decision.verdict is Verdict.RETRY:
        assert policy.min_rate_limit_wait_s <= decision.delay_s <= policy.max_retry_after_s
        assert waited + decision.delay_s <= policy.max_wait_s
    else:
        assert decision.verdict is Verdict.FAIL


@pytest.mark.parametrize(("value", "expected"), [
    ("0", 0.0), ("2.5", 2.5), ("-30", None), ("nan", None), ("inf", None), ("soon", None),
    ("", None), (None, None), ("Mon, 01 Jan 2024 00:00:00 +99999999999999999999", None),
    ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0), ("Thu, 01 Jan 1970 00:01:40 GMT", 40.0),
])
def test_retry_after_reads_seconds_and_dates_and_nothing_else(value: str | None,
                                                              expected: float | None) -> None:
    assert parse_retry_after(value, 60.0) == expected
