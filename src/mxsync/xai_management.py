"""An async client for xAI's Management API: mint, list, update, disable and delete a team's API keys.

The contract is `shared/docs/xai-management-api.md`. The client holds a
*management key*, which can mint keys for a whole team, so it keeps the same
discipline as the ModuleX client, only stricter:

- the management key travels only in the `Authorization` header, sits in a
  `Secret`, and is scrubbed (by value and by pattern) from every error text;
  no log line carries a header or a body;
- redirects are never followed (one would carry the key to another host),
  plain http is refused anywhere but this machine and never goes through a
  proxy, and every exchange is bounded in time and size (body included);
- reads and idempotent writes (list, update, delete, propagation) are retried
  with capped, jittered backoff on 5xx and transport errors; a `429` is waited
  out as long as its `Retry-After` says (seconds or an HTTP date), within a
  total wait budget;
- a create is never replayed blindly: once the request may have reached xAI,
  an error or a lost answer raises `OutcomeUnknown`, because a replay could
  mint a second key. The caller resolves it by listing the team's keys by the
  name it gave (names identify owner, entry and attempt).

A minted key's secret comes back exactly once, in the create's answer; the
client wraps it in a `Secret` on the spot and keeps nothing else of it.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from mxsync import __version__
from mxsync.api import OutcomeUnknown, Unreachable
from mxsync.errors import MxsyncError
from mxsync.secrets import Secret, redact
from mxsync.urls import cleartext_to_remote

log = logging.getLogger("mxsync.xai")

DEFAULT_MANAGEMENT_URL = "https://management-api.x.ai"
DEFAULT_PAGE_SIZE = 100
MAX_ANSWER_BYTES = 1024 * 1024  # a page of 100 key objects is ~50 KB; more is a broken server
RETRY_STATUSES = frozenset({500, 502, 503, 504})
# Nothing reached the server: retrying these is safe even for a create.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

_HINTS = {
    400: "xAI refused the request: check the mint settings (name, acls, qps/qpm/tpm, expiry)",
    403: "a management key manages only the team(s) it was made for: check xai_management.team_id, "
         "or use that team's management key",
    404: "that API key does not exist (any more) at xAI",
    429: "xAI keeps rate-limiting this management key; re-run later",
}
_HINT_5XX = "xAI's Management API is failing; re-run later (a re-run picks up where this stopped)"


class XaiManagementError(MxsyncError):
    """xAI's Management API answered with an error status."""

    def __init__(self, status: int, detail: str, method: str, path: str, *, hint: str | None = None,
                 code: str | None = None) -> None:
        super().__init__(
            f"xAI Management API {method} {path} answered {status}: {detail}",
            hint=hint or _HINTS.get(status) or (_HINT_5XX if status >= 500 else None),
        )
        self.status = status
        self.detail = detail
        self.code = code


class MintedWithoutSecret(XaiManagementError):
    """A create succeeded but its answer held no secret: the key exists and must be deleted."""

    def __init__(self, key: XaiApiKey, method: str, path: str) -> None:
        super().__init__(
            200, f"the answer holds no apiKey for the new key {key.api_key_id}", method, path,
            hint="the key exists at xAI but can never be stored; delete it (mxsync does, on the "
                 "next apply) and report this to the mxsync maintainers",
        )
        self.key = key


