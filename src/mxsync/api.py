"""An async client for the parts of the ModuleX API that mxsync uses.

One client per run (`async with`). The HTTP policy -- where a token may go, proxies,
bounded answers, retries and their waits, paging that must end, redacted error texts --
is `mxsync._http`'s, shared with the xAI Management API client; this module adds what is
ModuleX's own:
  * the token goes only in `Authorization`, keys only in request bodies; error texts
    never show either (nor anything shaped like a secret);
  * paced: one `TokenLimiter` per token (`ratelimit.py`), so a rate-limited token
    slows the run down instead of failing it;
  * every answer is checked for the shape the call needs (`answers.py`), and every
    failure is one of the errors in `api_errors.py`, worded for ModuleX.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from mxsync import __version__, answers, keytest
from mxsync._http.core import Answer, CallFailed, ClientStats, HttpCore
from mxsync._http.error_text import reach_hint
from mxsync._http.guard import check_url
from mxsync._http.paging import PageGuard, PagingError
from mxsync._http.pool import POOL_SIZE
from mxsync._http.retry import RETRY_STATUSES, Failure, Raise, RetryPolicy, is_replay_safe
from mxsync.api_errors import ApiError, MalformedAnswer, OutcomeUnknown, ResponseTooLarge, Unreachable
from mxsync.errors import MxsyncError
from mxsync.keytest import KeyTestResult
from mxsync.ratelimit import TokenLimiter
from mxsync.secrets import Secret
from mxsync.urls import DEFAULT_BASE_URL

__all__ = [
    "DEFAULT_BASE_URL", "PAGE_LIMIT", "POOL_SIZE", "RETRY_STATUSES", "ApiError", "CallProgress",
    "ClientStats", "MalformedAnswer", "ModulexClient", "OutcomeUnknown", "ResponseTooLarge",
    "RetryPolicy", "Unreachable", "check_base_url",
]

log = logging.getLogger("mxsync.http")

PAGE_LIMIT = 500
MAX_RESPONSE_BYTES = 16 * 1024 * 1024  # a page of 500 credentials is well under 1 MB
MAX_PAGES = 200  # 100,000 credentials at 500 a page: beyond that a server is lying
T = TypeVar("T")


@dataclass(frozen=True)
class CallProgress:
    """What the progress hook is told: calls done, calls expected, and an ETA when the
    rate limit (not latency) sets the pace."""

    done: int
    expected: int  # calls announced with `expect` (and those before it); 0 if none was
    eta_s: float | None  # None while latency, not a rate limit, sets the pace
    waiting_s: float = 0.0  # >0: a call is waiting this long for a rate limit right now
    # Part of `expected` is an estimate: calls that depend on answers not in yet (an audit's
    # usage reads of orgs whose credentials are not listed yet, at the average so far).
    estimated: bool = False

    @property
    def left(self) -> int:
        return max(0, self.expected - self.done)


def check_base_url(url: str) -> str:
    """Refuse to send a token in clear text anywhere but this machine, or a password in a
    URL that error messages and logs would show."""
    return check_url(
        url, what="API URL", secret="the ModuleX token",
        setting_hint="set --api-url, MODULEX_BASE_URL or api.url to e.g. https://api.modulex.dev",
        secret_hint="the token comes from its variable (MODULEX_API_KEY or token_env)")


def _cred_path(credential_id: str, suffix: str = "") -> str:
    return f"/credentials/{quote(credential_id, safe='')}{suffix}"


class ModulexClient:
    """All HTTP of a run goes through one instance (`async with`).

    `timeout_s` bounds one exchange, body included; `max_response_bytes` caps an answer
    (raw and decoded); `retry` bounds the retries and the waits a server may ask for;
    `progress` is called with a `CallProgress` after each call and when a rate-limit
    wait starts; `environ` is where proxy variables are read (default: os.environ);
    `transport` replaces the network (tests that play a server in-process).
    """

    def __init__(
        self,
        base_url: str,
        *,
        parallelism: int = 10,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        progress: Callable[[CallProgress], None] | None = None,
        environ: Mapping[str, str] | None = None,
        max_pages: int = MAX_PAGES,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = check_base_url(base_url)
        self.retry = retry or RetryPolicy()
        self.timeout_s = timeout_s
        self.max_response_bytes = max_response_bytes
        self.max_pages = max_pages
        self.progress = progress
        self._core = HttpCore(
            self.base_url, parallelism=parallelism, timeout_s=timeout_s, retry=self.retry,
            max_response_bytes=max_response_bytes, log=log, title="ModuleX API", transport=transport,
            environ=os.environ if environ is None else environ,
            user_agent=f"mxsync/{__version__}")
        self.proxy = self._core.proxy
        self.stats = self._core.stats
        self._limiters: dict[Secret, TokenLimiter] = {}
        self._expected: dict[Secret | None, int] = {}
        self._provisional: dict[Secret, int] = {}
        self._done: dict[Secret, int] = {}

    @property
    def calls(self) -> int:
        """Exchanges sent so far, retries included."""
        return self.stats.calls

    async def __aenter__(self) -> ModulexClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._core.aclose()

    # -- pacing and progress ----------------------------------------------------------
    def limiter(self, token: Secret) -> TokenLimiter:
        """The one limiter of this token, shared by all its calls."""
        limiter = self._limiters.get(token)
        if limiter is None:
            limiter = self._core.limiter(f"token #{len(self._limiters) + 1}")
            limiter.on_wait = self._waiting
            self._limiters[token] = limiter
        return limiter

    def expect(self, calls: int, token: Secret | None = None) -> None:
        """Announce `calls` more calls from now (of `token`, if given), so that progress can
        say what is left; calls made before the first announcement count as expected."""
        if token not in self._expected:
            self._expected[token] = (self._done.get(token, 0) if token is not None
                                     else self._untracked_done())
        self._expected[token] += max(0, calls)
        if calls > 0 and self._done:
            # News for the progress line: calls announced after others were made (an
            # audit's usage reads) may all be held a long time, and a log must say so
            # before the first of them is answered.
            self._report()

    def provisional(self, calls: int, token: Secret) -> None:
        """Set the estimate of calls of `token` not announced yet because they depend on
        answers still to come; it replaces the previous estimate (0: none left)."""
        if token not in self._expected:
            self.expect(0, token)
        self._provisional[token] = max(0, calls)

    def _untracked_done(self) -> int:
        return sum(n for t, n in self._done.items() if t not in self._expected)

    def snapshot(self, waiting_s: float = 0.0) -> CallProgress:
        """Calls done and expected, and an ETA: the slowest token's, where a limit sets it."""
        done = sum(self._done.values())
        expected = sum(self._expected.values()) + sum(self._provisional.values())
        untracked = [t for t in self._limiters if t not in self._expected]
        untracked_done = self._untracked_done()
        untracked_left = max(0, self._expected.get(None, 0) - untracked_done)
        etas = []
        for token, limiter in self._limiters.items():
            if token in self._expected:
                left = (self._expected[token] + self._provisional.get(token, 0)
                        - self._done.get(token, 0))
            else:  # a share of the unattributed calls, by how this token's calls went so far
                share = (self._done.get(token, 0) / untracked_done if untracked_done
                         else 1 / len(untracked))
                left = round(untracked_left * share)
            eta = limiter.eta_s(max(0, left))
            if eta is not None:
                etas.append(eta)
        return CallProgress(done=done, expected=max(expected, done) if self._expected else 0,
                            eta_s=max(etas) if etas else None, waiting_s=waiting_s,
                            estimated=any(self._provisional.values()))

    def _report(self, waiting_s: float = 0.0) -> None:
        if self.progress is not None:
            self.progress(self.snapshot(waiting_s))

    def _waiting(self, seconds: float) -> None:
        self._report(seconds)

    # -- the one place that sends ------------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        token: Secret,
        org: str | None = None,
        params: dict[str, Any] | None = None,
        json: Any = None,
        replay_safe: bool | None = None,
        secrets: Sequence[Secret] = (),
    ) -> Answer:
        """Send with pacing and retries; the answer's body is already read (and decoded).

        `replay_safe`: None follows HTTP (POST/PATCH are not replayed after an answer is
        lost); False turns any lost answer into `OutcomeUnknown`. `secrets` are values in
        the body that error texts must never show (the token always is one)."""
        revealed = token.reveal()
        headers = {"Authorization": f"Bearer {revealed}"}
        if org:
            headers["X-Organization-ID"] = org
        try:
            return await self._core.send(
                method, path, headers=headers, limiter=self.limiter(token), org=org,
                hidden=(revealed, *(s.reveal() for s in secrets)) if secrets else (revealed,),
                params=params, json=json, replay_safe=replay_safe)
        except CallFailed as failed:
            raise self._failure(failed, method, path, org, replay_safe) from None
        finally:
            self._done[token] = self._done.get(token, 0) + 1
            if self.progress is not None:
                self._report()

    def _failure(self, failed: CallFailed, method: str, path: str, org: str | None,
                 replay_safe: bool | None) -> MxsyncError:
        """The core's verdict as ModuleX's own error."""
        got, status = failed.got, failed.got.status
        where = f"{method} {path}" + (f" for org {org}" if org else "")
        if failed.error is None:  # the body was refused
            if status is not None and 200 <= status < 300 and not is_replay_safe(method, replay_safe):
                return OutcomeUnknown(f"{where}: answered {status}, but {got.refused}")
            return ResponseTooLarge(status or 0, str(got.refused), method, path, org)
        if failed.error is Raise.REDIRECT:
            return ApiError(status or 0, "redirect refused (the token is never sent on)",
                            method, path, org)
        if failed.error is Raise.OUTCOME_UNKNOWN:
            return OutcomeUnknown(f"{where}: {failed.why}")
        if status is not None:
            if failed.error is Raise.WAIT_TOO_LONG or (status in RETRY_STATUSES
                                                        and failed.attempts > 1):
                return ApiError(status, f"{failed.detail} ({failed.why})", method, path, org,
                                hint="the service keeps failing or asking mxsync to wait; re-run "
                                     "later (a re-run is safe: apply converges)")
            return ApiError(status, failed.detail, method, path, org)
        if got.failure is Failure.NOT_SENT:
            proxy = f"; through {self._core.describe_proxy()}" if self.proxy else ""
            return Unreachable(f"cannot reach the ModuleX API at {self.base_url} "
                               f"({got.failure_text}{proxy})",
                               hint=reach_hint(got.failure_kind, self.base_url,
                                               "--api-url / MODULEX_BASE_URL",
                                               "the ModuleX API (or `mxsync emulator`)",
                                               "check --api-url / MODULEX_BASE_URL, the network "
                                               "and HTTPS_PROXY/NO_PROXY"))
        return Unreachable(f"{where}: gave up after {failed.attempts} tries ({got.failure_text})",
                           hint="the API is failing or slow; re-run later, or raise --timeout "
                                "(a re-run is safe: apply converges)")

    async def _checked(self, method: str, path: str, shape: Callable[[Any], T], *,
                       token: Secret, org: str | None = None, replay_safe: bool | None = None,
                       **kwargs: Any) -> T:
        """Send, parse and check the answer's shape; a bad one names the endpoint."""
        answer = await self.request(method, path, token=token, org=org,
                                    replay_safe=replay_safe, **kwargs)
        try:
            return shape(answers.parse_json(answer.body))
        except answers.ShapeError as exc:
            if not is_replay_safe(method, replay_safe):
                raise OutcomeUnknown(f"{method} {path} for org {org}: answered "
                                     f"{answer.status}, but {exc}") from None
            raise MalformedAnswer(answer.status, str(exc), method, path, org) from None

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The parsed answer without a shape check (None for an empty one)."""
        answer = await self.request(method, path, **kwargs)
        if answer.status == 204 or not answer.body:
            return None
        try:
            return answers.parse_json(answer.body)
        except answers.ShapeError as exc:
            raise MalformedAnswer(answer.status, str(exc), method, path,
                                  kwargs.get("org")) from None

    # -- the calls ------------------------------------------------------------------
    async def my_organizations(self, token: Secret) -> list[dict[str, Any]]:
        return await self._checked("GET", "/auth/me/organizations", answers.organizations,
                                   token=token)

    async def list_credentials(
        self, token: Secret, org: str, integration_name: str = "xai", page_size: int = PAGE_LIMIT
    ) -> list[dict[str, Any]]:
        """Every credential of one integration, following `offset` paging.

        Stops when `total_count` items have come or a page is empty, never at a short page
        (a service may cap pages below the `limit` asked); `max_pages` stops a server whose
        `total_count` never comes true."""
        found: list[dict[str, Any]] = []
        seen: set[str] = set()
        offset = 0
        total: int | None = None
        pages = PageGuard(self.max_pages)
        while True:
            try:
                pages.next(offset)
            except PagingError as exc:
                raise MalformedAnswer(200, f"{exc} ({offset:,} records; total_count said {total})",
                                      "GET", "/credentials", org) from None
            page, total = await self._checked(
                "GET", "/credentials", answers.credential_page, token=token, org=org,
                params={"integration_name": integration_name, "limit": page_size, "offset": offset})
            for item in page:
                # Guard against a record sliding across a page boundary during paging.
                if item["credential_id"] not in seen:
                    seen.add(item["credential_id"])
                    found.append(item)
            offset += len(page)
            if not page or (total is not None and offset >= total):
                return found

    async def get_credential(
        self, token: Secret, org: str, credential_id: str, *, include_masked: bool = False
    ) -> dict[str, Any]:
        return await self._checked(
            "GET", _cred_path(credential_id), answers.credential, token=token, org=org,
            params={"include_masked": "true" if include_masked else "false"})

    async def create_credential(
        self,
        token: Secret,
        org: str,
        *,
        key: Secret,
        base_url: str | None,
        display_name: str,
        metadata: dict[str, Any],
        make_default: bool,
        expires_at: str | None,
    ) -> dict[str, Any]:
        auth_data: dict[str, Any] = {"api_key": key.reveal()}
        if base_url:
            auth_data["base_url"] = base_url
        body: dict[str, Any] = {
            "integration_name": "xai",
            "auth_type": "api_key",
            "auth_data": auth_data,
            "display_name": display_name,
            "metadata": metadata,
            "make_default": make_default,
        }
        if expires_at:
            body["expires_at"] = expires_at
        # Never replayed blindly: a lost answer is OutcomeUnknown, resolved by re-listing.
        return await self._checked("POST", "/credentials", answers.credential, token=token,
                                   org=org, json=body, replay_safe=False, secrets=(key,))

    async def update_credential(
        self, token: Secret, org: str, credential_id: str, *, display_name: str | None,
        metadata: dict[str, Any] | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if display_name is not None:
            body["display_name"] = display_name
        if metadata is not None:
            body["metadata"] = metadata
        return await self._checked("PUT", _cred_path(credential_id), answers.credential,
                                   token=token, org=org, json=body)

    async def delete_credential(self, token: Secret, org: str, credential_id: str) -> bool:
        """True if deleted now, False if it was already gone (a retried DELETE's 404)."""
        try:
            await self.request("DELETE", _cred_path(credential_id), token=token, org=org)
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def set_default(self, token: Secret, org: str, credential_id: str) -> dict[str, Any]:
        # Setting the same default twice is harmless, so retrying it is safe.
        return await self._checked("POST", _cred_path(credential_id, "/set-default"),
                                   answers.credential, token=token, org=org, replay_safe=True)

    async def test_key(
        self, token: Secret, org: str, key: Secret, base_url: str | None
    ) -> dict[str, Any]:
        auth_data: dict[str, Any] = {"api_key": key.reveal()}
        if base_url:
            auth_data["base_url"] = base_url
        body = {"integration_name": "xai", "auth_type": "api_key", "auth_data": auth_data}
        # Stores nothing, so a retry is harmless.
        return await self._checked("POST", "/credentials/test-temporary", answers.obj,
                                   token=token, org=org, json=body, replay_safe=True,
                                   secrets=(key,))

    async def test_stored(self, token: Secret, org: str, credential_id: str) -> dict[str, Any]:
        return await self._checked("POST", _cred_path(credential_id, "/test"), answers.obj,
                                   token=token, org=org, replay_safe=True)

    async def provider_detail(self, token: Secret, org: str, name: str = "xai") -> dict[str, Any]:
        return await self._checked("GET", f"/integrations/llm-providers/{quote(name, safe='')}",
                                   answers.provider, token=token, org=org)

    # -- newer contract rows -------------------------------------------------------------
    async def credential_usage(self, token: Secret, org: str, credential_id: str, *,
                               start_date: str | None = None, end_date: str | None = None
                               ) -> dict[str, Any]:
        """How the credential fared in real calls (costs nothing at xAI)."""
        params = {k: v for k, v in (("start_date", start_date), ("end_date", end_date)) if v}
        return await self._checked("GET", _cred_path(credential_id, "/usage"), answers.usage,
                                   token=token, org=org, params=params or None)

    async def org_settings(self, token: Secret, org: str) -> dict[str, Any]:
        return await self._checked("GET", "/organizations/settings", answers.org_settings,
                                   token=token, org=org)

    async def put_model_visibility(self, token: Secret, org: str, integration_name: str,
                                   models: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Which models of a provider the org's members see; [] = the provider's full list."""
        body = {"integration_name": integration_name, "models": [dict(m) for m in models]}
        return await self._checked("PUT", "/organizations/settings/llm-model-visibility",
                                   answers.obj, token=token, org=org, json=body)

    async def put_composer_llm(self, token: Secret, org: str, *, integration_name: str,
                               provider_id: str, model_id: str,
                               credential_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"integration_name": integration_name, "provider_id": provider_id,
                                "model_id": model_id}
        if credential_id is not None:
            body["credential_id"] = credential_id
        return await self._checked("PUT", "/organizations/settings/composer-llm", answers.obj,
                                   token=token, org=org, json=body)

    # -- key tests, classified ---------------------------------------------------------
    async def check_key(self, token: Secret, org: str, key: Secret, base_url: str | None, *,
                        attempts: int = 3, backoff_s: float = 2.0) -> KeyTestResult:
        """`test_key` as a verdict; a key over its own xAI rate limit is tried again."""
        return await self._classified(lambda: self.test_key(token, org, key, base_url),
                                      (token.reveal(), key.reveal()), attempts, backoff_s)

    async def check_stored_key(self, token: Secret, org: str, credential_id: str, *,
                               attempts: int = 3, backoff_s: float = 2.0) -> KeyTestResult:
        """`test_stored` as a verdict; ModuleX's test endpoint failing is "could not test"."""
        return await self._classified(lambda: self.test_stored(token, org, credential_id),
                                      (token.reveal(),), attempts, backoff_s)

    async def _classified(self, call: Callable[[], Any], hidden: tuple[str, ...], attempts: int,
                          backoff_s: float) -> KeyTestResult:
        result = keytest.classify_unreachable("not tried")
        for attempt in range(max(1, attempts)):
            if attempt:
                delay = backoff_s * 2 ** (attempt - 1) * random.uniform(0.8, 1.0)
                log.debug("key test rate-limited by xAI; testing again in %.1f s", delay)
                await asyncio.sleep(delay)
            try:
                result = keytest.classify_answer(await call(), hidden)
            except (MalformedAnswer, ResponseTooLarge) as exc:
                return keytest.classify_error(exc.status, exc.detail, hidden)
            except ApiError as exc:
                return keytest.classify_error(exc.status, exc.detail, hidden)
            except Unreachable as exc:
                return keytest.classify_unreachable(exc.message, hidden)
            if result.verdict is not keytest.Verdict.RATE_LIMITED:
                return result
        return result
