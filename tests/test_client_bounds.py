"""Bounded time and memory: answer size capped raw and unpacked, a whole exchange within
`timeout_s`, and a non-replayable call never sent twice because its answer dragged."""

from __future__ import annotations

import gzip
import zlib

import pytest

from mxsync._http.bounded_body import BodyRefused, CappedDecoder
from mxsync.api import OutcomeUnknown, ResponseTooLarge, Unreachable
from mxsync.secrets import Secret
from tests.hostile.client import CANARY_TOKEN, outcome
from tests.hostile.server import HostileServer, drip, endless, gzip_bomb, huge_declared

CAP = 64 * 1024
TOKEN = Secret(CANARY_TOKEN)


def _decode(encoding: str, raw: bytes, cap: int = CAP, piece: int = 1000) -> bytes:
    decoder = CappedDecoder(encoding, cap)
    for i in range(0, len(raw), piece):
        decoder.feed(raw[i:i + piece])
    return decoder.finish()


@pytest.mark.parametrize(("encoding", "pack"), [
    ("", lambda b: b), ("identity", lambda b: b), ("gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some servers send it
])
def test_decoder_round_trips(encoding: str, pack: object) -> None:
    body = b'{"credentials": []}' * 500
    assert _decode(encoding, pack(body)) == body  # type: ignore[operator]


def test_decoder_stops_a_bomb_within_the_cap() -> None:
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))
    assert len(bomb) < CAP
    with pytest.raises(BodyRefused, match="unpacks to more than 65,536 bytes"):
        _decode("gzip", bomb, piece=len(bomb))


@pytest.mark.parametrize(("encoding", "raw", "message"), [
    ("br", b"..", "content encoding 'br'"),
    ("gzip", b"not gzip at all", "damaged"),
    ("", b"x" * (CAP + 1), "larger than 65,536 bytes"),
])
def test_decoder_refuses_clearly(encoding: str, raw: bytes, message: str) -> None:
    with pytest.raises(BodyRefused, match=message):
        _decode(encoding, raw)


def _orgs(client: object) -> object:
    return client.my_organizations(TOKEN)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("handler", "message"), [
    (huge_declared(10 * 1024 * 1024 * 1024), "announces 10,737,418,240 bytes"),
    (endless(), "larger than 65,536 bytes"),
    (gzip_bomb(40 * 1024 * 1024), "unpacks to more than 65,536 bytes"),
])
def test_an_oversized_answer_is_a_clear_error(handler: object, message: str) -> None:
    with HostileServer(handler) as server:  # type: ignore[arg-type]
        error = outcome(server.url, _orgs, max_response_bytes=CAP)
    assert isinstance(error, ResponseTooLarge)
    assert message in str(error) and "GET /auth/me/organizations" in str(error)
    assert len(server.seen) == 1  # the same answer is not asked for again


def test_a_dripping_answer_ends_at_the_timeout() -> None:
    with HostileServer(drip(0.05)) as server:
        error = outcome(server.url, _orgs, timeout_s=0.4)
    assert isinstance(error, Unreachable)
    assert "no complete answer: timed out after 0.4 s" in str(error) and "gave up after 2 tries" in str(error)
    assert len(server.seen) == 2


def test_a_create_whose_answer_drips_is_not_sent_again() -> None:
    with HostileServer(drip(0.05, status=201)) as server:
        error = outcome(server.url, lambda c: c.create_credential(
            TOKEN, "org-a", key=Secret("xai-" + "d" * 30), base_url=None, display_name="d",
            metadata={}, make_default=False, expires_at=None), timeout_s=0.4)
    assert isinstance(error, OutcomeUnknown)
    assert server.count("POST", "/credentials") == 1


def test_a_create_whose_answer_is_too_large_is_an_unknown_outcome() -> None:
    with HostileServer(gzip_bomb(10 * 1024 * 1024)) as server:
        error = outcome(server.url, lambda c: c.create_credential(
            TOKEN, "org-a", key=Secret("xai-" + "d" * 30), base_url=None, display_name="d",
            metadata={}, make_default=False, expires_at=None), max_response_bytes=CAP)
    assert isinstance(error, OutcomeUnknown) and "unpacks to more than" in str(error)
    assert server.count("POST", "/credentials") == 1
