"""Running mxsync's client against a hostile server from a synchronous test."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from mxsync.api import ModulexClient
from mxsync._http.retry import RetryPolicy

T = TypeVar("T")
# A token no redaction pattern knows: only the client's knowledge of the value can hide it.
CANARY_TOKEN = "zq7CANARYtok3n-Qx9vW2kLp8_rT5mZ"
CANARY_KEY = "xai-CANARYkeyAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
QUICK = RetryPolicy(attempts=2, base_s=0.01, cap_s=0.05)


def with_client(url: str, call: Callable[[ModulexClient], Awaitable[T]], **kwargs: Any) -> T:
    """`call(client)` on a fresh client; `retry` defaults to two quick tries."""
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
