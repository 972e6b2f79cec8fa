"""Several small httpx connection pools instead of one large one.

Why: httpcore 1.0's connection pool does O(connections x requests) work, with wake-up
churn, every time it assigns a connection to a request (encode/httpcore#1035,
https://github.com/encode/httpcore/issues/1035). At 32 connections in one pool that held
the client at 100% CPU and ~350 requests/s; shards of 4 connections each, every request
going to the least busy shard, serve ~1,400/s (benchmarks/RESULTS.md). Remove this
module once the upstream issue is fixed and a single pool keeps up.

The caller's own concurrency gate must keep the number of requests in flight at most
`shards x POOL_SIZE`, so no shard ever queues inside httpcore.
"""

from __future__ import annotations

import asyncio
import math
import ssl
from typing import Any

import httpx

POOL_SIZE = 4


class ShardedPool:
    """`send` like httpx.AsyncClient.send(stream=True), spread over small pools."""

    def __init__(self, base_url: str, *, parallelism: int, headers: dict[str, str],
                 proxy: str | None, timeout_s: float,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        """`transport` (for tests that play a server in-process) replaces the network, and
        with it the proxy and TLS: it is then the whole connection."""
        # One TLS context for all shards (loading the CA bundle costs ~16 ms each), and none
        # for plain http, which the client allows to loopback only.
        tls: ssl.SSLContext | bool = (
            httpx.create_ssl_context() if base_url.startswith("https://") and transport is None
            else False)
        self._pools = [
            httpx.AsyncClient(
                base_url=base_url,
                timeout=httpx.Timeout(timeout_s),  # per step; the caller bounds the whole
                follow_redirects=False,  # a redirect must never carry the token elsewhere
                verify=tls,
                # Proxies come only from the client's own policy, never from the environment
                # behind its back; `.netrc` is not read either.
                trust_env=False,
                proxy=proxy if transport is None else None,
                transport=transport,
                limits=httpx.Limits(max_connections=POOL_SIZE,
                                    max_keepalive_connections=POOL_SIZE),
                headers=headers,
            )
            for _ in range(math.ceil(max(1, parallelism) / POOL_SIZE))
        ]
        self._busy = [0] * len(self._pools)

    def build_request(self, method: str, path: str, **kwargs: Any) -> httpx.Request:
        return self._pools[0].build_request(method, path, **kwargs)

    async def send(self, request: httpx.Request) -> tuple[httpx.Response, int]:
        """Send on the least busy shard; returns the streaming response and the shard to
        `release` once its body has been read or closed."""
        index = min(range(len(self._pools)), key=self._busy.__getitem__)
        self._busy[index] += 1
        try:
            return await self._pools[index].send(request, stream=True), index
        except BaseException:
            self._busy[index] -= 1
            raise

    def release(self, index: int) -> None:
        self._busy[index] -= 1

    async def aclose(self) -> None:
        await asyncio.gather(*(pool.aclose() for pool in self._pools))
