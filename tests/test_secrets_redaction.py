"""Redaction by construction: every registered secret and every long prefix of one is gone.

Each test runs with its own registry (`isolated_registry`), so the thousands of
random values hypothesis registers cannot redact another test's output.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import logging
import pickle
import random
import string
import urllib.parse
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mxsync.output import RedactingStream
from mxsync.secrets import (
    MIN_FRAGMENT,
    MIN_SECRET_LENGTH,
    SENSITIVE,
    RedactingFormatter,
    Secret,
    clip,
    install_log_redaction,
    isolated_registry,
    redact,
    register,
)
from mxsync.secrets.redaction import PUBLIC_PREFIXES

KEY = "xai-CANARYkeyABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz_-0123"
ODD_TOKEN = "hunter2-long-enough-xyz"  # no mx_live_ prefix: no pattern can know it


@pytest.fixture(autouse=True)
def _own_registry() -> Iterator[None]:
    with isolated_registry():
        yield


# Secrets of any shape, except parentheses: `(sensitive)` replaces a find, and a value
# that straddles the marker's own brackets could be rebuilt from it and its neighbours.
SECRET_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="()")
secrets_ = st.text(SECRET_CHARS, min_size=MIN_SECRET_LENGTH, max_size=90).filter(
    lambda s: s not in SENSITIVE)
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)


@settings(max_examples=300, deadline=None)
@given(secret=secrets_, before=texts, after=texts, others=st.lists(secrets_, max_size=5))
def test_a_registered_secret_of_any_shape_never_survives(
        secret: str, before: str, after: str, others: list[str]) -> None:
    with isolated_registry():
        for other in others:
            register(other)
        Secret(secret)
        assert secret not in redact(before + secret + after)


@settings(max_examples=300, deadline=None)
@given(secret=secrets_, before=texts, after=texts, data=st.data())
def test_a_long_prefix_of_a_registered_secret_never_survives(
        secret: str, before: str, after: str, data: st.DataObject) -> None:
    """A text cut anywhere after MIN_FRAGMENT characters (e.g. a body clipped at 200)."""
    with isolated_registry():
        Secret(secret)
        public = next((len(p) for p in PUBLIC_PREFIXES if secret.startswith(p)), 0)
        shortest = min(len(secret), public + MIN_FRAGMENT)
        cut = data.draw(st.integers(min_value=shortest, max_value=len(secret)))
        fragment = secret[:cut]
        assert fragment not in redact(before + fragment + after)
        assert fragment not in redact(before + fragment)  # the fragment ends the text


@settings(max_examples=200, deadline=None)
@given(body=st.text(max_size=300), limit=st.integers(min_value=0, max_value=300),
       at=st.integers(min_value=0, max_value=300))
def test_clip_redacts_before_it_cuts(body: str, limit: int, at: int) -> None:
    with isolated_registry():
        Secret(KEY)
        text = body[:at] + KEY + body[at:]
        clipped = clip(text, limit)
        assert KEY[:4 + MIN_FRAGMENT] not in clipped
        assert len(clipped) <= max(limit, 0) + len(SENSITIVE) + len("...")


@pytest.mark.parametrize("text", [
    f"token {ODD_TOKEN} refused",
    f"cut here: {ODD_TOKEN[:12]}",
    f"cut then ellipsis: {ODD_TOKEN[:9]}...",
    f'{{"echo": "{ODD_TOKEN}"}}',
    f"{ODD_TOKEN}{ODD_TOKEN[:10]}",
])
def test_a_token_of_an_unknown_shape_is_caught(text: str) -> None:
    Secret(ODD_TOKEN)
    out = redact(text)
    assert ODD_TOKEN[:MIN_FRAGMENT] not in out and SENSITIVE in out


def test_key_clipped_at_200_leaves_no_fragment() -> None:
    Secret(KEY)
    message = ("x" * 50 + KEY + " and more")[:54 + 60]  # the first 60 characters of the key
    assert "CANARY" not in redact(message)


def test_fragments_keep_public_prefixes_and_service_masks_readable() -> None:
    """Only MIN_FRAGMENT characters beyond `xai-`/`mx_live_` count: masks and hints stay."""
    Secret(KEY)
    Secret("mx_live_CANARYtoken0123456789")
    text = "mask xai-CANA...0123; export the ModuleX API key (mx_live_...)"
    assert redact(text) == text
    assert redact("xai-CANARYkeyA") == SENSITIVE  # 9 characters beyond xai-


def test_json_escaped_secret_is_caught() -> None:
    Secret('tok"en\\with-quotes')
    assert "with-quotes" not in redact(json.dumps({"token": 'tok"en\\with-quotes'}))


def test_patterns_still_catch_unregistered_secrets() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJDQU5BUlkifQ.c2lnbmF0dXJlQ0FOQVJZ"
    out = redact(f"xai-{'Z' * 30} mx_live_unknown_CANARY {jwt}")
    assert "Z" * 20 not in out and "CANARY" not in out and "c2lnbmF0" not in out


def test_short_values_are_not_registered() -> None:
    """A 3-character secret would make every text unreadable; no real one is that short."""
    Secret("abc")
    assert redact("abcabc") == "abcabc"


def test_many_registered_secrets_are_all_caught() -> None:
    """3,000 keys shaped as xAI makes them (random after the prefix): a fragment of any of
    them is caught. (Keys sharing long pieces, unlike real ones, make the scan slower.)"""
    rng = random.Random(3000)
    alphabet = string.ascii_letters + string.digits
    keys = ["xai-" + "".join(rng.choice(alphabet) for _ in range(80)) for _ in range(3000)]
    for key in keys:
        register(key)
    shown = redact(" ".join(key[:30] for key in keys[::100]))
    assert not [key for key in keys[::100] if key[4:30] in shown], shown


def test_secret_is_safe_in_every_representation(caplog: pytest.LogCaptureFixture) -> None:
    secret = Secret(KEY)
    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", f"{secret:>90}",
             "%s %r" % (secret, secret),  # noqa: UP031 (the logging-style format is the point)
             str(Exception(secret)), repr(Exception(secret)),
             str([secret]), str({"k": secret})]
    with caplog.at_level(logging.INFO):
        logging.getLogger("mxsync.test").info("key %s", secret)
    shown.append(caplog.text)
    assert all("CANARY" not in text for text in shown)
    assert copy.copy(secret) is secret and copy.deepcopy({"k": secret})["k"] is secret
    for dump in (pickle.dumps, json.dumps):
        with pytest.raises(TypeError) as info:
            dump(secret)
        assert "CANARY" not in str(info.value)
    with pytest.raises(AttributeError):
        secret._value = "other"  # type: ignore[misc]
    assert secret == Secret(KEY) and secret != Secret(KEY + "x") and secret != KEY
    assert secret.reveal() == KEY


def test_revealing_registers_again() -> None:
    """A Secret made before the registry was reset (another test, a fork) is still caught."""
    secret = Secret(KEY)
    with isolated_registry():
        value = secret.reveal()
        assert redact(value) == SENSITIVE


def test_log_formatter_redacts_messages_arguments_and_tracebacks() -> None:
    Secret(ODD_TOKEN)
    stream = io.StringIO()
    logger = logging.getLogger("mxsync.test.redaction")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        install_log_redaction(logger)
        assert isinstance(handler.formatter, RedactingFormatter)
        logger.warning("sent %s", ODD_TOKEN)
        try:
            raise ValueError(f"bad {ODD_TOKEN}")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    written = stream.getvalue()
    assert "Traceback" in written and "ValueError" in written
    assert ODD_TOKEN[:MIN_FRAGMENT] not in written


@given(st.text(string.printable, max_size=200))
def test_text_without_secrets_is_unchanged(text: str) -> None:
    with isolated_registry():
        Secret(KEY)
        if "xai-" not in text and "mx_" not in text and "eyJ" not in text:
            assert redact(text) == text


@given(secret=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=20,
                      max_size=90),
       start=st.integers(0, 80), length=st.integers(15, 90),
       before=st.text(max_size=30), after=st.text(max_size=30))
def test_a_fragment_from_inside_a_secret_never_survives(secret: str, start: int, length: int,
                                                        before: str, after: str) -> None:
    """A server may mask the start of a key and echo the rest: any run of 15 or more of a
    registered secret's characters, from anywhere in it, is removed."""
    fragment = secret[start:start + length]
    if len(fragment) < 15:
        return
    with isolated_registry():
        Secret(secret)
        assert fragment not in redact(before + fragment + after)


