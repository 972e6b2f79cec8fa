"""Running mxsync's clients against a hostile server from a synchronous test.

Both clients stand on the same HTTP core, so every attack runs against each of them: a
`Target` says how to open one client against the server and which of its calls are a
plain read, a paged listing, a create (never replayed) and a replay-safe write.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from mxsync._http.core import ClientStats
from mxsync._http.retry import RetryPolicy
from mxsync.api import ModulexClient
from mxsync.secrets import Secret
from mxsync.xai_management import XaiManagementClient
from tests.hostile.server import Reply, Seen, json_reply

T = TypeVar("T")
# A token no redaction pattern knows: only the client's knowledge of the value can hide it.
CANARY_TOKEN = "zq7CANARYtok3n-Qx9vW2kLp8_rT5mZ"
CANARY_KEY = "xai-CANARYkeyAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
QUICK = RetryPolicy(attempts=2, base_s=0.01, cap_s=0.05)
TOKEN, KEY = Secret(CANARY_TOKEN), Secret(CANARY_KEY)

Client = ModulexClient | XaiManagementClient
Call = Callable[[Any], Awaitable[Any]]


@dataclass(frozen=True)
class Target:
    """One client as the hostile suite attacks it."""

    name: str
    open: Callable[..., Client]  # (url, retry=, timeout_s=, max_bytes=, max_pages=, environ=)
    calls: dict[str, Call]  # "read", "list", "create", "write"
    endless_page: Callable[[Seen], Reply]  # a listing page that never lets the listing end


def _modulex(url: str, *, retry: RetryPolicy, timeout_s: float = 30.0, max_bytes: int | None = None,
             max_pages: int | None = None, environ: dict[str, str] | None = None) -> ModulexClient:
    extra: dict[str, Any] = {}
    if max_bytes is not None:
        extra["max_response_bytes"] = max_bytes
    if max_pages is not None:
        extra["max_pages"] = max_pages
    return ModulexClient(url, retry=retry, timeout_s=timeout_s, environ=environ or {}, **extra)


def _xai(url: str, *, retry: RetryPolicy, timeout_s: float = 30.0, max_bytes: int | None = None,
         max_pages: int | None = None, environ: dict[str, str] | None = None) -> XaiManagementClient:
    extra: dict[str, Any] = {}
    if max_bytes is not None:
        extra["max_answer_bytes"] = max_bytes
    if max_pages is not None:
        extra["max_pages"] = max_pages
    return XaiManagementClient(TOKEN, url, retry=retry, timeout_s=timeout_s, environ=environ or {},
                               **extra)


def _credential_page(seen: Seen) -> Reply:
    """One record a page, each new, and a total_count that is never reached."""
    offset = int(seen.query.get("offset", "0"))
    return json_reply({"credentials": [{"credential_id": f"c-{offset}", "integration_name": "xai",
                                  "auth_type": "api_key", "display_name": f"n{offset}"}],
                       "total_count": 10**9})


def _key_page(seen: Seen) -> Reply:
    """One key a page and a paginationToken never seen before."""
    n = int(seen.query.get("paginationToken", "t-0").removeprefix("t-")) + 1
    return Reply(200, {"content-type": "application/json"}, json.dumps({
        "apiKeys": [{"apiKeyId": f"k-{n}", "name": f"k{n}"}], "paginationToken": f"t-{n}"}).encode())


MODULEX = Target(
    name="modulex",
    open=_modulex,
    calls={
        "read": lambda c: c.my_organizations(TOKEN),
        "list": lambda c: c.list_credentials(TOKEN, "org-a"),
        "create": lambda c: c.create_credential(TOKEN, "org-a", key=KEY, base_url=None,
                                                display_name="n", metadata={}, make_default=False,
                                                expires_at=None),
        "write": lambda c: c.test_key(TOKEN, "org-a", KEY, None),
    },
    endless_page=_credential_page,
)
XAI = Target(
    name="xai-management",
    open=_xai,
    calls={
        "read": lambda c: c.validate(),
        "list": lambda c: c.list_keys("team-a"),
        "create": lambda c: c.create_key("team-a", name="mxsync/o/e/1", acls=["api-key:model:*"]),
        "write": lambda c: c.update_key("k-1", name="renamed", disabled=True),
    },
    endless_page=_key_page,
)
TARGETS = {t.name: t for t in (MODULEX, XAI)}


def with_client(url: str, call: Callable[[ModulexClient], Awaitable[T]], **kwargs: Any) -> T:
    """`call(client)` on a fresh ModuleX client; `retry` defaults to two quick tries."""
    kwargs.setdefault("retry", QUICK)
    kwargs.setdefault("environ", {})

    async def go() -> T:
        async with ModulexClient(url, **kwargs) as client:
            return await call(client)

    return asyncio.run(go())


def outcome(url: str, call: Callable[[ModulexClient], Awaitable[Any]], **kwargs: Any) -> BaseException:
    """The exception `call` ends in (the test fails if it returns)."""
    try:
        result = with_client(url, call, **kwargs)
    except BaseException as exc:  # the test inspects whatever it was
        return exc
    raise AssertionError(f"expected an error, got {result!r}")


def attack(target: Target, url: str, call: Call, **kwargs: Any) -> tuple[BaseException, ClientStats]:
    """The exception `call` on a fresh `target` client ends in, and that client's counts of
    calls and of the waits it chose (the test fails if the call returns)."""
    kwargs.setdefault("retry", QUICK)
    opened: list[Client] = []

    async def go() -> Any:
        opened.append(target.open(url, **kwargs))
        async with opened[0] as client:
            return await call(client)

    try:
        result = asyncio.run(go())
    except BaseException as exc:  # the test inspects whatever it was
        return exc, opened[0].stats
    raise AssertionError(f"expected an error, got {result!r}")
