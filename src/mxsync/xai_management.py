"""An async client for xAI's Management API: mint, list, update, disable and delete a team's API keys.

The client holds a *management key*, which can mint keys for a whole team. Its HTTP
policy is `mxsync._http`'s, the same as the ModuleX client's: the key travels only in the
`Authorization` header of an https request (plain http to this machine only, never
through a proxy; redirects never followed), every exchange is bounded in time and size
(compressed and unpacked), retries and their waits are `_http.retry`'s pure decision
(a `429`'s `Retry-After` is waited out, never less than a floor, within a total), a
listing must end (`_http.paging`), and error texts are the server's words with the key
redacted. This module adds what is the Management API's own:

- a create is never replayed blindly: once the request may have reached xAI, an error or
  a lost answer raises `OutcomeUnknown`, because a replay could mint a second key. The
  caller resolves it by listing the team's keys by the name it gave (names identify
  owner, entry and attempt);
- a minted key's secret comes back exactly once, in the create's answer; the client
  wraps it in a `Secret` on the spot and keeps nothing else of it;
- answers are read tolerantly: unknown fields are ignored, optional ones never relied on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from mxsync import __version__, answers
from mxsync._http import error_text
from mxsync._http.core import Answer, CallFailed, HttpCore
from mxsync._http.error_text import reach_hint
from mxsync._http.guard import check_url
from mxsync._http.paging import PageGuard, PagingError
from mxsync._http.retry import Failure, Raise, RetryPolicy, is_replay_safe
from mxsync.api_errors import OutcomeUnknown, Unreachable
from mxsync.errors import MxsyncError
from mxsync.secrets import Secret

log = logging.getLogger("mxsync.xai")

DEFAULT_MANAGEMENT_URL = "https://management-api.x.ai"
DEFAULT_PAGE_SIZE = 100
MAX_ANSWER_BYTES = 1024 * 1024  # a page of 100 key objects is ~50 KB; more is a broken server
MAX_PAGES = 1000  # 100,000 keys at 100 a page: beyond that a server is not ending the list
PARALLELISM = 8

_HINTS = {
    400: "xAI refused the request: check the mint settings (name, acls, qps/qpm/tpm, expiry)",
    403: "a management key manages only the team(s) it was made for: check xai_management.team_id, "
         "or use that team's management key",
    404: "that API key does not exist (any more) at xAI",
    429: "xAI keeps rate-limiting this management key; re-run later",
}
_HINT_5XX = "xAI's Management API is failing; re-run later (a re-run is safe: apply converges)"
_HINT_BY_NAME = "list the team's keys by name to find out; never repeat a create blindly"
_HINT_URL = "check xai_management.url: it must be xAI's Management API"


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
    return check_url(
        url, what="xAI Management API URL", secret="the xAI management key",
        setting_hint=f"set xai_management.url to e.g. {DEFAULT_MANAGEMENT_URL}",
        secret_hint="the management key comes from its variable (xai_management.key_env)")


@dataclass(frozen=True)
class ManagementKeyInfo:
    """What the validation call says about the management key itself.

    xAI publishes `{apiKeyId, teamId, scope: "SCOPE_TEAM", scopeId, name}` (a team-scoped
    key names its team in `teamId`/`scopeId`); older answers (the emulator's first shape)
    were `{valid, teamIds}`. Both are read; every field is optional."""

    team_ids: tuple[str, ...]
    api_key_id: str | None = None
    name: str | None = None
    scope: str | None = None

    @classmethod
    def from_wire(cls, body: Any) -> ManagementKeyInfo:
        if not isinstance(body, dict):
            return cls(team_ids=())
        teams: list[str] = []
        listed = body.get("teamIds")
        candidates = [*(listed if isinstance(listed, list) else []), body.get("teamId")]
        if body.get("scope") == "SCOPE_TEAM":
            candidates.append(body.get("scopeId"))
        for team in candidates:
            if isinstance(team, str) and team and team not in teams:
                teams.append(team)

        def text(name: str) -> str | None:
            value = body.get(name)
            return value if isinstance(value, str) and value else None

        return cls(team_ids=tuple(teams), api_key_id=text("apiKeyId"), name=text("name"),
                   scope=text("scope"))


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
        retry: RetryPolicy | None = None,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        max_pages: int = MAX_PAGES,
        environ: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`token_source` names where the key came from (e.g. `$XAI_MANAGEMENT_KEY`) for messages;
        `timeout_s` bounds each whole exchange, body included; `environ` is where proxy
        variables are read (default: os.environ); `transport` replaces the network (tests
        that play a misbehaving server in-process)."""
        self.base_url = check_management_url(base_url)
        self.retry = retry or RetryPolicy()
        self.timeout_s = timeout_s
        self.max_answer_bytes = max_answer_bytes
        self.max_pages = max_pages
        self._token = token
        self._token_source = token_source
        self._core = HttpCore(
            self.base_url, parallelism=PARALLELISM, timeout_s=timeout_s, retry=self.retry,
            max_response_bytes=max_answer_bytes, log=log, title="xAI Management API", name="xai ",
            transport=transport,
            environ=os.environ if environ is None else environ,
            user_agent=f"mxsync/{__version__}")
        self.proxy = self._core.proxy
        self.stats = self._core.stats
        # One key, one pace: a 429 to one call holds every call of this key.
        self._limiter = self._core.limiter("the xAI management key")

    @property
    def calls(self) -> int:
        """Exchanges sent so far, retries included."""
        return self.stats.calls

    async def __aenter__(self) -> XaiManagementClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._core.aclose()

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
        replay_safe: bool | None = None,
    ) -> Answer:
        """Send with retries. `replay_safe=False` retries only what proves nothing happened:
        a connection that never opened, and a 429."""
        revealed = self._token.reveal()
        try:
            return await self._core.send(
                method, path, headers={"Authorization": f"Bearer {revealed}"},
                limiter=self._limiter, hidden=(revealed,), params=params, json=json,
                replay_safe=replay_safe)
        except CallFailed as failed:
            raise self._failure(failed, method, path, replay_safe) from None

    def _failure(self, failed: CallFailed, method: str, path: str, replay_safe: bool | None
                 ) -> MxsyncError:
        """The core's verdict as the Management API's own error."""
        got, status = failed.got, failed.got.status
        where = f"xAI Management API {method} {path}"
        if failed.error is None:  # the body was refused
            if status is not None and 200 <= status < 300 and not is_replay_safe(method, replay_safe):
                return OutcomeUnknown(f"{where}: answered {status}, but {got.refused}; the change "
                                      "may or may not have been made", hint=_HINT_BY_NAME)
            return XaiManagementError(status or 0, str(got.refused), method, path, hint=_HINT_URL)
        if failed.error is Raise.REDIRECT:
            return XaiManagementError(
                status or 0, "redirect refused (the management key is never sent on)", method, path,
                hint="check xai_management.url: it must be the API's own address")
        if failed.error is Raise.OUTCOME_UNKNOWN:
            said = f"answered {status}: {failed.detail}" if status is not None else failed.why
            return OutcomeUnknown(f"{where}: {said}; the change may or may not have been made",
                                  hint=_HINT_BY_NAME)
        if status is not None:
            code = error_text.error_code(got.body, (self._token.reveal(),))
            retried = failed.error is Raise.WAIT_TOO_LONG or failed.attempts > 1
            detail = f"{failed.detail} ({failed.why})" if retried else failed.detail
            return self._error(status, detail, method, path, code)
        if got.failure is Failure.NOT_SENT:
            return Unreachable(f"cannot reach xAI's Management API at {self.base_url} "
                               f"({method} {path}: {got.failure_text}"
                               f"{'; through ' + self._core.describe_proxy() if self.proxy else ''})",
                               hint=reach_hint(got.failure_kind, self.base_url,
                                               "xai_management.url / --management-url",
                                               "xAI's Management API (or `mxsync emulator`, "
                                               "which serves it under /xai-management)",
                                               "check xai_management.url, the network and "
                                               "HTTPS_PROXY/NO_PROXY"))
        return Unreachable(f"{where}: gave up after {failed.attempts} tries ({got.failure_text})",
                           hint="xAI's Management API is failing or slow; re-run later")

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The answer's JSON object (`{}` for an empty body): every Management API answer is an
        object, and anything else is an error, never read as "nothing there" (a listing
        read as empty would have mxsync mint a second key)."""
        answer = await self.request(method, path, **kwargs)
        if not answer.body:
            return {}
        try:
            return answers.obj(answers.parse_json(answer.body))
        except answers.ShapeError as exc:
            if not is_replay_safe(method, kwargs.get("replay_safe")):
                raise OutcomeUnknown(f"xAI Management API {method} {path}: answered "
                                     f"{answer.status}, but {exc}; the change may or may not "
                                     "have been made", hint=_HINT_BY_NAME) from None
            raise XaiManagementError(answer.status, str(exc), method, path,
                                     hint=_HINT_URL) from None

    def _key(self, body: Any, method: str, path: str) -> XaiApiKey:
        """A key object; for a POST (create, rotate) a 200 without one may still have made
        a key, so that is `OutcomeUnknown`, resolved by listing the team's keys by name."""
        try:
            return XaiApiKey.from_wire(body)
        except ValueError:
            if method == "POST":
                raise OutcomeUnknown(f"xAI Management API {method} {path}: answered 200, but not "
                                     "with a key object (no apiKeyId); the change may or may "
                                     "not have been made", hint=_HINT_BY_NAME) from None
            raise XaiManagementError(200, "the answer is not a key object (no apiKeyId)", method,
                                     path, hint=_HINT_URL) from None

    # -- the calls ----------------------------------------------------------------------
    async def validate(self) -> ManagementKeyInfo:
        """Check the management key: what it is and which team(s) it names, as far as the
        answer says (xAI's published shape and the older `{valid, teamIds}` both read).
        A 200 that says `valid: false` is a rejection all the same."""
        path = "/auth/management-keys/validation"
        body = await self._json("GET", path)
        if isinstance(body, dict) and body.get("valid") is False:
            raise self._error(401, "the answer says the management key is not valid", "GET",
                              path, None)
        return ManagementKeyInfo.from_wire(body)

    async def team_models(self, team_id: str) -> list[str]:
        """The model ids the team may use; 403 when this management key may not manage it."""
        body = await self._json("GET", f"/auth/teams/{_segment(team_id)}/models")
        models = body.get("models") if isinstance(body, dict) else None
        return [str(m["id"]) for m in models or [] if isinstance(m, dict) and "id" in m]

    async def team_endpoints(self, team_id: str) -> list[str]:
        """The endpoint names a key's ACL may grant (`api-key:endpoint:<name>`).

        The answer's shape is assumed (`{endpoints: [{name}]}`; no public source fixes it),
        so bare strings in the list are read too and anything else is skipped."""
        body = await self._json("GET", f"/auth/teams/{_segment(team_id)}/endpoints")
        listed = body.get("endpoints") if isinstance(body, dict) else None
        names = [e.get("name") if isinstance(e, dict) else e for e in listed or []]
        return [n for n in names if isinstance(n, str) and n]

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
        pages = PageGuard(self.max_pages)
        token: str | None = None
        while True:
            try:
                pages.next(token)
            except PagingError as exc:
                raise XaiManagementError(200, f"{exc}; {len(found):,} keys read so far", "GET",
                                         path, hint=_HINT_5XX) from None
            params: dict[str, Any] = {"pageSize": page_size}
            if token:
                params["paginationToken"] = token
            body = await self._json("GET", path, params=params)
            items = body.get("apiKeys") or []  # an empty list may be left out altogether
            if not isinstance(items, list):
                raise XaiManagementError(200, "the answer's apiKeys is not a list", "GET", path,
                                         hint=_HINT_URL)
            for item in items:
                key = self._key(item, "GET", path)
                found.setdefault(key.api_key_id, key)
            next_token = body.get("paginationToken")
            if not next_token:
                return list(found.values())
            token = str(next_token)

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

    async def rotate_key(self, api_key_id: str) -> XaiApiKey:
        """A new secret for the same key id; its `secret` is set.

        Assumed from public endpoint registries (`POST /auth/api-keys/{id}/rotate`, the key
        object with the new `apiKey`); no xAI reference fixes it. Never replayed blindly: a
        rotate whose answer is lost has replaced the secret with one nobody holds, so it
        raises `OutcomeUnknown`. mxsync's rotation mints a new key instead (that gives an
        overlap window); this is here for callers that prefer the same key id."""
        path = f"/auth/api-keys/{_segment(api_key_id)}/rotate"
        key = self._key(await self._json("POST", path, replay_safe=False), "POST", path)
        if key.secret is None:
            raise XaiManagementError(200, f"the answer holds no apiKey: the new secret of "
                                     f"{key.api_key_id} is lost", "POST", path,
                                     hint="rotate the key again, or delete it")
        return key

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
