"""The one sending loop: every call of every client goes through `HttpCore.send`.

It carries out the policy the other modules of this package state, whatever a server does:
  * the URL was checked by `guard`; the proxy comes only from `proxies` (never from the
    environment behind its back); redirects are never followed (one would carry the
    secret elsewhere);
  * `timeout_s` covers a whole exchange, body included, and the body is read counted and
    capped, compressed and unpacked (`bounded_body`);
  * whether and when to send again is `retry.decide`'s pure answer, with the server's
    `Retry-After` read by `retry_after` (every rate-limit wait has a floor, each wait a
    cap, the waits of one call a total);
  * a 429 blocks the whole token's `TokenLimiter`, so calls sharing it wait together;
  * an error's text is the server's own words with the call's secrets redacted
    (`error_text`).
It returns the answer of a success, or raises `CallFailed`, which the client turns into
its own error (its own words, hints and exception types).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from mxsync._http import error_text
from mxsync._http.bounded_body import ACCEPT_ENCODING, BodyRefused, read_capped
from mxsync._http.pool import ShardedPool
from mxsync._http.proxies import describe as describe_proxy
from mxsync._http.proxies import proxy_for
from mxsync._http.retry import RETRY_STATUSES, Failure, Raise, RetryPolicy, Verdict, decide
from mxsync._http.retry_after import parse_retry_after
from mxsync.ratelimit import TokenLimiter

_NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError,
                    httpx.UnsupportedProtocol)


@dataclass(slots=True)
class Answer:
    """A success: its status, headers, and the body already read and decoded."""

    status: int
    headers: httpx.Headers
    body: bytes


@dataclass(slots=True)
class Exchange:
    """One attempt: an answer (status, headers, body) or how it failed."""

    status: int | None = None
    headers: httpx.Headers | None = None
    body: bytes = b""
    failure: Failure | None = None
    failure_text: str = ""  # in plain words ("connection refused"), for messages and the log
    failure_kind: str = ""  # error_text.NoAnswer.kind: which advice fits
    refused: str | None = None  # the body was not read: too large or unknown encoding


class CallFailed(Exception):
    """The loop's verdict that this call ends without a usable answer.

    `error` is which kind (None: the body was refused, `got.refused` says why); `why`
    what the retry decision said; `detail` the server's error text, redacted."""

    def __init__(self, error: Raise | None, got: Exchange, why: str, attempts: int,
                 detail: str) -> None:
        super().__init__(why)
        self.error = error
        self.got = got
        self.why = why
        self.attempts = attempts
        self.detail = detail

    @property
    def status(self) -> int:
        return self.got.status or 0


@dataclass
class ClientStats:
    calls: int = 0  # exchanges sent, retries included
    rate_limited: int = 0  # 429 answers
    waited_s: float = 0.0  # seconds the retry decisions asked to wait


