"""Reading an answer's body without trusting its size: counted, capped, decoded by hand.

httpx would decompress a whole network chunk at once, so a gzip bomb of 64 KB could
become 64 MB before anyone counted. Here the raw (compressed) bytes are counted as they
arrive and the decompressor is asked for at most what is left under the cap, so memory
stays within `max_bytes` whatever a server sends. The client asks only for the
encodings decoded here (`ACCEPT_ENCODING`).
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

ACCEPT_ENCODING = "gzip, deflate"


class BodyRefused(Exception):
    """The body was not read to the end: too large, or in an encoding not asked for."""


class CappedDecoder:
    """Feeds raw bytes in, keeps at most `max_bytes` of raw and of decoded bytes."""

    def __init__(self, content_encoding: str, max_bytes: int) -> None:
        encoding = content_encoding.strip().lower()
        self.max_bytes = max_bytes
        self.raw = 0
        self._parts: list[bytes] = []
        self._size = 0
        self._deflate_fallback = False
        if encoding in ("", "identity"):
            self._zlib = None
        elif encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj()
            self._deflate_fallback = True  # some servers send raw deflate without the header
        else:
            raise BodyRefused(f"the answer uses the content encoding {encoding[:40]!r}, "
                              f"which mxsync did not ask for")

    def feed(self, chunk: bytes) -> None:
        self.raw += len(chunk)
        if self.raw > self.max_bytes:
            raise BodyRefused(f"the answer is larger than {self.max_bytes:,} bytes; stopped reading")
        if self._zlib is None:
            self._keep(chunk)
            return
        while chunk:
            room = self.max_bytes - self._size + 1
            try:
                out = self._zlib.decompress(chunk, room)
            except zlib.error:
                if self._deflate_fallback and self._size == 0 and self.raw == len(chunk):
                    self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._deflate_fallback = False
                    continue
                raise BodyRefused("the answer's compressed body is damaged") from None
            self._deflate_fallback = False
            self._keep(out)
            chunk = self._zlib.unconsumed_tail
            if self._zlib.eof:
                return

    def _keep(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self.max_bytes:
            raise BodyRefused(f"the answer unpacks to more than {self.max_bytes:,} bytes; "
                              "stopped reading")
        if data:
            self._parts.append(data)

    def finish(self) -> bytes:
        if self._zlib is not None and not self._zlib.eof and (self.raw or self._size):
            self._keep(self._zlib.flush())
        return b"".join(self._parts)


async def read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    """The decoded body of a streaming response, or BodyRefused past the cap.

    A declared Content-Length over the cap is refused before anything is read."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise BodyRefused(f"the answer announces {int(declared):,} bytes, more than the "
                          f"{max_bytes:,} allowed; not read")
    if response.is_stream_consumed:
        # Built in memory (an injected transport's answer): httpx has already read and
        # decoded it, so only the decoded size is left to check.
        if len(response.content) > max_bytes:
            raise BodyRefused(f"the answer is larger than {max_bytes:,} bytes")
        return response.content
    decoder = CappedDecoder(response.headers.get("content-encoding", ""), max_bytes)
    async for chunk in response.aiter_raw():
        decoder.feed(chunk)
    return decoder.finish()
