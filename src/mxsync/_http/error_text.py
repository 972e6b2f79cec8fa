"""A server's error answer as one line a user may read: its own words, secrets redacted
before the line is cut short (a cut first could leave a piece no rule recognises); and no
answer at all said as what happened on the wire ("connection refused"), with what to check."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from mxsync import answers
from mxsync.secrets import redact
from mxsync.urls import host_port

_MAX_CODE_CHARS = 100


def describe(body: bytes, status: int, hidden: Sequence[str]) -> str:
    """The detail of an error answer (FastAPI's `detail`, xAI's `error`, or the text)."""
    return answers.describe_error(body, httpx.codes.get_reason_phrase(status), hidden)


def error_code(body: bytes, hidden: Sequence[str]) -> str | None:
    """xAI's machine-readable `code`, when the answer has one, redacted and cut short."""
    try:
        parsed = answers.parse_json(body) if body else None
    except answers.ShapeError:
        return None
    code = parsed.get("code") if isinstance(parsed, dict) else None
    if not isinstance(code, str) or not code:
        return None
    return redact(code, tuple(hidden))[:_MAX_CODE_CHARS]


@dataclass(frozen=True)
class NoAnswer:
    """Why an exchange got no answer, in plain words, never a Python class name.

    `kind` picks the advice (`reach_hint`); `words` goes into the message as it is."""

    kind: str  # refused, no-such-host, tls, timeout, closed, reset, proxy, scheme, other
    words: str


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and what it was raised from, outermost first (bounded: a chain may loop)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 16 and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def no_answer(exc: BaseException, timeout_s: float) -> NoAnswer:
    """httpx's transport error as what happened on the wire: "connection refused", "timed
    out after 30 s", "the server closed the connection"."""
    chain = _causes(exc)
    after = f"after {timeout_s:g} s"
    if any(isinstance(c, socket.gaierror) for c in chain):
        return NoAnswer("no-such-host", "could not connect: name not found")
    if any(isinstance(c, ConnectionRefusedError) for c in chain):
        return NoAnswer("refused", "connection refused")
    if any(isinstance(c, ssl.SSLCertVerificationError) for c in chain):
        return NoAnswer("tls", "the server's TLS certificate was not accepted")
    if any(isinstance(c, ssl.SSLError) for c in chain):
        return NoAnswer("tls", "the TLS handshake failed")
    if isinstance(exc, httpx.ProxyError):
        return NoAnswer("proxy", "the proxy would not connect")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return NoAnswer("scheme", "the URL is not http or https")
    if isinstance(exc, httpx.ConnectTimeout):
        return NoAnswer("timeout", f"could not connect: timed out {after}")
    if isinstance(exc, httpx.PoolTimeout):
        return NoAnswer("timeout", f"no free connection: timed out {after}")
    if isinstance(exc, httpx.WriteTimeout):
        return NoAnswer("timeout", f"sending the request timed out {after}")
    if isinstance(exc, httpx.TimeoutException):  # ReadTimeout
        return NoAnswer("timeout", f"no answer: timed out {after}")
    if isinstance(exc, httpx.RemoteProtocolError):
        return NoAnswer("closed", "the server closed the connection without a complete answer")
    if isinstance(exc, httpx.LocalProtocolError):
        return NoAnswer("other", "the request could not be sent as HTTP")
    if isinstance(exc, (httpx.ReadError, httpx.WriteError)) or any(
            isinstance(c, ConnectionResetError) for c in chain):
        return NoAnswer("reset", "the connection was reset")
    if isinstance(exc, httpx.ConnectError):
        errno_text = next((c.strerror for c in chain if isinstance(c, OSError) and c.strerror), None)
        return NoAnswer("other", f"could not connect: {errno_text.lower()}" if errno_text
                        else "could not connect")
    return NoAnswer("other", "the connection failed")


def reach_hint(kind: str, url: str, url_setting: str, service: str, fallback: str) -> str:
    """What to check when nothing answered `url`: `url_setting` names where the URL comes
    from (`--api-url / MODULEX_BASE_URL`), `service` what should be listening there."""
    if kind == "refused":
        return f"is {service} running at {host_port(url)}? Check {url_setting}"
    if kind == "no-such-host":
        return (f"the host name {urlsplit(url).hostname or url} is not known: check {url_setting} "
                "for a typo, and the network's DNS")
    if kind == "tls":
        return (f"check that {url_setting} is the service's own https address; a proxy that "
                "inspects TLS needs its certificate trusted")
    if kind == "timeout":
        return (f"the network or the service is slow or unreachable: check {url_setting} and "
                "HTTPS_PROXY/NO_PROXY, or raise --timeout")
    if kind == "proxy":
        return "check HTTPS_PROXY/NO_PROXY and that the proxy is running"
    return fallback


