"""Latency, fault injection and call counting, as an ASGI layer around the API.

It sits outside FastAPI so that a fault can do what a real network does: answer
with an error before the service sees the request, close the connection with no
answer (`reset`), commit a change and then lose the answer (`lost-response`),
hold an answer back until the client gives up (`timeout`), or hold a write back
before the service sees it, so that it lands after the client gave up (`late`, what a
proxy that holds requests does).

Faults can be set for the whole server (`--fault`) or, at run time through
`POST /_emulator/faults`, for one org only, so that one shared emulator can serve
a fault test and a clean test side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = ("500", "502", "503", "429", "reset", "timeout", "lost-response", "late")
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_STATUS_TEXT = {
    "500": "Internal server error",
    "502": "Bad gateway: upstream failure",
    "503": "Service temporarily unavailable",
    "429": "Rate limit exceeded, retry later",
}
# Routes outside the ModuleX contract: never delayed, never faulted.
UNTOUCHED_PREFIXES = ("/system/health", "/_emulator", "/v1/")


def parse_fault(text: str) -> tuple[str, float]:
    """`KIND:RATE`, as given to `--fault`."""
    kind, sep, rate_text = text.partition(":")
    if not sep or kind not in FAULT_KINDS:
        raise ValueError(f"fault must be KIND:RATE with KIND one of {', '.join(FAULT_KINDS)}")
    try:
        rate = float(rate_text)
    except ValueError:
        raise ValueError(f"fault rate {rate_text!r} is not a number (KIND:RATE, e.g. 503:0.2)") from None
    check_rates({kind: rate})
    return kind, rate


def check_rates(rates: dict[str, float]) -> None:
    """One draw per request picks at most one fault, so the rates share one unit."""
    unknown = set(rates) - set(FAULT_KINDS)
    if unknown:
        raise ValueError(f"unknown fault kinds: {', '.join(sorted(unknown))} "
                         f"(known: {', '.join(FAULT_KINDS)})")
    for kind, rate in rates.items():
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate {kind}:{rate:g} must be between 0 and 1")
    total = sum(rates.values())
    if total > 1.0:
        shown = ", ".join(f"{k}:{v:g}" for k, v in rates.items())
        raise ValueError(f"the fault rates add up to {total:g} ({shown}), more than 1: "
                         "each request draws at most one fault, so lower them")


@dataclass
class FaultPlan:
    rates: dict[str, float]
    seed: int | None = None
    hold_s: float = 30.0
    # Only requests to these routes (`POST /credentials`, as in /_emulator/stats) draw a
    # fault; None: every route. Lets a test aim at one call, e.g. late creates only.
    routes: frozenset[str] | None = None
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        check_rates(self.rates)
        self.rng = random.Random(self.seed)

    def draw(self, method: str, route: str = "") -> str | None:
        if self.routes is not None and route not in self.routes:
            return None
        roll = self.rng.random()
        edge = 0.0
        for kind in FAULT_KINDS:
            edge += self.rates.get(kind, 0.0)
            if roll < edge:
                # Losing or delaying a read changes nothing; treat it as no fault.
                if kind in ("lost-response", "late") and method not in MUTATING:
                    return None
                return kind
        return None


@dataclass
class Stats:
    routes: Counter[str] = field(default_factory=Counter)
    orgs: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)  # answers sent, by HTTP status
    xai_calls: int = 0

    def snapshot(self) -> dict[str, Any]:
        return {
            "total": sum(self.routes.values()),
            "routes": dict(sorted(self.routes.items())),
            "orgs": dict(sorted(self.orgs.items())),
            "faults": dict(sorted(self.faults.items())),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "xai_calls": self.xai_calls,
        }

    def reset(self) -> None:
        self.routes.clear()
        self.orgs.clear()
        self.faults.clear()
        self.statuses.clear()
        self.xai_calls = 0


class FaultLayer:
    """The ASGI app the server runs: counts, delays and faults, then calls the API."""

    def __init__(self, app: Any, latency_ms: float = 0.0, plan: FaultPlan | None = None,
                 routes: list[Any] | None = None,
                 scope_of: Callable[[dict[str, Any]], str | None] | None = None) -> None:
        self.app = app
        # Who a request belongs to when it carries no org header (xAI Management API: its team).
        self.scope_of = scope_of
        self.latency_s = latency_ms / 1000.0
        self.global_plan = plan
        self.org_plans: dict[str, FaultPlan] = {}
        self.stats = Stats()
        # The API's routes, whose templates key the stats (`GET /credentials/{credential_id}`).
        self._routes = [r for r in (routes or []) if hasattr(r, "path_format")]

    def template(self, scope: dict[str, Any]) -> str:
        from starlette.routing import Match

        for route in self._routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return route.path_format
        return scope["path"]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNTOUCHED_PREFIXES):
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        org = _header(scope, b"x-organization-id") or (self.scope_of and self.scope_of(scope))
        route = f"{method} {self.template(scope)}"
        self.stats.routes[route] += 1
        if org:
            self.stats.orgs[org] += 1
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        plan = self.org_plans.get(org or "") or self.global_plan
        kind = plan.draw(method, route) if plan else None
        statuses = self.stats.statuses
        if kind is None:
            async def counted(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    statuses[message["status"]] += 1
                await send(message)

            await self.app(scope, receive, counted)
            return
        self.stats.faults[kind] += 1
        if kind in _STATUS_TEXT:
            statuses[int(kind)] += 1
            await _answer_error(send, int(kind), _STATUS_TEXT[kind],
                                xai=scope["path"].startswith("/xai-management"))
        elif kind == "reset":
            await _drop_connection(send, receive)
        elif kind == "lost-response":
            await self.app(scope, receive, _discard)
            await _drop_connection(send, receive)
        elif kind == "late":  # the service sees the write only after the hold
            body = await _read_body(receive)
            await asyncio.sleep(plan.hold_s if plan else 30.0)

            async def replayed() -> dict[str, Any]:
                return {"type": "http.request", "body": body, "more_body": False}

            async def maybe_gone(message: dict[str, Any]) -> None:
                with contextlib.suppress(Exception):  # the client may have given up long ago
                    await send(message)

            await self.app(scope, replayed, maybe_gone)
        else:  # timeout: the change happens, the answer comes too late
            held: list[dict[str, Any]] = []

            async def hold(message: dict[str, Any]) -> None:
                held.append(message)

            await self.app(scope, receive, hold)
            await asyncio.sleep(plan.hold_s if plan else 30.0)
            for message in held:
                if message["type"] == "http.response.start":
                    statuses[message["status"]] += 1
                await send(message)


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


async def _discard(message: dict[str, Any]) -> None:
    return None


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _answer_error(send: Any, status: int, detail: str, xai: bool = False) -> None:
    """FastAPI's `{"detail"}`, or xAI's `{"code", "error"}` on the Management API's routes."""
    body = json.dumps({"code": detail, "error": detail} if xai else {"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 429:
        headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _drop_connection(send: Any, receive: Any) -> None:
    """Close the TCP connection with no answer, as a crashed proxy would.

    ASGI has no word for this, so the transport is taken from uvicorn's h11
    request cycle (the server pins `http="h11"`). Waiting for the disconnect
    event afterwards keeps uvicorn from answering 500 on a dead socket.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("this server cannot drop connections; run the emulator with uvicorn h11")
    transport.abort()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(receive(), timeout=1.0)
