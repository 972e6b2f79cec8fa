"""An async client for the parts of the ModuleX API that mxsync uses.

One client per run, with a semaphore for `--parallelism`. Its connections are
spread over small httpx pools of `POOL_SIZE`, each request going to the least busy:
httpcore 1.0's pool does O(connections x requests) work with wake-up churn on every
assignment (encode/httpcore#1035), which at 32 connections held the client at 100%
CPU and ~350 requests/s; shards of 4 serve ~1,400/s (benchmarks/RESULTS.md).

Retries follow the HTTP semantics of each call: reads and idempotent writes are
retried on 429/5xx/timeouts/resets with capped, jittered backoff under an overall
deadline; `POST /credentials` is never replayed blindly and instead raises
`OutcomeUnknown`, which the executor resolves by re-listing.

Tokens travel only in the `Authorization` header and keys only in request bodies;
neither is ever logged, and error texts from the service pass through `redact`
before they reach a message.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from mxsync import __version__
from mxsync.errors import MxsyncError
from mxsync.secrets import Secret, redact
from mxsync.urls import cleartext_to_remote

log = logging.getLogger("mxsync.http")

DEFAULT_BASE_URL = "https://api.modulex.dev"
PAGE_LIMIT = 500
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
POOL_SIZE = 4


class ApiError(MxsyncError):
    """The service answered with an error status."""

    def __init__(self, status: int, detail: str, method: str, path: str, org: str | None) -> None:
        where = f" for org {org}" if org else ""
        super().__init__(f"ModuleX API {method} {path}{where} answered {status}: {detail}")
        self.status = status
        self.detail = detail
        self.org = org


class Unreachable(MxsyncError):
    """No answer at all: connection refused, DNS, TLS, or time-outs past the deadline."""


class OutcomeUnknown(MxsyncError):
    """A non-idempotent call may or may not have taken effect."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_s: float = 0.2
    cap_s: float = 5.0
    deadline_s: float = 60.0

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        delay = min(self.cap_s, self.base_s * (2**attempt)) * random.uniform(0.5, 1.0)
        return max(delay, retry_after or 0.0)


