"""When nothing answers, the user reads what happened on the wire ("connection refused",
"timed out after 2 s", "the server closed the connection") and what to check, never the
name of a Python exception class."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mxsync._http.error_text import no_answer
from mxsync.api import Unreachable
from mxsync.secrets import Secret
from tests.cli_helpers import mxsync, write_manifest
from tests.hostile.client import outcome
from tests.hostile.server import HostileServer, drip

# What a Python exception's name looks like in a message: `ConnectError`, `ReadTimeout`...
TOKEN = Secret("mx_live_0123456789abcdef")
CLASS_NAME = re.compile(r"\b[A-Z][a-z]+(?:[A-Z][a-z]+)*(?:Error|Timeout|Exception)\b")


def closed_port() -> int:
    """A loopback port nothing listens on: bound to learn it, then closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def hang_up_server() -> Iterator[str]:
    """A server that reads the request and closes the connection without a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    listener.close()
    thread.join(timeout=5)


def test_plan_against_a_closed_port_says_connection_refused(tmp_path: Path) -> None:
    port = closed_port()
    path = write_manifest(tmp_path / "m.yaml", [{"id": "org-a"}])
    run = mxsync("plan", "-f", path, env={"MODULEX_BASE_URL": f"http://127.0.0.1:{port}",
                                          "MODULEX_API_KEY": "mx_live_0123456789abcdef"})
    assert run.code == 1, run.both
    assert f"cannot reach the ModuleX API at http://127.0.0.1:{port} (connection refused)" in run.out
    assert f"running at 127.0.0.1:{port}? Check --api-url / MODULEX_BASE_URL" in run.out
    assert not CLASS_NAME.search(run.both), run.both
    assert "Traceback" not in run.both


def test_one_cause_for_every_org_is_said_once(tmp_path: Path) -> None:
    """An API that refuses connections fails every org alike: one block naming the orgs,
    not the same error under each of them (120 times at 120 orgs)."""
    port = closed_port()
    orgs = [f"org-{i:02d}" for i in range(12)]
    path = write_manifest(tmp_path / "m.yaml", [{"id": o} for o in orgs])
    run = mxsync("plan", "-f", path, env={"MODULEX_BASE_URL": f"http://127.0.0.1:{port}",
                                          "MODULEX_API_KEY": "mx_live_0123456789abcdef"})
    assert run.code == 1, run.both
    assert run.out.count("(connection refused)") == 1, run.out
    assert f"12 orgs: {', '.join(orgs[:10])} and 2 more\n    error: cannot reach" in run.out
    assert "No changes planned; 12 errors." in run.out


def test_import_against_a_closed_port_gives_the_words_and_the_advice() -> None:
    port = closed_port()
    run = mxsync("import", "--org", "org-a", env={"MODULEX_BASE_URL": f"http://127.0.0.1:{port}",
                                                  "MODULEX_API_KEY": "mx_live_0123456789abcdef"})
    assert run.code == 1, run.both
    assert "(connection refused)" in run.err and "mxsync emulator" in run.err
    assert not CLASS_NAME.search(run.both), run.both


def test_a_server_that_hangs_up_is_said_in_words(hang_up_server: str) -> None:
    error = outcome(hang_up_server, lambda c: c.my_organizations(TOKEN))
    assert isinstance(error, Unreachable)
    assert "the server closed the connection without a complete answer" in str(error)
    assert "gave up after 2 tries" in str(error)
    assert not CLASS_NAME.search(str(error)), str(error)


def test_a_silent_server_times_out_after_the_timeout() -> None:
    with HostileServer(drip(0.05)) as server:
        error = outcome(server.url, lambda c: c.my_organizations(TOKEN), timeout_s=0.3)
    assert isinstance(error, Unreachable)
    assert "timed out after 0.3 s" in str(error)
    assert not CLASS_NAME.search(str(error)), str(error)


@pytest.mark.parametrize(("exc", "kind", "words"), [
    (httpx.ConnectError("x"), "other", "could not connect"),
    (httpx.ConnectTimeout("x"), "timeout", "could not connect: timed out after 7 s"),
    (httpx.ReadTimeout("x"), "timeout", "no answer: timed out after 7 s"),
    (httpx.WriteTimeout("x"), "timeout", "sending the request timed out after 7 s"),
    (httpx.PoolTimeout("x"), "timeout", "no free connection: timed out after 7 s"),
    (httpx.RemoteProtocolError("x"), "closed", "the server closed the connection"),
    (httpx.ReadError("x"), "reset", "the connection was reset"),
    (httpx.ProxyError("x"), "proxy", "the proxy would not connect"),
    (httpx.UnsupportedProtocol("x"), "scheme", "the URL is not http or https"),
])
def test_each_transport_error_has_plain_words(exc: Exception, kind: str, words: str) -> None:
    said = no_answer(exc, 7.0)
    assert said.kind == kind and said.words.startswith(words)
    assert not CLASS_NAME.search(said.words)


def _raised_from(cause: BaseException) -> httpx.ConnectError:
    try:
        try:
            raise cause
        except OSError as inner:
            raise httpx.ConnectError("All connection attempts failed") from inner
    except httpx.ConnectError as outer:
        return outer


def test_the_cause_decides_between_refused_and_name_not_found() -> None:
    refused = no_answer(_raised_from(ConnectionRefusedError(111, "Connect call failed")), 7.0)
    assert (refused.kind, refused.words) == ("refused", "connection refused")
    dns = no_answer(_raised_from(socket.gaierror(-2, "Name or service not known")), 7.0)
    assert (dns.kind, dns.words) == ("no-such-host", "could not connect: name not found")
