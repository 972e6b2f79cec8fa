"""A small HTTP server that misbehaves on purpose, on loopback, in a thread of the test.

Written on raw asyncio streams rather than a framework, so that it can do what no
well-behaved server would: announce a gigabyte, send forever, drip a byte at a time,
compress a bomb, echo the caller's headers back, lie about `total_count`, or rate-limit
with any headers. A test gives it a `Handler` (one of the modes below, or its own), and
reads `server.seen` to count what arrived.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Seen:
    """One request as it arrived."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def raw(self) -> str:
        lines = [f"{self.method} {self.path}"] + [f"{k}: {v}" for k, v in self.headers.items()]
        return "\n".join(lines) + "\n\n" + self.body.decode("utf-8", "replace")


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    # Streamed instead of `body`: sent as they come, chunked unless a content-length is given.
    chunks: Callable[[], AsyncIterator[bytes]] | None = None


Handler = Callable[[Seen], Reply | Awaitable[Reply]]


def json_reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"content-type": "application/json", **(headers or {})},
                 json.dumps(data).encode())


class HostileServer:
    """`with HostileServer(handler) as server:` serves on `server.url` until the block ends."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.seen: list[Seen] = []
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def __enter__(self) -> HostileServer:
        self._thread.start()
        self._ready.wait()
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop)
        self._thread.join()

    def count(self, method: str, path: str) -> int:
        return sum(1 for s in self.seen if s.method == method and s.path == path)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", 0))
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()
        self._loop.call_later(0.05, self._loop.stop)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            while True:
                seen = await self._read(reader)
                if seen is None:
                    return
                self.seen.append(seen)
                reply = self.handler(seen)
                if not isinstance(reply, Reply):
                    reply = await reply
                await self._write(writer, reply)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> Seen | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        url = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        return Seen(method, url.path, query, headers, body)

    @staticmethod
    async def _write(writer: asyncio.StreamWriter, reply: Reply) -> None:
        headers = {k.lower(): v for k, v in reply.headers.items()}
        if reply.chunks is None:
            headers.setdefault("content-length", str(len(reply.body)))
        elif "content-length" not in headers:
            headers["transfer-encoding"] = "chunked"
        head = f"HTTP/1.1 {reply.status} X\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        writer.write(head.encode("latin-1"))
        if reply.chunks is None:
            writer.write(reply.body)
            await writer.drain()
            return
        chunked = headers.get("transfer-encoding") == "chunked"
        async for chunk in reply.chunks():
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            await writer.drain()
        if chunked:
            writer.write(b"0\r\n\r\n")
        await writer.drain()


# -- modes ------------------------------------------------------------------------------
def canned(replies: Iterable[Reply] | Callable[[Seen], Reply], then: Reply | None = None) -> Handler:
    """Replies in order (the last one, or `then`, repeated), or a function of the request."""
    if callable(replies):
        return replies
    queue = list(replies)

    def handle(_: Seen) -> Reply:
        if len(queue) > 1 or (queue and then is not None):
            return queue.pop(0)
        return queue[0] if queue else (then or Reply(204))

    return handle


def echo(status: int = 400) -> Handler:
    """Puts the whole request, headers and body, into the error's `detail`."""
    return lambda seen: json_reply({"detail": seen.raw()}, status)


def echo_text(status: int = 500) -> Handler:
    """The same, as a plain-text body (no JSON to pick a field from)."""
    return lambda seen: Reply(status, {"content-type": "text/plain"}, seen.raw().encode())


def huge_declared(size: int) -> Handler:
    """Announces `size` bytes and sends them, in 64 KB pieces."""
    async def chunks() -> AsyncIterator[bytes]:
        sent = 0
        while sent < size:
            piece = b"x" * min(65536, size - sent)
            sent += len(piece)
            yield piece

    return lambda _: Reply(200, {"content-type": "application/json", "content-length": str(size)},
                           chunks=chunks)


def endless() -> Handler:
    """A chunked JSON body that never ends."""
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"organizations": ['
        while True:
            yield b'{"id": "org-x", "role": "owner"}, ' * 1000
            await asyncio.sleep(0)

    return lambda _: Reply(200, {"content-type": "application/json"}, chunks=chunks)


def drip(interval_s: float = 0.1, status: int = 200) -> Handler:
    """Promises 10,000 bytes and sends one every `interval_s`: never a read time-out."""
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10_000):
            yield b" "
            await asyncio.sleep(interval_s)

    return lambda _: Reply(status, {"content-type": "application/json", "content-length": "10000"},
                           chunks=chunks)


def gzip_bomb(unpacked: int) -> Handler:
    """A few KB on the wire that unpack to `unpacked` bytes."""
    packed = gzip.compress(b"[" + b" " * unpacked + b"]", compresslevel=9)
    return lambda _: Reply(200, {"content-type": "application/json", "content-encoding": "gzip"},
                           packed)


class RateLimited:
    """A sliding window of `limit` calls per `window_s` per token, with X-RateLimit-* headers.

    `reset` is "relative" (seconds from now, fractional) or "epoch" (Unix seconds, rounded
    up); over the limit: 429 with `Retry-After` in seconds or as an HTTP date."""

    def __init__(self, limits: dict[str, int | None], window_s: float, *,
                 reset: str = "relative", retry_after: str = "seconds",
                 answer: Callable[[Seen], Reply] | None = None) -> None:
        self.limits = limits
        self.window_s = window_s
        self.reset = reset
        self.retry_after = retry_after
        self.answer = answer or (lambda _: json_reply({"organizations": []}))
        self.sent: dict[str, list[float]] = {}
        self.rejected = 0

    def __call__(self, seen: Seen) -> Reply:
        token = seen.headers.get("authorization", "").removeprefix("Bearer ")
        limit = self.limits.get(token)
        if limit is None:
            return self.answer(seen)
        now = time.monotonic()
        calls = [t for t in self.sent.get(token, []) if t > now - self.window_s]
        self.sent[token] = calls
        reset_in = (calls[0] + self.window_s - now) if calls else self.window_s
        if len(calls) >= limit:
            self.rejected += 1
            return json_reply({"detail": "Rate limit exceeded"}, 429,
                              {**self._headers(limit, 0, reset_in),
                               "retry-after": self._retry_after(reset_in)})
        calls.append(now)
        reset_in = calls[0] + self.window_s - now
        reply = self.answer(seen)
        reply.headers.update(self._headers(limit, limit - len(calls), reset_in))
        return reply

    def _headers(self, limit: int, remaining: int, reset_in: float) -> dict[str, str]:
        reset = (f"{reset_in:.3f}" if self.reset == "relative"
                 else str(int(time.time() + reset_in) + 1))
        return {"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": str(remaining),
                "x-ratelimit-reset": reset}

    def _retry_after(self, reset_in: float) -> str:
        if self.retry_after == "http-date":
            from email.utils import formatdate

            return formatdate(time.time() + reset_in + 1, usegmt=True)
        return f"{max(reset_in, 0.0):.3f}"