def check_base_url(url: str) -> str:
    """Refuse to send a token in clear text anywhere but this machine."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MxsyncError(
            f"API URL {url!r} is not an http(s) URL",
            hint="set --api-url, MODULEX_BASE_URL or api.url to e.g. https://api.modulex.dev",
        )
    if cleartext_to_remote(url):
        raise MxsyncError(
            f"refusing to send the ModuleX token over plain http to {parts.hostname}",
            hint="use https://, or an emulator on a loopback address (127.0.0.1, localhost, ::1)",
        )
    return url.rstrip("/")


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return redact(response.text[:200] or response.reason_phrase)
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):  # FastAPI 422
        detail = "; ".join(
            f"{'.'.join(str(p) for p in item.get('loc', []))}: {item.get('msg')}"
            if isinstance(item, dict)
            else str(item)
            for item in detail
        )
    return redact(str(detail))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class ModulexClient:
    """All HTTP of a run goes through one instance (`async with`)."""

    def __init__(
        self,
        base_url: str,
        *,
        parallelism: int = 10,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.base_url = check_base_url(base_url)
        self.retry = retry or RetryPolicy()
        self._gate = asyncio.Semaphore(max(1, parallelism))
        # One TLS context for all pools (loading the CA bundle costs ~16 ms each), and none for
        # plain http, which check_base_url allows to loopback only and which never redirects.
        tls: ssl.SSLContext | bool = (
            httpx.create_ssl_context() if self.base_url.startswith("https://") else False)
        self._pools = [
            httpx.AsyncClient(
                base_url=self.base_url,
                timeout=httpx.Timeout(timeout_s),
                follow_redirects=False,  # a redirect must never carry the token elsewhere
                verify=tls,
                limits=httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE),
                headers={"User-Agent": f"mxsync/{__version__}", "Accept": "application/json"},
            )
            for _ in range(math.ceil(max(1, parallelism) / POOL_SIZE))
        ]
        self._busy = [0] * len(self._pools)
        self.calls = 0

    async def __aenter__(self) -> ModulexClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(*(pool.aclose() for pool in self._pools))

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """On the least busy pool; the gate keeps each pool within its size."""
        index = min(range(len(self._pools)), key=self._busy.__getitem__)
        self._busy[index] += 1
        try:
            return await self._pools[index].request(method, path, **kwargs)
        finally:
            self._busy[index] -= 1

    # -- the one place that sends ------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        token: Secret,
        org: str | None = None,
        params: dict[str, Any] | None = None,
        json: Any = None,
        replay_safe: bool = True,
    ) -> httpx.Response:
        """Send with retries. `replay_safe=False` retries only answers that prove nothing happened."""
        headers = {"Authorization": f"Bearer {token.reveal()}"}
        if org:
            headers["X-Organization-ID"] = org
        started = time.monotonic()
        attempt = 0
        while True:
            failure: str
            retry_after: float | None = None
            try:
                async with self._gate:
                    self.calls += 1
                    t0 = time.monotonic()
                    response = await self._send(method, path, params=params, json=json,
                                                headers=headers)
                log.debug(
                    "%s %s org=%s -> %s (%.0f ms)",
                    method, path, org or "-", response.status_code, (time.monotonic() - t0) * 1000,
                )
            except httpx.TransportError as exc:  # timeouts, resets, refused, TLS
                failure = f"{type(exc).__name__}"
                log.debug("%s %s org=%s -> %s", method, path, org or "-", failure)
                if not replay_safe:
                    raise OutcomeUnknown(
                        f"{method} {path} for org {org}: no answer ({failure})"
                    ) from None
                if isinstance(exc, httpx.ConnectError) and attempt >= 1:
                    raise Unreachable(
                        f"cannot reach the ModuleX API at {self.base_url} ({failure})",
                        hint="check --api-url / MODULEX_BASE_URL and the network",
                    ) from None
            else:
                status = response.status_code
                if 300 <= status < 400:
                    raise ApiError(status, "redirect refused (the token is never sent on)",
                                   method, path, org)
                if status < 300:
                    return response
                detail = _detail(response)
                if status not in RETRY_STATUSES:
                    raise ApiError(status, detail, method, path, org)
                if not replay_safe and status != 429:
                    raise OutcomeUnknown(f"{method} {path} for org {org}: answered {status}")
                failure = f"HTTP {status}"
                retry_after = _retry_after(response)
                last_error = ApiError(status, detail, method, path, org)
            attempt += 1
            delay = self.retry.backoff(attempt - 1, retry_after)
            elapsed = time.monotonic() - started
            if attempt >= self.retry.attempts or elapsed + delay > self.retry.deadline_s:
                if failure.startswith("HTTP"):
                    raise last_error
                raise Unreachable(
                    f"{method} {path} for org {org}: gave up after {attempt} tries ({failure})",
                    hint="the API is failing or slow; re-run later (a re-run picks up where this stopped)",
                )
            await asyncio.sleep(delay)

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ApiError(response.status_code, "the answer is not JSON", method, path,
                           kwargs.get("org")) from None

    # -- the calls ------------------------------------------------------------------
    async def my_organizations(self, token: Secret) -> list[dict[str, Any]]:
        body = await self._json("GET", "/auth/me/organizations", token=token)
        return list(body.get("organizations") or [])

    async def list_credentials(
        self, token: Secret, org: str, integration_name: str = "xai", page_size: int = PAGE_LIMIT
    ) -> list[dict[str, Any]]:
        """Every credential of one integration, following `offset` paging."""
        found: list[dict[str, Any]] = []
        seen: set[str] = set()
        offset = 0
        while True:
            body = await self._json(
                "GET",
                "/credentials",
                token=token,
                org=org,
                params={"integration_name": integration_name, "limit": page_size, "offset": offset},
            )
            page = list(body.get("credentials") or [])
            for item in page:
                # Guard against a record sliding across a page boundary during paging.
                if item.get("credential_id") not in seen:
                    seen.add(item.get("credential_id"))
                    found.append(item)
            offset += len(page)
            total = body.get("total_count")
            if len(page) < page_size or (isinstance(total, int) and offset >= total):
                return found

    async def get_credential(
        self, token: Secret, org: str, credential_id: str, *, include_masked: bool = False
    ) -> dict[str, Any]:
        return await self._json(
            "GET",
            f"/credentials/{credential_id}",
            token=token,
            org=org,
            params={"include_masked": "true" if include_masked else "false"},
        )

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
        return await self._json(
            "POST", "/credentials", token=token, org=org, json=body, replay_safe=False
        )

    async def update_credential(
        self, token: Secret, org: str, credential_id: str, *, display_name: str | None,
        metadata: dict[str, Any] | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if display_name is not None:
            body["display_name"] = display_name
        if metadata is not None:
            body["metadata"] = metadata
        return await self._json(
            "PUT", f"/credentials/{credential_id}", token=token, org=org, json=body
        )

    async def delete_credential(self, token: Secret, org: str, credential_id: str) -> bool:
        """True if deleted now, False if it was already gone (a retried DELETE's 404)."""
        try:
            await self.request("DELETE", f"/credentials/{credential_id}", token=token, org=org)
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def set_default(self, token: Secret, org: str, credential_id: str) -> dict[str, Any]:
        # Setting the same default twice is harmless, so retrying it is safe.
        return await self._json(
            "POST", f"/credentials/{credential_id}/set-default", token=token, org=org
        )

    async def test_key(
        self, token: Secret, org: str, key: Secret, base_url: str | None
    ) -> dict[str, Any]:
        auth_data: dict[str, Any] = {"api_key": key.reveal()}
        if base_url:
            auth_data["base_url"] = base_url
        body = {"integration_name": "xai", "auth_type": "api_key", "auth_data": auth_data}
        # Stores nothing, so a retry is harmless.
        return await self._json(
            "POST", "/credentials/test-temporary", token=token, org=org, json=body
        )

    async def test_stored(self, token: Secret, org: str, credential_id: str) -> dict[str, Any]:
        return await self._json(
            "POST", f"/credentials/{credential_id}/test", token=token, org=org
        )

    async def provider_detail(self, token: Secret, org: str, name: str = "xai") -> dict[str, Any]:
        return await self._json(
            "GET", f"/integrations/llm-providers/{name}", token=token, org=org
        )
