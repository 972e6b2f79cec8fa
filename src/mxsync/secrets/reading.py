"""Reading keys and tokens from where the manifest says, refusing anything that is not one.

A key file is read only if it is a regular file of at most `MAX_KEY_FILE_BYTES`
in UTF-8: a FIFO, a device such as /dev/zero, a directory or a huge file is
refused at once, before anything is read (the file is opened non-blocking, so a
FIFO without a writer cannot hang a run, and checked with `fstat` on the open
descriptor, so what is checked is what is read). A key file that group or
others may read is accepted with a warning; one that group or others may write
is refused, as is one in a folder that others may write without the sticky bit
(as /tmp has): whoever can write there could swap the key that mxsync stores.
Group-writable folders are accepted, since a user's private group (umask 002)
makes every folder so.

A token is refused before it is sent anywhere when it cannot be one: an xAI
key where the ModuleX token belongs, a non-ASCII or control character (httpx
would fail deep inside with UnicodeEncodeError), or fewer than
`MIN_SECRET_LENGTH` characters. ModuleX API keys (`mx_live_...`), session JWTs
and any other shape stay allowed. An xAI management key gets the same header
checks and is refused when it is a ModuleX token.

Errors name the variable or file and never hold the value or its bytes.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from dataclasses import dataclass

from mxsync.errors import MxsyncError
from mxsync.secrets.documents import MAX_DOCUMENT_BYTES, DocumentError, field_value
from mxsync.secrets.redaction import MIN_SECRET_LENGTH
from mxsync.secrets.value import Secret

XAI_KEY_PATTERN = r"^xai-[a-zA-Z0-9\-_]{20,}$"
_XAI_KEY_RE = re.compile(XAI_KEY_PATTERN)

MAX_KEY_FILE_BYTES = 64 * 1024

log = logging.getLogger("mxsync.secrets")

_KEY_HINT = "put the xAI key (xai-...) this entry should store there, and nothing else"
_TOKEN_HINT = ("a ModuleX token is the API key (mx_live_...) or a session JWT of an owner or "
               "admin of the org")


def is_xai_key(value: str) -> bool:
    return bool(_XAI_KEY_RE.match(value))


@dataclass(frozen=True)
class KeySource:
    """Where a key comes from: an environment variable or a file. Never the key."""

    env: str | None = None
    file: str | None = None
    field: str | None = None  # the key is this field of the document held in env or file

    def describe(self) -> str:
        where = f"${self.env}" if self.env else f"file {self.file}"
        return f"field {self.field} of {where}" if self.field else where


class SecretError(MxsyncError):
    """A key or token could not be read or is malformed; the message never holds the value.

    It reads as one line, `message; hint`, because callers embed it in their own
    lines (a validate problem at FILE:LINE:COL, one line per entry in a run's
    list of unreadable secrets); `message` and `hint` are there for callers that
    place them apart.
    """

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


def read_key(source: KeySource, environ: dict[str, str] | None = None,
             warnings: list[str] | None = None) -> Secret:
    """Read and check one xAI key. The error says which variable/file and what to do.

    Warnings (a key file others may read) are appended to `warnings` when it is
    given, so the caller can place them (validate shows them at the manifest line);
    otherwise each is logged once per file on the `mxsync.secrets` logger, prefixed
    "warning:" (Python's last-resort handler prints it on stderr as it is).
    """
    if source.env:
        env = os.environ if environ is None else environ
        value = env.get(source.env)
        if value is None or value == "":
            what = ("the key document (JSON, YAML or dotenv) with field " + source.field
                    if source.field else "the xAI key (xai-...) this entry should store")
            raise SecretError(f"environment variable {source.env} is not set",
                              hint=f"export {source.env} with {what}")
    elif source.file:
        value, found = read_key_file(source.file, MAX_DOCUMENT_BYTES if source.field
                                     else MAX_KEY_FILE_BYTES)
        _warn(found, warnings)
    else:
        raise SecretError("this entry names neither an environment variable nor a file for its key",
                          hint="set api_key_env or api_key_file")
    if source.field:
        where = f"${source.env}" if source.env else f"file {source.file}"
        try:
            value = field_value(value, where, source.field)
        except DocumentError as exc:
            raise SecretError(exc.message, hint=exc.hint) from None
    value = value.strip()
    if not is_xai_key(value):
        raise SecretError(
            f"the value in {source.describe()} is not an xAI key "
            f"(expected the pattern {XAI_KEY_PATTERN}){_shape_note(value)}",
            hint=f"check that it holds the right key; {_KEY_HINT}")
    return Secret(value)


_warned: set[str] = set()


def _warn(found: list[str], warnings: list[str] | None) -> None:
    if warnings is not None:
        warnings.extend(found)
        return
    for message in found:
        if message not in _warned:
            _warned.add(message)
            log.warning("warning: %s", message)  # said as validate says it


def _shape_note(value: str) -> str:
    """What the value is instead, when that is safe to say (only public prefixes)."""
    if value.startswith(("mx_live_", "mx_test_")):
        return "; it looks like a ModuleX token (mx_live_...)"
    if value.startswith("eyJ") and value.count(".") == 2:
        return "; it looks like a session token (JWT)"
    if not value:
        return "; it is empty"
    return ""


def read_key_file(path: str, limit: int = MAX_KEY_FILE_BYTES) -> tuple[str, list[str]]:
    """The text of a key file (or key document, with a larger `limit`) and any warnings
    about it; SecretError if it cannot be one."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise SecretError(f"cannot read key file {path}: {exc.strerror or type(exc).__name__}",
                          hint=f"create it with the xAI key, or fix api_key_file; {_KEY_HINT}"
                          ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SecretError(f"key file {path} is {_kind(info.st_mode)}, not a regular file",
                              hint=f"point api_key_file at a regular file; {_KEY_HINT}")
        if info.st_size > limit:
            raise SecretError(
                f"key file {path} is {info.st_size:,} bytes; a key file holds one key and may "
                f"be at most {limit // 1024} KiB",
                hint=f"check that api_key_file names the key file; {_KEY_HINT}")
        data = _read_at_most(fd, limit + 1, path)
    finally:
        os.close(fd)
    if len(data) > limit:  # it grew while being read
        raise SecretError(f"key file {path} is larger than {limit // 1024} KiB",
                          hint=_KEY_HINT)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SecretError(f"key file {path} is not UTF-8 text (invalid byte at offset {exc.start})",
                          hint=f"save it as plain text; {_KEY_HINT}") from None
    _refuse_swappable(path, info.st_mode)
    return text.removeprefix("\ufeff"), _permission_warnings(path, info.st_mode)


def _read_at_most(fd: int, limit: int, path: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        try:
            chunk = os.read(fd, limit - size)
        except OSError as exc:
            raise SecretError(f"cannot read key file {path}: {exc.strerror or type(exc).__name__}",
                              hint=_KEY_HINT) from None
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _who(mode: int, group_bit: int, other_bit: int) -> str:
    return " and ".join(name for bit, name in ((group_bit, "its group"), (other_bit, "others"))
                        if mode & bit)


def _refuse_swappable(path: str, mode: int) -> None:
    """SecretError when someone other than its owner could replace the key in the file."""
    if os.name != "posix":
        return
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise SecretError(
            f"key file {path} is writable by {_who(mode, stat.S_IWGRP, stat.S_IWOTH)} "
            f"(mode {stat.S_IMODE(mode):04o}): whoever can write it could swap the key that "
            "mxsync stores, so mxsync does not use it",
            hint=f"run `chmod go-w {path}` (or `chmod 600 {path}`) and check that it still "
                 "holds your key")
    for folder in _folders(path):
        try:
            folder_mode = os.stat(folder).st_mode
        except OSError:
            continue
        if folder_mode & stat.S_IWOTH and not folder_mode & stat.S_ISVTX:
            raise SecretError(
                f"key file {path} is in the folder {folder}, which anyone may write "
                f"(mode {stat.S_IMODE(folder_mode):04o}, without the sticky bit): anyone could "
                "replace the key file, so mxsync does not use it",
                hint=f"run `chmod o-w {folder}` (or `chmod +t {folder}`), or move the key file "
                     "to a folder only you may write")


def _folders(path: str) -> list[str]:
    """Every folder above the file, as named and as resolved: renaming any of them swaps it."""
    found: list[str] = []
    for start in (os.path.abspath(path), os.path.realpath(path)):
        folder = os.path.dirname(start)
        while folder not in found:
            found.append(folder)
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent
    return found


def _permission_warnings(path: str, mode: int) -> list[str]:
    if os.name != "posix" or not mode & (stat.S_IRGRP | stat.S_IROTH):
        return []
    who = _who(mode, stat.S_IRGRP, stat.S_IROTH)
    return [f"key file {path} is readable by {who} (mode {stat.S_IMODE(mode):04o}); "
            f"restrict it with `chmod 600 {path}`"]


def read_token(env_name: str, environ: dict[str, str] | None = None) -> Secret:
    """Read the ModuleX token and refuse, before it is sent anywhere, what cannot be one."""
    env = os.environ if environ is None else environ
    value = (env.get(env_name) or "").strip()
    if not value:
        raise SecretError(f"environment variable {env_name} is not set",
                          hint=f"export {env_name}: {_TOKEN_HINT}")
    check_token(value, f"${env_name}")
    return Secret(value)


def check_token(value: str, where: str) -> None:
    """SecretError when `value` (from `where`, e.g. `$MODULEX_API_KEY`) cannot be a ModuleX token.

    The message names the position of a bad character, never the character
    itself, and never the value.
    """
    if value.startswith("xai-"):
        raise SecretError(
            f"{where} holds an xAI key (xai-...), not a ModuleX token; it was not sent anywhere",
            hint=f"{_TOKEN_HINT}; the xAI key belongs in the variable or file that the "
                 "manifest entry names (api_key_env / api_key_file)")
    _check_bearer(value, where, _TOKEN_HINT)


def read_management_key(env_name: str, environ: dict[str, str] | None = None) -> Secret:
    """Read an xAI management key (a Bearer value for the xAI Management API).

    Its shape is not documented, so only what cannot be one is refused: a ModuleX
    token, or anything that cannot travel in an HTTP header.
    """
    env = os.environ if environ is None else environ
    value = (env.get(env_name) or "").strip()
    hint = "create a management key in the xAI Console (Settings -> Management Keys)"
    if not value:
        raise SecretError(f"environment variable {env_name} is not set",
                          hint=f"export {env_name}: {hint}")
    if value.startswith(("mx_live_", "mx_test_")):
        raise SecretError(f"${env_name} holds a ModuleX token, not an xAI management key; "
                          "it was not sent anywhere", hint=hint)
    _check_bearer(value, f"${env_name}", hint)
    return Secret(value)


def _check_bearer(value: str, where: str, hint: str) -> None:
    """Refuse what cannot travel as `Authorization: Bearer <value>` (or be redacted)."""
    if value[:6].lower() == "bearer" and value[6:7].isspace():
        raise SecretError(f"{where} starts with 'Bearer ': drop the Bearer prefix; mxsync adds "
                          "it itself, and the value was not sent anywhere",
                          hint=f"set {where} to the token alone")
    for index, char in enumerate(value):
        if not char.isascii():
            raise SecretError(
                f"{where} holds a non-ASCII character at position {index + 1}; "
                "a token is plain ASCII",
                hint="copy it again; a typographic quote, dash or space often slips in "
                     "when it is pasted from a document")
        if not char.isprintable() or char.isspace():
            raise SecretError(
                f"{where} holds a space or control character at position {index + 1}",
                hint="copy it again, as one word with nothing around it")
    if len(value) < MIN_SECRET_LENGTH:
        raise SecretError(f"{where} holds only {len(value)} characters; no real token is that short",
                          hint=hint)