class HttpCore:
    """Connections and the sending loop of one client (close with `aclose`).

    `base_url` must already have passed `guard.check_url`; `environ` is where proxy
    variables are read; `transport` replaces the network (tests); `title` names the
    service in the debug log, `name` prefixes each call's debug line ("xai ")."""

    def __init__(self, base_url: str, *, parallelism: int, timeout_s: float, retry: RetryPolicy,
                 max_response_bytes: int, environ: Mapping[str, str], user_agent: str,
                 log: logging.Logger, title: str, name: str = "",
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url
        self.retry = retry
        self.timeout_s = timeout_s
        self.max_response_bytes = max_response_bytes
        self.proxy = None if transport is not None else proxy_for(base_url, environ)
        self.stats = ClientStats()
        self._log = log
        self._name = name
        self._gate = asyncio.Semaphore(max(1, parallelism))
        self._pool = ShardedPool(
            base_url, parallelism=parallelism, proxy=self.proxy, timeout_s=timeout_s,
            transport=transport,
            headers={"User-Agent": user_agent, "Accept": "application/json",
                     "Accept-Encoding": ACCEPT_ENCODING})
        log.debug("%s at %s (%s)", title, base_url, describe_proxy(self.proxy))

    def describe_proxy(self) -> str:
        return describe_proxy(self.proxy)

    def limiter(self, label: str) -> TokenLimiter:
        """A new limiter for one secret; every call with that secret must share it."""
        return TokenLimiter(label, max_wait_s=self.retry.max_retry_after_s)

    async def aclose(self) -> None:
        await self._pool.aclose()

    async def send(self, method: str, path: str, *, headers: dict[str, str],
                   limiter: TokenLimiter, hidden: tuple[str, ...], org: str | None = None,
                   params: dict[str, Any] | None = None, json: Any = None,
                   replay_safe: bool | None = None) -> Answer:
        """Send with pacing and retries until `retry.decide` says return or fail.

        `replay_safe`: None follows HTTP (POST/PATCH are not replayed once they may have
        arrived); False turns any lost answer into an OUTCOME_UNKNOWN failure. `hidden`
        are the values an error text must never show (the secret in `headers` included)."""
        failures = 0
        waited = 0.0
        stats = self.stats
        log = self._log
        while True:
            permit = await limiter.acquire()
            answered = False
            try:
                async with self._gate:
                    stats.calls += 1
                    started = time.monotonic()
                    got = await self._exchange(method, path, params, json, headers)
                answered = got.status is not None
                if got.headers is not None:
                    limiter.observe(got.headers)
            finally:
                limiter.release(permit, answered)
            log.debug("%s%s %s org=%s -> %s (%.0f ms)", self._name, method, path, org or "-",
                      got.status if answered else got.failure_text,
                      (time.monotonic() - started) * 1000)
            if got.refused is not None:
                raise CallFailed(None, got, got.refused, failures + 1, "")
            status = got.status
            if status is not None and 200 <= status < 300:
                return Answer(status, got.headers or httpx.Headers(), got.body)
            retry_after = None
            if got.headers is not None and status in RETRY_STATUSES:
                retry_after = parse_retry_after(got.headers.get("retry-after"), time.time())
            decision = decide(method=method, replay_safe=replay_safe, status=status,
                              failure=got.failure, failures=failures, waited_s=waited,
                              retry_after_s=retry_after, policy=self.retry,
                              jitter=random.uniform(0.5, 1.0))
            if decision.verdict is not Verdict.RETRY:  # FAIL (a 2xx was returned above)
                detail = (error_text.describe(got.body, status, hidden)
                          if status is not None and decision.error is not Raise.REDIRECT else "")
                raise CallFailed(decision.error, got, decision.why, failures + 1, detail)
            failures += decision.counted
            waited += decision.delay_s
            stats.waited_s += decision.delay_s
            if status == 429:
                stats.rate_limited += 1
                limiter.block_for(decision.delay_s, f"the service answered 429 to {method} {path}")
            else:
                log.debug("%s%s %s org=%s: %s; retrying in %.1f s", self._name, method, path,
                          org or "-", decision.why, decision.delay_s)
                await asyncio.sleep(decision.delay_s)

    async def _exchange(self, method: str, path: str, params: dict[str, Any] | None, json: Any,
                        headers: dict[str, str]) -> Exchange:
        """One request and its whole body within `timeout_s`, or how it failed."""
        got = Exchange()
        request = self._pool.build_request(method, path, params=params, json=json, headers=headers)
        try:
            async with asyncio.timeout(self.timeout_s):
                response, shard = await self._pool.send(request)
                try:
                    got.status, got.headers = response.status_code, response.headers
                    if not 300 <= response.status_code < 400:  # a redirect's body is never read
                        got.body = await read_capped(response, self.max_response_bytes)
                finally:
                    await response.aclose()
                    self._pool.release(shard)
        except BodyRefused as exc:
            got.refused = str(exc)
        except TimeoutError:
            got.status = None
            got.failure, got.failure_text, got.failure_kind = Failure.LOST, (
                f"no complete answer: timed out after {self.timeout_s:g} s"), "timeout"
        except httpx.TransportError as exc:  # refused, DNS, TLS, time-outs, resets, protocol
            got.status = None
            words = error_text.no_answer(exc, self.timeout_s)
            got.failure = Failure.NOT_SENT if isinstance(exc, _NOT_SENT_ERRORS) else Failure.LOST
            got.failure_text, got.failure_kind = words.words, words.kind
        return got
