"""Several small httpx connection pools instead of one large one, used without a client.

Why shards: httpcore 1.0's connection pool does O(connections x requests) work, with
wake-up churn, every time it assigns a connection to a request (encode/httpcore#1035,
https://github.com/encode/httpcore/issues/1035). At 32 connections in one pool that held
the client at 100% CPU and ~350 requests/s; shards of 4 connections each, every request
going to the least busy shard, serve ~1,400/s (benchmarks/RESULTS.md). Remove the
sharding once the upstream issue is fixed and a single pool keeps up.

Why transports, not `httpx.AsyncClient`: everything a client adds on top of its
transport is something mxsync must not have or does itself -- redirects (never
followed: they would carry the secret on), cookies (never kept), environment proxies and
`.netrc` (the proxy comes only from `proxies.py`), auth flows, its own URL merging --
and it cost about a third of the CPU of each call. A request here is built once, with
the default headers and the time-out, and handed to the shard's transport as it is.

The caller's own concurrency gate must keep the number of requests in flight at most
`shards x POOL_SIZE`, so no shard ever queues inside httpcore.
"""

from __future__ import annotations

import asyncio
import math
import ssl
from typing import Any
from urllib.parse import urlencode

import httpx

POOL_SIZE = 4


class ShardedPool:
    """`send` like httpx.AsyncClient.send(stream=True), spread over small pools."""

    def __init__(self, base_url: str, *, parallelism: int, headers: dict[str, str],
                 proxy: str | None, timeout_s: float,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        """`transport` (for tests that play a server in-process) replaces the network, and
        with it the proxy and TLS: it is then the whole connection."""
        self._base_url = base_url.rstrip("/")
        self._headers = headers
        # Per step (connect, read, write, pool); the caller bounds the whole exchange.
        self._timeout = httpx.Timeout(timeout_s).as_dict()
        self._transports: list[httpx.AsyncBaseTransport]
        if transport is not None:
            self._transports = [transport]
        else:
            # One TLS context for all shards (loading the CA bundle costs ~16 ms each), and
            # none for plain http, which the clients allow to loopback only.
            tls: ssl.SSLContext | bool = (
                httpx.create_ssl_context() if base_url.startswith("https://") else False)
            self._transports = [
                httpx.AsyncHTTPTransport(
                    verify=tls, trust_env=False, proxy=proxy,
                    limits=httpx.Limits(max_connections=POOL_SIZE,
                                        max_keepalive_connections=POOL_SIZE))
                for _ in range(math.ceil(max(1, parallelism) / POOL_SIZE))
            ]
        self._busy = [0] * len(self._transports)

    def build_request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      json: Any = None, headers: dict[str, str] | None = None) -> httpx.Request:
        """`path` (already quoted) under the base URL, with the default headers; the query
        is encoded here so that httpx parses the URL once, not twice."""
        url = self._base_url + path
        if params:
            url += "?" + urlencode(params)
        return httpx.Request(method, url, json=json,
                             headers={**self._headers, **headers} if headers else self._headers,
                             extensions={"timeout": self._timeout})

    async def send(self, request: httpx.Request) -> tuple[httpx.Response, int]:
        """Send on the least busy shard; returns the streaming response and the shard to
        `release` once its body has been read or closed."""
        busy = self._busy
        index = min(range(len(busy)), key=busy.__getitem__) if len(busy) > 1 else 0
        busy[index] += 1
        try:
            response = await self._transports[index].handle_async_request(request)
        except BaseException:
            busy[index] -= 1
            raise
        response.request = request
        return response, index

    def release(self, index: int) -> None:
        self._busy[index] -= 1

    async def aclose(self) -> None:
        await asyncio.gather(*(transport.aclose() for transport in self._transports))