@dataclass(frozen=True)
class ManagementRetry:
    """How hard to try. A 429 is waited out (its own budget), not counted as an attempt."""

    attempts: int = 6
    base_s: float = 0.2
    cap_s: float = 5.0
    rate_limit_wait_s: float = 600.0

    def backoff(self, attempt: int) -> float:
        return min(self.cap_s, self.base_s * (2**attempt)) * random.uniform(0.5, 1.0)


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 instant (any fraction length), in UTC; None when absent or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _int(value: Any) -> int | None:
    """qps/qpm come as numbers and tpm as a string; anything else reads as unset."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class XaiApiKey:
    """An API key as the Management API describes it. `secret` is set only on a fresh mint."""

    api_key_id: str
    name: str
    team_id: str
    redacted: str
    disabled: bool
    acls: tuple[str, ...]
    created_at: datetime | None
    modified_at: datetime | None
    expires_at: datetime | None
    qps: int | None = None
    qpm: int | None = None
    tpm: int | None = None
    user_id: str | None = None
    secret: Secret | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_wire(cls, body: Any) -> XaiApiKey:
        """Read a key object, ignoring fields this client does not know (the doc says: never rely
        on an optional one). `apiKey`, when there, goes straight into a `Secret`."""
        if not isinstance(body, dict) or not isinstance(body.get("apiKeyId"), str):
            raise ValueError("not a key object: no apiKeyId")
        secret = body.get("apiKey")
        acls = body.get("aclStrings", body.get("acls")) or []
        return cls(
            api_key_id=body["apiKeyId"],
            name=str(body.get("name") or ""),
            team_id=str(body.get("teamId") or ""),
            redacted=str(body.get("redactedApiKey") or ""),
            disabled=bool(body.get("disabled", False)),
            acls=tuple(str(a) for a in acls) if isinstance(acls, list) else (),
            created_at=parse_time(body.get("createTime")),
            modified_at=parse_time(body.get("modifyTime")),
            expires_at=parse_time(body.get("expireTime")),
            qps=_int(body.get("qps")),
            qpm=_int(body.get("qpm")),
            tpm=_int(body.get("tpm")),
            user_id=body.get("userId") if isinstance(body.get("userId"), str) else None,
            secret=Secret(secret) if isinstance(secret, str) and secret else None,
        )

    def age(self, now: datetime | None = None) -> timedelta | None:
        if self.created_at is None:
            return None
        return (now or datetime.now(UTC)) - self.created_at

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and (now or datetime.now(UTC)) >= self.expires_at

    def usable(self, now: datetime | None = None) -> bool:
        """Not disabled and not expired: what a rotation needs to know about an old key."""
        return not self.disabled and not self.expired(now)


def check_management_url(url: str) -> str:
    """Refuse to send a management key in clear text anywhere but this machine."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MxsyncError(
            f"xAI Management API URL {url!r} is not an http(s) URL",
            hint=f"set xai_management.url to e.g. {DEFAULT_MANAGEMENT_URL}",
        )
    if cleartext_to_remote(url):
        raise MxsyncError(
            f"refusing to send the xAI management key over plain http to {parts.hostname}",
            hint="use https://, or an emulator on a loopback address (127.0.0.1, localhost, ::1)",
        )
    return url.rstrip("/")


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` in either form the HTTP spec allows: seconds, or an HTTP date."""
    if value is None or not value.strip():
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class AnswerTooLarge(Exception):
    """An answer body past the client's bound; never read to the end."""


@dataclass(frozen=True)
class Answer:
    """One HTTP answer, read whole (within bounds) before the connection is given back."""

    status: int
    headers: httpx.Headers
    body: bytes

    def json(self) -> Any:
        return jsonlib.loads(self.body)

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def _segment(value: str) -> str:
    """An id as one path segment: `/`, `?`, `..` in an id can never reach another route."""
    return quote(value, safe="")


class XaiManagementClient:
    """One management key, one base URL; use as `async with`."""

    def __init__(
        self,
        token: Secret,
        base_url: str = DEFAULT_MANAGEMENT_URL,
        *,
        token_source: str = "the xAI management key",
        timeout_s: float = 30.0,
        retry: ManagementRetry | None = None,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`token_source` names where the key came from (e.g. `$XAI_MANAGEMENT_KEY`) for messages;
        `timeout_s` bounds each whole exchange, body included; `transport` is for tests that
        must play a misbehaving server."""
        self.base_url = check_management_url(base_url)
        self.retry = retry or ManagementRetry()
        self.timeout_s = timeout_s
        self.max_answer_bytes = max_answer_bytes
        self._token = token
        self._token_source = token_source
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,  # a redirect must never carry the management key elsewhere
            # Proxy variables only for https, where a proxy can only tunnel (CONNECT) and never
            # reads the key; plain http (allowed to loopback only) goes direct.
            trust_env=self.base_url.startswith("https://"),
            limits=httpx.Limits(max_connections=8, max_keepalive_connections=8),
            headers={"User-Agent": f"mxsync/{__version__}", "Accept": "application/json"},
            transport=transport,
        )
        self.calls = 0

    async def __aenter__(self) -> XaiManagementClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    def _detail(self, response: Answer) -> tuple[str, str | None]:
        """xAI's error text (`{"code", "error"}`, or FastAPI's `{"detail"}`), scrubbed."""
        code = None
        try:
            body = response.json()
        except ValueError:
            text = response.text()[:300] or f"HTTP {response.status}"
        else:
            if isinstance(body, dict):
                code = body.get("code") if isinstance(body.get("code"), str) else None
                text = str(body.get("error") or body.get("detail") or code or body)
            else:
                text = str(body)
        return self._scrub(text[:300]), (self._scrub(code) if code else None)

    def _scrub(self, text: str) -> str:
        return redact(text, extra=(self._token.reveal(),))

    def _error(self, status: int, detail: str, method: str, path: str, code: str | None
               ) -> XaiManagementError:
        if status == 401:
            return XaiManagementError(
                401, detail, method, path, code=code,
                hint=f"xAI rejected {self._token_source}: it must be a management key from the xAI "
                     "Console (Settings -> Management Keys), not an API key, and not revoked",
            )
        return XaiManagementError(status, detail, method, path, code=code)

    # -- the one place that sends --------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        replay_safe: bool = True,
    ) -> Answer:
        """Send with retries. `replay_safe=False` retries only what proves nothing happened:
        a connection that never opened, and a 429."""
        headers = {"Authorization": f"Bearer {self._token.reveal()}"}
        attempt = 0
        waited_s = 0.0
        while True:
            t0 = time.monotonic()
            delay: float
            try:
                self.calls += 1
                response = await self._exchange(method, path, params=params, json=json,
                                                headers=headers)
            except AnswerTooLarge:
                log.debug("xai %s %s -> answer over %d bytes, refused", method, path,
                          self.max_answer_bytes)
                if not replay_safe:
                    raise OutcomeUnknown(
                        f"xAI Management API {method} {path}: the answer was larger than "
                        f"{self.max_answer_bytes} bytes and was not read; the change may or may not "
                        "have been made",
                        hint="list the team's keys by name to find out; never repeat a create blindly",
                    ) from None
                raise XaiManagementError(
                    0, f"the answer was larger than {self.max_answer_bytes} bytes and was not read",
                    method, path, hint="check xai_management.url: it must be xAI's Management API",
                ) from None
            except (httpx.TransportError, TimeoutError) as exc:
                failure = type(exc).__name__
                log.debug("xai %s %s -> %s", method, path, failure)
                if not replay_safe and not isinstance(exc, _NOT_SENT):
                    raise OutcomeUnknown(
                        f"xAI Management API {method} {path}: no answer ({failure}); the change may "
                        "or may not have been made",
                        hint="list the team's keys by name to find out; never repeat a create blindly",
                    ) from None
                attempt += 1
                if attempt >= self.retry.attempts or (isinstance(exc, _NOT_SENT) and attempt >= 2):
                    raise Unreachable(
                        f"cannot reach xAI's Management API at {self.base_url} "
                        f"({method} {path}: {failure} after {attempt} tries)",
                        hint="check xai_management.url and the network; re-run later",
                    ) from None
                delay = self.retry.backoff(attempt - 1)
            else:
                status = response.status
                log.debug("xai %s %s -> %s (%.0f ms)", method, path, status,
                          (time.monotonic() - t0) * 1000)
                if status < 300:
                    return response
                if status < 400:
                    raise XaiManagementError(
                        status, "redirect refused (the management key is never sent on)", method, path,
                        hint="check xai_management.url: it must be the API's own address",
                    )
                detail, code = self._detail(response)
                if status == 429:
                    given = retry_after_s(response.headers.get("retry-after"))
                    delay = given if given is not None else self.retry.backoff(min(attempt, 5))
                    if waited_s + delay > self.retry.rate_limit_wait_s:
                        raise XaiManagementError(
                            429, f"{detail} (still limited after waiting {waited_s:.0f} s)", method,
                            path, code=code)
                    waited_s += delay
                    log.debug("xai %s %s rate limited; waiting %.1f s (%s)", method, path, delay,
                              "Retry-After" if given is not None else "backoff")
                    await asyncio.sleep(delay)
                    continue
                if status not in RETRY_STATUSES:
                    raise self._error(status, detail, method, path, code)
                if not replay_safe:
                    raise OutcomeUnknown(
                        f"xAI Management API {method} {path} answered {status}: {detail}; the change "
                        "may or may not have been made",
                        hint="list the team's keys by name to find out; never repeat a create blindly",
                    )
                attempt += 1
                if attempt >= self.retry.attempts:
                    raise self._error(status, detail, method, path, code)
                delay = self.retry.backoff(attempt - 1)
            log.debug("xai %s %s retry %d in %.2f s", method, path, attempt, delay)
            await asyncio.sleep(delay)

    async def _exchange(self, method: str, path: str, *, params: dict[str, Any] | None, json: Any,
                        headers: dict[str, str]) -> Answer:
        """One request and its whole answer, within `timeout_s` and `max_answer_bytes`: a server
        that trickles or floods can hold neither the run nor its memory."""
        async with asyncio.timeout(self.timeout_s), self._http.stream(
                method, path, params=params, json=json, headers=headers) as response:
            body = bytearray()
            if not 300 <= response.status_code < 400:  # a redirect's body is never read
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > self.max_answer_bytes:
                        raise AnswerTooLarge
            return Answer(response.status_code, response.headers, bytes(body))

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.request(method, path, **kwargs)
        if not response.body:
            return {}
        try:
            return response.json()
        except ValueError:
            raise XaiManagementError(response.status, "the answer is not JSON", method,
                                     path) from None

    def _key(self, body: Any, method: str, path: str) -> XaiApiKey:
        try:
            return XaiApiKey.from_wire(body)
        except ValueError:
            raise XaiManagementError(200, "the answer is not a key object (no apiKeyId)", method,
                                     path) from None

    # -- the calls ----------------------------------------------------------------------
    async def validate(self) -> list[str]:
        """Check the management key. Returns the team ids the answer names, if it names any
        (the answer's body is not part of the contract)."""
        body = await self._json("GET", "/auth/management-keys/validation")
        teams = body.get("teamIds") if isinstance(body, dict) else None
        return [str(t) for t in teams] if isinstance(teams, list) else []

    async def team_models(self, team_id: str) -> list[str]:
        """The model ids the team may use; 403 when this management key may not manage it."""
        body = await self._json("GET", f"/auth/teams/{_segment(team_id)}/models")
        models = body.get("models") if isinstance(body, dict) else None
        return [str(m["id"]) for m in models or [] if isinstance(m, dict) and "id" in m]

    async def create_key(
        self,
        team_id: str,
        *,
        name: str,
        acls: list[str],
        qps: int | None = None,
        qpm: int | None = None,
        tpm: int | None = None,
        expire_time: datetime | None = None,
    ) -> XaiApiKey:
        """Mint a key; its `secret` is set. Raises `OutcomeUnknown` when the key may exist anyway."""
        path = f"/auth/teams/{_segment(team_id)}/api-keys"
        body: dict[str, Any] = {"name": name, "acls": list(acls)}
        if qps is not None:
            body["qps"] = qps
        if qpm is not None:
            body["qpm"] = qpm
        if tpm is not None:
            body["tpm"] = str(tpm)
        if expire_time is not None:
            body["expireTime"] = expire_time.astimezone(UTC).isoformat().replace("+00:00", "Z")
        key = self._key(await self._json("POST", path, json=body, replay_safe=False), "POST", path)
        if key.secret is None:
            raise MintedWithoutSecret(key, "POST", path)
        return key

    async def list_keys(self, team_id: str, *, page_size: int = DEFAULT_PAGE_SIZE) -> list[XaiApiKey]:
        """Every key of the team, following `paginationToken` until it is absent or empty."""
        path = f"/auth/teams/{_segment(team_id)}/api-keys"
        found: dict[str, XaiApiKey] = {}
        seen_tokens: set[str] = set()
        token: str | None = None
        while True:
            params: dict[str, Any] = {"pageSize": page_size}
            if token:
                params["paginationToken"] = token
            body = await self._json("GET", path, params=params)
            items = body.get("apiKeys") if isinstance(body, dict) else None
            for item in items or []:
                key = self._key(item, "GET", path)
                found.setdefault(key.api_key_id, key)
            token = body.get("paginationToken") if isinstance(body, dict) else None
            if not token:
                return list(found.values())
            if token in seen_tokens:
                raise XaiManagementError(200, "the list's paginationToken repeats (paging would never "
                                         "end)", "GET", path, hint=_HINT_5XX)
            seen_tokens.add(token)

    async def find_keys(self, team_id: str, *, name_prefix: str) -> list[XaiApiKey]:
        """The team's keys whose name starts with `name_prefix`: how a lost mint is found."""
        return [k for k in await self.list_keys(team_id) if k.name.startswith(name_prefix)]

    async def get_key(self, team_id: str, api_key_id: str) -> XaiApiKey | None:
        """One key, by listing (the contract has no single-key read); None when it is gone."""
        for key in await self.list_keys(team_id):
            if key.api_key_id == api_key_id:
                return key
        return None

    async def update_key(
        self,
        api_key_id: str,
        *,
        name: str | None = None,
        acls: list[str] | None = None,
        qps: int | None = None,
        qpm: int | None = None,
        tpm: int | None = None,
        disabled: bool | None = None,
    ) -> XaiApiKey:
        """Change the given fields only (the `fieldMask` names exactly those). Safe to repeat."""
        fields: dict[str, Any] = {
            "name": name, "acls": list(acls) if acls is not None else None, "qps": qps, "qpm": qpm,
            "tpm": str(tpm) if tpm is not None else None, "disabled": disabled,
        }
        given = {k: v for k, v in fields.items() if v is not None}
        if not given:
            raise ValueError("update_key needs at least one field to change")
        path = f"/auth/api-keys/{_segment(api_key_id)}"
        body = {"apiKey": given, "fieldMask": ",".join(given)}
        return self._key(await self._json("PUT", path, json=body), "PUT", path)

    async def set_disabled(self, api_key_id: str, disabled: bool = True) -> XaiApiKey:
        return await self.update_key(api_key_id, disabled=disabled)

    async def delete_key(self, api_key_id: str) -> bool:
        """True if deleted now, False if it was already gone (a retried DELETE's 404)."""
        try:
            await self.request("DELETE", f"/auth/api-keys/{_segment(api_key_id)}")
        except XaiManagementError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def is_propagated(self, api_key_id: str) -> bool:
        body = await self._json("GET", f"/auth/api-keys/{_segment(api_key_id)}/propagation")
        return isinstance(body, dict) and body.get("propagated") is True

    async def wait_propagated(
        self,
        api_key_id: str,
        *,
        timeout_s: float = 120.0,
        interval_s: float = 1.0,
        on_wait: Callable[[float], None] | None = None,
    ) -> bool:
        """Poll until the key has propagated; False when `timeout_s` passes first.

        `on_wait(elapsed_s)` is called before each pause, for a progress line.
        """
        started = time.monotonic()
        while True:
            if await self.is_propagated(api_key_id):
                return True
            elapsed = time.monotonic() - started
            if elapsed >= timeout_s:
                return False
            if on_wait is not None:
                on_wait(elapsed)
            await asyncio.sleep(min(interval_s, max(0.0, timeout_s - elapsed)))
