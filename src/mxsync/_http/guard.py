"""Which URLs a client may send a secret to: http(s) only, no user:password in the URL
(messages and logs show URLs), and plain http only to this machine."""

from __future__ import annotations

from urllib.parse import urlsplit

from mxsync.errors import MxsyncError
from mxsync.urls import cleartext_to_remote


def check_url(url: str, *, what: str, secret: str, setting_hint: str, secret_hint: str) -> str:
    """`url` without its trailing slash, or an MxsyncError that says what to change.

    `what` names the URL ("API URL"), `secret` what would travel ("the ModuleX token"),
    `setting_hint` where the URL is set, `secret_hint` where the secret comes from instead."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        parts = urlsplit("")
    if parts.username is not None or parts.password is not None:
        raise MxsyncError(
            f"the {what} carries a user name or password, which mxsync would show in messages; "
            "nothing was sent",
            hint=f"remove the user:password@ part: {secret_hint}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MxsyncError(f"{what} {url!r} is not an http(s) URL", hint=setting_hint)
    if cleartext_to_remote(url):
        raise MxsyncError(
            f"refusing to send {secret} over plain http to {parts.hostname}",
            hint="use https://, or an emulator on a loopback address (127.0.0.1, localhost, ::1)")
    return url.rstrip("/")
