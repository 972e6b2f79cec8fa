"""Per-token rate limits as the service has them, as an ASGI layer in front of the API.

Every ModuleX API key has its own `rate_limit_per_minute` (60 unless set, as on the
service; `mxsync emulator --rate-limit 0` turns the default off): at most that many requests
in any window (60 s on the real service; shorter in tests through `--rate-window-s` or
a user's `rate_limit_window_s`). The window slides: each accepted request counts until
`window` seconds after it was made. A refused request (429) does not count, so a client
that waits as told gets in. Tokens without a limit pay one dict lookup and nothing more
(no header parsing at all while no token in the world has a limit).

Limited answers carry `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
`X-RateLimit-Reset`: the Unix time (seconds, rounded up) at which the oldest request in
the window leaves it, i.e. when the next slot frees. A 429 carries `Retry-After` in
seconds, or as an HTTP date (`--retry-after-format http-date`).
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, Literal

from mxsync.emulator.store import World

# Not ModuleX routes (health is public, `/_emulator` is the test control plane, `/v1/`
# is the xAI stand-in): never counted.
EXEMPT_PREFIXES = ("/system/health", "/_emulator", "/v1/")
RETRY_AFTER_FORMATS = ("seconds", "http-date")


@dataclass
class RateLimitOptions:
    # For tokens whose user has no `rate_limit_per_minute`; None: unlimited. The service's
    # default is 60 (`EmulatorOptions.rate_limit`); `--rate-limit 0` gives None.
    per_minute: int | None = None
    window_s: float = 60.0  # for users without `rate_limit_window_s`
    retry_after_format: Literal["seconds", "http-date"] = "seconds"

    def __post_init__(self) -> None:
        if self.per_minute is not None and self.per_minute < 1:
            raise ValueError("the rate limit must be at least 1 request per window")
        if not self.window_s > 0:
            raise ValueError("the rate-limit window must be longer than 0 seconds")
        if self.retry_after_format not in RETRY_AFTER_FORMATS:
            raise ValueError(f"Retry-After format must be one of {', '.join(RETRY_AFTER_FORMATS)}")


@dataclass
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_unix: int  # when the oldest request in the window leaves it
    retry_after_s: int  # 0 when allowed
    window_s: float


@dataclass
class SlidingWindow:
    """Accepted requests per token, as monotonic times, oldest first."""

    hits: dict[str, deque[float]] = field(default_factory=dict)

    def hit(self, token: str, limit: int, window_s: float, now: float | None = None) -> Decision:
        now = time.monotonic() if now is None else now
        hits = self.hits.setdefault(token, deque())
        while hits and hits[0] <= now - window_s:
            hits.popleft()
        allowed = len(hits) < limit
        if allowed:
            hits.append(now)
        frees_in = hits[0] + window_s - now if hits else window_s
        return Decision(
            allowed=allowed,
            limit=limit,
            remaining=max(0, limit - len(hits)),
            reset_unix=math.ceil(time.time() + frees_in),
            retry_after_s=0 if allowed else max(1, math.ceil(frees_in)),
            window_s=window_s,
        )


class RateLimitLayer:
    """Counts each request of a limited token; answers 429 past the limit."""

    def __init__(self, app: Any, world: World, options: RateLimitOptions) -> None:
        self.app = app
        self.world = world
        self.options = options
        self.window = SlidingWindow()

    def _limit_of(self, scope: dict[str, Any]) -> tuple[str, int, float] | None:
        if self.options.per_minute is None and not self.world.has_rate_limits:
            return None
        token = api_key = None
        for key, value in scope.get("headers", []):
            if key == b"authorization" and token is None:
                scheme, _, rest = value.decode("latin-1").partition(" ")
                token = rest.strip() if scheme.lower() == "bearer" else ""
            elif key == b"x-api-key" and api_key is None:
                api_key = value.decode("latin-1").strip()
        if token is None:  # as the API reads it: Authorization first, else X-API-KEY
            token = api_key
        # An unknown token is not limited: it gets its 401 from the API.
        user = self.world.users.get(token) if token else None
        if user is None or token is None:
            return None
        limit = user.rate_limit_per_minute or self.options.per_minute
        if limit is None:
            return None
        return token, limit, user.rate_limit_window_s or self.options.window_s

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        limited = self._limit_of(scope)
        if limited is None:
            await self.app(scope, receive, send)
            return
        decision = self.window.hit(*limited)
        headers = [
            (b"x-ratelimit-limit", str(decision.limit).encode()),
            (b"x-ratelimit-remaining", str(decision.remaining).encode()),
            (b"x-ratelimit-reset", str(decision.reset_unix).encode()),
        ]
        if not decision.allowed:
            await self._refuse(send, decision, headers)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _refuse(self, send: Any, decision: Decision, headers: list[tuple[bytes, bytes]]) -> None:
        if self.options.retry_after_format == "http-date":
            retry_after = formatdate(math.ceil(time.time()) + decision.retry_after_s, usegmt=True)
        else:
            retry_after = str(decision.retry_after_s)
        body = json.dumps({
            "detail": f"Rate limit exceeded: this API key may make {decision.limit} requests "
                      f"per {decision.window_s:g} s. Retry after {decision.retry_after_s} s."
        }).encode()
        await send({"type": "http.response.start", "status": 429, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", retry_after.encode()),
            *headers,
        ]})
        await send({"type": "http.response.body", "body": body})