def _echoed_forms(secret: str) -> list[str]:
    raw = secret.encode()
    return [secret.upper(), secret.swapcase(),
            base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(),
            urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret),
            "".join(f"%{b:02x}" for b in raw), json.dumps(secret)[1:-1]]


@settings(max_examples=150, deadline=None)
@given(secret=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126),
                      min_size=16, max_size=90),
       lead=st.binary(max_size=5), trail=st.binary(max_size=5),
       before=texts, after=texts)
def test_a_secret_echoed_upper_cased_base64_or_url_encoded_never_survives(
        secret: str, lead: bytes, trail: bytes, before: str, after: str) -> None:
    """A server may hand a key back in another form: each form is caught, also base64 of
    the key inside a longer blob, at any byte alignment."""
    with isolated_registry():
        Secret(secret)
        for form in _echoed_forms(secret):
            assert form[2:14].lower() not in redact(before + form + after).lower(), form
        raw = secret.encode()
        blob = base64.b64encode(lead + raw + trail).decode()
        # the characters of the blob that only the secret's bytes decide
        core = blob[-(-len(lead) * 8 // 6):(len(lead) + len(raw)) * 8 // 6]
        shown = redact(f"{before} {blob} {after}")
        assert not [core[i:i + 16] for i in range(len(core) - 15) if core[i:i + 16] in shown]


def test_run_token_found_in_every_echoed_form() -> None:
    Secret(ODD_TOKEN)
    for form in _echoed_forms(ODD_TOKEN):
        assert redact(f"label: {form}!") == f"label: {SENSITIVE}!", form


def test_the_redacting_stream_holds_a_line_until_it_is_whole() -> None:
    """A secret written in two pieces is seen whole; flush (a progress line) sends the rest."""
    Secret(ODD_TOKEN)
    inner = io.StringIO()
    stream = RedactingStream(inner)  # type: ignore[arg-type]
    stream.write("token " + ODD_TOKEN[:6])
    assert inner.getvalue() == ""
    stream.write(ODD_TOKEN[6:] + " done\nnext ")
    assert inner.getvalue() == f"token {SENSITIVE} done\n"
    stream.write(ODD_TOKEN.upper())
    stream.flush()
    assert inner.getvalue() == f"token {SENSITIVE} done\nnext {SENSITIVE}"
    with pytest.raises(TypeError):
        stream.write(b"bytes")  # type: ignore[arg-type]
    assert not hasattr(stream, "buffer")  # nothing can write round it


def test_a_scan_may_be_reentered_on_its_own_thread() -> None:
    """A finalizer the garbage collector runs in the middle of a scan may log, and its log
    line is redacted on the same thread: that nested scan must not wait for the outer one
    (it hung a whole test run, inside an HTTP client's `__del__`). Held here by hand."""
    import threading

    from mxsync.secrets import redaction

    register("xai-" + "R" * 60)
    lock = redaction._registry._lock
    done: list[str] = []

    def nested() -> None:
        with lock:  # the outer scan, interrupted by a finalizer that logs
            done.append(redact("a log line with xai-" + "R" * 60))

    thread = threading.Thread(target=nested, daemon=True)
    thread.start()
    thread.join(10)
    assert done == ["a log line with (sensitive)"], "the nested scan waited for the outer one"
