"""The only module that ever holds a key or token in clear.

Everything downstream works with fingerprints and the *names* of the variables or
files a key came from. A `Secret` refuses to show its value in `repr`, `str`,
f-strings, pickles or JSON, so an accidental log line or traceback prints
`(sensitive)` instead of the key.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

XAI_KEY_PATTERN = r"^xai-[a-zA-Z0-9\-_]{20,}$"
_XAI_KEY_RE = re.compile(XAI_KEY_PATTERN)

# What a secret looks like *anywhere* in free text. Used by redaction and by the
# manifest check that forbids inline secrets. The xAI class matches the
# service's own key alphabet; a ModuleX token is `mx_live_` + anything tokenish.
_SECRET_IN_TEXT_RE = re.compile(r"xai-[A-Za-z0-9\-_]{20,}|mx_(?:live|test)_[A-Za-z0-9\-_]+")

SENSITIVE = "(sensitive)"


def fingerprint(key: str) -> str:
    """Truncated SHA-256 (architecture.md, fixed point 2): shows a change, hides the key."""
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def is_xai_key(value: str) -> bool:
    return bool(_XAI_KEY_RE.match(value))


def looks_like_secret(text: str) -> bool:
    return bool(_SECRET_IN_TEXT_RE.search(text))


def redact(text: str, extra: tuple[str, ...] = ()) -> str:
    """Replace anything that looks like a key or token, and any known secret value."""
    for value in extra:
        if value:
            text = text.replace(value, SENSITIVE)
    return _SECRET_IN_TEXT_RE.sub(SENSITIVE, text)


def mask_matches(masked: str | None, key: str) -> bool:
    """True when a service-masked key (`xai-ab12...wxyz`) can be `key`.

    The service's choice of how many characters to keep is not part of the
    contract, so only the shape is used: the part before `...` must be a prefix
    of the key and the part after it a suffix, and together they must not claim
    more characters than the key has.
    """
    if not masked or "..." not in masked:
        return False
    head, _, tail = masked.partition("...")
    if not head and not tail:
        return False
    return len(head) + len(tail) <= len(key) and key.startswith(head) and key.endswith(tail)


class Secret:
    """A key or token value that cannot be printed by accident."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value, for the one place that must send it (an HTTP body or header)."""
        return self._value

    @property
    def fingerprint(self) -> str:
        return fingerprint(self._value)

    def matches_mask(self, masked: str | None) -> bool:
        return mask_matches(masked, self._value)

    def __repr__(self) -> str:
        return f"Secret({SENSITIVE})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> object:
        raise TypeError("a Secret cannot be pickled")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class KeySource:
    """Where a key comes from: an environment variable or a file. Never the key."""

    env: str | None = None
    file: str | None = None

    def describe(self) -> str:
        return f"${self.env}" if self.env else f"file {self.file}"


class SecretError(Exception):
    """A key could not be read or is malformed; the message never holds the value."""


def read_key(source: KeySource, environ: dict[str, str] | None = None) -> Secret:
    """Read and check one xAI key. The error says which variable/file and what to do."""
    env = os.environ if environ is None else environ
    if source.env:
        value = env.get(source.env)
        if value is None or value == "":
            raise SecretError(
                f"environment variable {source.env} is not set; export it with the xAI key "
                "(xai-...) this entry should store"
            )
    else:
        assert source.file is not None
        try:
            value = Path(source.file).read_text(encoding="utf-8")
        except OSError as exc:
            raise SecretError(
                f"cannot read key file {source.file}: {exc.strerror or exc}; "
                "create it with the xAI key, or fix api_key_file"
            ) from None
    value = value.strip()
    if not is_xai_key(value):
        raise SecretError(
            f"the value in {source.describe()} is not an xAI key "
            f"(expected the pattern {XAI_KEY_PATTERN}); check that it holds the right key"
        )
    return Secret(value)


def read_token(env_name: str, environ: dict[str, str] | None = None) -> Secret:
    env = os.environ if environ is None else environ
    value = (env.get(env_name) or "").strip()
    if not value:
        raise SecretError(
            f"environment variable {env_name} is not set; export the ModuleX API key "
            "(mx_live_...) of an owner or admin of the org"
        )
    return Secret(value)
