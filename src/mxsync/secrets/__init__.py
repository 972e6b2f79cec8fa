"""The only package that ever holds a key or token in clear.

Everything downstream works with fingerprints and the *names* of the variables or
files a key came from. A `Secret` refuses to show its value in any representation,
and every value it holds is registered so that `redact` removes it -- and any long
prefix of it -- from any text, whatever its shape (`redaction`). `reading` turns
environment variables and key files into checked `Secret`s.
"""

from __future__ import annotations

from mxsync.secrets.reading import (
    MAX_KEY_FILE_BYTES,
    XAI_KEY_PATTERN,
    KeySource,
    SecretError,
    check_token,
    is_xai_key,
    read_key,
    read_key_file,
    read_management_key,
    read_token,
)
from mxsync.secrets.redaction import (
    MIN_FRAGMENT,
    MIN_SECRET_LENGTH,
    SENSITIVE,
    RedactingFormatter,
    clip,
    install_log_redaction,
    isolated_registry,
    looks_like_secret,
    redact,
    register,
)
from mxsync.secrets.value import Secret, fingerprint, mask_matches

__all__ = [
    "MAX_KEY_FILE_BYTES",
    "MIN_FRAGMENT",
    "MIN_SECRET_LENGTH",
    "SENSITIVE",
    "XAI_KEY_PATTERN",
    "KeySource",
    "RedactingFormatter",
    "Secret",
    "SecretError",
    "check_token",
    "clip",
    "fingerprint",
    "install_log_redaction",
    "is_xai_key",
    "isolated_registry",
    "looks_like_secret",
    "mask_matches",
    "read_key",
    "read_key_file",
    "read_management_key",
    "read_token",
    "redact",
    "register",
]
