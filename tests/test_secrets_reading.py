"""Key files and tokens: anything that cannot be a key or token is a clear error at once.

Hostile key-file targets (a FIFO, /dev/zero, a directory, a 1 GB file, bytes
that are not UTF-8) are refused before anything is read; a token that cannot be
one is refused before any connection is made. Messages name the variable or
file, never the value.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mxsync.errors import MxsyncError
from mxsync.secrets import (
    MAX_KEY_FILE_BYTES,
    KeySource,
    SecretError,
    isolated_registry,
    read_key,
    read_management_key,
    read_token,
    redact,
)
from tests.cli_helpers import mxsync

KEY = "xai-CANARYfileKEY0123456789abcdefghij"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJlLUNBTkFSWQ"


@pytest.fixture(autouse=True)
def _own_registry() -> Iterator[None]:
    with isolated_registry():
        yield


def key_file(tmp_path: Path, content: bytes | str, mode: int = 0o600) -> str:
    path = tmp_path / "xai.key"
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    path.chmod(mode)
    return str(path)


def refused(source: KeySource, environ: dict[str, str] | None = None) -> SecretError:
    with pytest.raises(SecretError) as info:
        read_key(source, environ or {})
    error = info.value
    assert isinstance(error, MxsyncError) and error.hint
    assert "CANARY" not in str(error)
    return error


# -- key files ----------------------------------------------------------------------------------

def test_key_file_with_surrounding_whitespace_and_bom(tmp_path: Path) -> None:
    path = key_file(tmp_path, "\ufeff\n  " + KEY + "\r\n\n")
    warnings: list[str] = []
    assert read_key(KeySource(file=path), {}, warnings).reveal() == KEY
    assert warnings == []


def test_a_directory_is_refused(tmp_path: Path) -> None:
    error = refused(KeySource(file=str(tmp_path)))
    assert f"key file {tmp_path} is a directory, not a regular file" in error.message


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    """No writer ever opens it: a blocking open would hang here forever."""
    fifo = tmp_path / "key.fifo"
    os.mkfifo(fifo)
    error = refused(KeySource(file=str(fifo)))
    assert "is a FIFO (named pipe), not a regular file" in error.message


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_is_refused(device: str, tmp_path: Path) -> None:
    assert "is a character device" in refused(KeySource(file=device)).message
    link = tmp_path / "link.key"
    link.symlink_to(device)
    assert "is a character device" in refused(KeySource(file=str(link))).message


def test_a_huge_file_is_refused_without_being_read(tmp_path: Path) -> None:
    big = tmp_path / "big.key"
    with big.open("wb") as handle:
        handle.truncate(1 << 30)  # sparse: 1 GiB of zeros that take no disk
    error = refused(KeySource(file=str(big)))
    assert "1,073,741,824 bytes" in error.message and "at most 64 KiB" in error.message


def test_the_size_cap_is_exact(tmp_path: Path) -> None:
    padded = KEY + " " * (MAX_KEY_FILE_BYTES - len(KEY))
    assert read_key(KeySource(file=key_file(tmp_path, padded)), {}).reveal() == KEY
    error = refused(KeySource(file=key_file(tmp_path, padded + " ")))
    assert "65,537 bytes" in error.message


def test_a_non_utf8_file_names_the_file_never_the_bytes(tmp_path: Path) -> None:
    path = key_file(tmp_path, KEY.encode() + b"\xff\xfeCANARY")
    error = refused(KeySource(file=path))
    assert f"key file {path} is not UTF-8 text" in error.message
    assert "xff" not in str(error) and "\\x" not in str(error)


def test_a_missing_file(tmp_path: Path) -> None:
    error = refused(KeySource(file=str(tmp_path / "nope.key")))
    assert "cannot read key file" in error.message and "No such file" in error.message


def test_a_file_holding_something_else(tmp_path: Path) -> None:
    error = refused(KeySource(file=key_file(tmp_path, "mx_live_CANARYtoken0123456789\n")))
    assert "is not an xAI key" in error.message and "looks like a ModuleX token" in error.message
    error = refused(KeySource(file=key_file(tmp_path, KEY + "\n" + KEY)))
    assert "is not an xAI key" in error.message


@pytest.mark.parametrize(("mode", "who"), [(0o640, "its group"), (0o604, "others"),
                                           (0o644, "its group and others")])
def test_a_key_file_others_can_read_is_warned_about(tmp_path: Path, mode: int, who: str) -> None:
    path = key_file(tmp_path, KEY, mode)
    warnings: list[str] = []
    assert read_key(KeySource(file=path), {}, warnings).reveal() == KEY
    assert warnings == [f"key file {path} is readable by {who} (mode {mode:04o}); "
                        f"restrict it with `chmod 600 {path}`"]


@pytest.mark.parametrize(("mode", "who"), [(0o620, "its group"), (0o602, "others"),
                                           (0o666, "its group and others")])
def test_a_key_file_others_can_write_is_refused(tmp_path: Path, mode: int, who: str) -> None:
    path = key_file(tmp_path, KEY, mode)
    error = refused(KeySource(file=path))
    assert f"key file {path} is writable by {who} (mode {mode:04o})" in error.message
    assert "swap the key" in error.message and f"chmod go-w {path}" in (error.hint or "")


@pytest.mark.parametrize(("folder_mode", "accepted"), [
    (0o777, False),  # anyone may rename the key file away and put their own in its place
    (0o1777, True),  # sticky, as /tmp: only the file's owner may rename or remove it
    (0o770, True),  # group-writable: every folder of a user-private-group umask (002)
])
def test_a_key_file_in_a_folder_anyone_may_write(tmp_path: Path, folder_mode: int,
                                                 accepted: bool) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    path = folder / "xai.key"
    path.write_text(KEY)
    path.chmod(0o600)
    folder.chmod(folder_mode)
    try:
        if accepted:
            assert read_key(KeySource(file=str(path)), {}, []).reveal() == KEY
        else:
            error = refused(KeySource(file=str(path)))
            assert f"in the folder {folder}, which anyone may write" in error.message
            assert f"chmod o-w {folder}" in (error.hint or "")
    finally:
        folder.chmod(0o700)


def test_without_a_list_the_warning_is_logged_once(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    path = key_file(tmp_path, KEY, 0o644)
    with caplog.at_level(logging.WARNING, logger="mxsync.secrets"):
        read_key(KeySource(file=path), {})
        read_key(KeySource(file=path), {})
    assert [r.getMessage() for r in caplog.records].count(
        f"warning: key file {path} is readable by its group and others (mode 0644); "
        f"restrict it with `chmod 600 {path}`") == 1


def test_an_environment_key() -> None:
    assert read_key(KeySource(env="K"), {"K": f"  {KEY}\n"}).reveal() == KEY
    assert "environment variable K is not set" in refused(KeySource(env="K")).message
    assert "looks like a session token" in refused(KeySource(env="K"), {"K": JWT}).message


def test_a_key_read_is_redacted_from_then_on(tmp_path: Path) -> None:
    read_key(KeySource(file=key_file(tmp_path, KEY)), {})
    assert "CANARY" not in redact(f"server said: {KEY[:20]}")


# -- tokens -------------------------------------------------------------------------------------

@pytest.mark.parametrize("token", ["mx_live_CANARYtoken0123456789", JWT,
                                   "hunter2-long-enough-xyz", "mx_test_0123456789"])
def test_tokens_of_every_shape_are_allowed(token: str) -> None:
    secret = read_token("MODULEX_API_KEY", {"MODULEX_API_KEY": f" {token}\n"})
    assert secret.reveal() == token
    assert redact(f"echo {token}") == "echo (sensitive)"


@pytest.mark.parametrize(("token", "says"), [
    ("xai-CANARYxaiKEY0123456789abcdef", "holds an xAI key (xai-...), not a ModuleX token"),
    ("mx_live_CANARY\u2019token0123", "non-ASCII character at position 15"),
    ("mx_live_CANARY\u00e9", "non-ASCII character at position 15"),
    ("mx_live_CANARY token", "space or control character at position 15"),
    ("mx_live_CANARY\x1b[31m", "space or control character at position 15"),
    ("short", "holds only 5 characters"),
])
def test_tokens_that_cannot_be_one_are_refused(token: str, says: str) -> None:
    with pytest.raises(SecretError) as info:
        read_token("MODULEX_API_KEY", {"MODULEX_API_KEY": token})
    error = info.value
    assert isinstance(error, MxsyncError) and error.hint
    assert error.message.startswith("$MODULEX_API_KEY holds") and says in error.message
    assert "CANARY" not in str(error) and "\u2019" not in str(error)


@settings(max_examples=300, deadline=None)
@given(prefix=st.sampled_from(["", " ", "xai-", "mx_live_", "eyJ"]),
       rest=st.text(st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_any_value_is_a_secret_or_a_clear_error(prefix: str, rest: str) -> None:
    """Whatever a variable holds: a token/key that redaction then hides, or a SecretError
    that does not show it -- never another exception."""
    value = prefix + "CANARY" + rest
    with isolated_registry():
        for read in (lambda: read_token("T", {"T": value}),
                     lambda: read_key(KeySource(env="T"), {"T": value})):
            shown = ""
            try:
                secret = read()
            except SecretError as exc:
                shown = str(exc)
            else:
                shown = redact(f"<{secret.reveal()}>")
                secret.reveal().encode("ascii")  # fit for an HTTP header
            assert "CANARY" not in shown


def test_an_unset_token() -> None:
    with pytest.raises(SecretError) as info:
        read_token("TOKEN_A", {"TOKEN_A": "  "})
    assert info.value.message == "environment variable TOKEN_A is not set"
    assert "mx_live_" in str(info.value)


def test_management_keys() -> None:
    env = {"XAI_MANAGEMENT_KEY": "xai-token-CANARYmanagement0123456789"}
    assert read_management_key("XAI_MANAGEMENT_KEY", env).reveal() == env["XAI_MANAGEMENT_KEY"]
    assert "CANARY" not in redact(env["XAI_MANAGEMENT_KEY"][:30])
    for value, says in [("mx_live_CANARYtoken0123456789", "holds a ModuleX token"),
                        ("CANARY\u00e9management", "non-ASCII character at position 7"),
                        ("", "is not set")]:
        with pytest.raises(SecretError) as info:
            read_management_key("XAI_MANAGEMENT_KEY", {"XAI_MANAGEMENT_KEY": value})
        assert says in info.value.message and "CANARY" not in str(info.value)


# -- through the CLI, as a user runs it ---------------------------------------------------------

@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A port that records whether anything connected, without ever answering."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield sock
    finally:
        sock.close()


def connections(sock: socket.socket) -> int:
    """Connections the kernel accepted on `sock` (they queue even if never accepted)."""
    sock.setblocking(False)
    count = 0
    while True:
        try:
            sock.accept()[0].close()
        except BlockingIOError:
            return count
        count += 1


def test_audit_without_a_token_is_a_clear_error(listener: socket.socket) -> None:
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    run = mxsync("audit", "--org", "org-a", "--api-url", url, env={})
    assert run.code == 1
    assert run.err.startswith("Error: environment variable MODULEX_API_KEY is not set")
    assert "internal error" not in run.both and connections(listener) == 0


@pytest.mark.parametrize("token", ["xai-CANARYxaiKEY0123456789abcdef", "mx_live_CANARY\u00e9x"])
def test_a_token_that_cannot_be_one_is_never_sent(listener: socket.socket, token: str) -> None:
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    run = mxsync("audit", "--org", "org-a", "--api-url", url, env={"MODULEX_API_KEY": token})
    assert run.code == 1 and run.err.startswith("Error: $MODULEX_API_KEY holds")
    assert "internal error" not in run.both and "CANARY" not in run.both
    assert connections(listener) == 0


def test_validate_check_env_refuses_hostile_key_files_at_once(tmp_path: Path) -> None:
    """A FIFO and /dev/zero would each hang or exhaust memory if they were read."""
    os.mkfifo(tmp_path / "fifo.key")
    (tmp_path / "mxsync.yaml").write_text(
        "version: 1\norgs:\n  - id: a\n    xai:\n      credentials:\n"
        "        - {name: fifo, api_key_file: fifo.key}\n"
        "        - {name: zero, api_key_file: /dev/zero}\n"
        f"        - {{name: folder, api_key_file: {tmp_path}}}\n")
    run = mxsync("validate", "-f", str(tmp_path / "mxsync.yaml"), "--check-env",
                 env={"MODULEX_API_KEY": "mx_live_CANARYtoken0123456789"}, timeout=60)
    assert run.code == 1 and "Traceback" not in run.both
    assert "is a FIFO (named pipe), not a regular file" in run.both
    assert "/dev/zero is a character device" in run.both
    assert "is a directory, not a regular file" in run.both
