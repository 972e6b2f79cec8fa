"""The client against a server that attacks it: every mode ends in a clear MxsyncError,
within the run's own bounds, and the canary token and key appear nowhere (error text,
repr, DEBUG logs, or a whole CLI run with --debug).

The canary token has no known shape, so only redaction by value can hide it; the echo
puts it (and the key) past the point where an error text is cut, so a fragment left by
cutting before redacting would show too."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mxsync.api import ModulexClient
from mxsync.errors import MxsyncError
from mxsync.secrets import Secret
from tests.cli_helpers import mxsync, write_manifest
from tests.hostile.client import CANARY_KEY, CANARY_TOKEN, outcome
from tests.hostile.server import (
    Handler,
    HostileServer,
    Reply,
    Seen,
    canned,
    drip,
    echo,
    echo_text,
    endless,
    gzip_bomb,
    huge_declared,
    json_reply,
)

CANARIES = (CANARY_TOKEN, CANARY_KEY)
TOKEN, KEY = Secret(CANARY_TOKEN), Secret(CANARY_KEY)


def assert_no_canary(text: str) -> None:
    """Not the whole value, and not any 6-character piece of it."""
    for canary in CANARIES:
        pieces = {canary[i:i + 6] for i in range(len(canary) - 5)}
        found = [p for p in pieces if p in text]
        assert not found, f"a piece of a canary leaked: {found[:3]}"


def _padded_echo(status: int) -> Handler:
    """The token placed where an error text is cut (300 characters), then the key: cutting
    before redacting would leave a piece of the token that no pattern recognises."""
    def handle(seen: Seen) -> Reply:
        token = seen.headers.get("authorization", "").removeprefix("Bearer ")
        return json_reply({"detail": "p" * 280 + " " + token + " " + seen.raw()}, status)

    return handle


CALLS: dict[str, Callable[[ModulexClient], Any]] = {
    "orgs": lambda c: c.my_organizations(TOKEN),
    "list": lambda c: c.list_credentials(TOKEN, "org-a"),
    "create": lambda c: c.create_credential(TOKEN, "org-a", key=KEY, base_url=None,
                                            display_name="n", metadata={}, make_default=False,
                                            expires_at=None),
    "test-key": lambda c: c.test_key(TOKEN, "org-a", KEY, None),
}
MODES: dict[str, Handler] = {
    "echo-json-400": echo(400),
    "echo-json-401": echo(401),
    "echo-text-500": echo_text(500),
    "echo-padded-403": _padded_echo(403),
    "echo-padded-409": _padded_echo(409),
    "huge": huge_declared(10**12),
    "endless": endless(),
    "drip": drip(0.05),
    "gzip-bomb": gzip_bomb(40 * 1024 * 1024),
    "wrong-shape": canned([json_reply(["a", {"b": None}])]),
    "not-json": canned([Reply(200, {"content-type": "text/html"}, b"<h1>hello</h1>")]),
}


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("mode", list(MODES))
def test_every_mode_is_a_clear_error_without_secrets(mode: str, call: str,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="mxsync")
    with HostileServer(MODES[mode]) as server:
        error = outcome(server.url, CALLS[call], timeout_s=0.5, max_response_bytes=64 * 1024)
    assert isinstance(error, MxsyncError), repr(error)
    assert error.message and "Traceback" not in str(error)
    for text in (str(error), repr(error), repr(error.__dict__), caplog.text):
        assert_no_canary(text)
    if mode.startswith("echo-json") and call != "create":
        assert "(sensitive)" in str(error)  # the echo was there, and hidden


def test_the_echo_really_carries_the_canaries() -> None:
    """The attack is real: what the server sees holds both canaries."""
    with HostileServer(echo(400)) as server:
        outcome(server.url, CALLS["create"])
    raw = server.seen[0].raw()
    assert CANARY_TOKEN in raw and CANARY_KEY in raw


@pytest.mark.parametrize("mode", ["echo-padded-403", "drip", "huge", "wrong-shape"])
@pytest.mark.slow
def test_a_whole_cli_run_with_debug_leaks_nothing(mode: str, tmp_path: Path) -> None:
    with HostileServer(MODES[mode]) as server:
        path = write_manifest(tmp_path / "m.yaml", [{"id": "org-a", "xai": {"credentials": [
            {"name": "primary", "api_key_env": "K1"}]}}])
        run = mxsync("--debug", "plan", "-f", path, "--timeout", "0.5",
                     env={"MODULEX_BASE_URL": server.url, "MODULEX_API_KEY": CANARY_TOKEN,
                          "K1": CANARY_KEY})
    assert run.code == 1, run.out + run.err
    assert "internal error" not in (run.out + run.err).lower()
    assert_no_canary(run.out + run.err)
