"""`Secret`: a key or token that cannot be shown by accident, and what may be shown instead."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, NoReturn

from mxsync.secrets.redaction import SENSITIVE, register


def fingerprint(key: str) -> str:
    """Truncated SHA-256: a plan can show that a key changed without showing the key."""
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


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
    """A key or token value that cannot be printed, logged, pickled or serialised by accident.

    Every representation (`repr`, `str`, `format`, `%s`, exception arguments) is
    `Secret((sensitive))`; pickling and JSON refuse with a message that holds no
    value; copies are the same object (it is immutable). The value is registered
    for redaction when the `Secret` is made and again whenever it is revealed, so
    `redact` removes it from any text even if it escapes through `reveal()`.
    """

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"a Secret holds a str, not {type(value).__name__}")
        register(value)
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """The value, for the one place that must send it (an HTTP body or header)."""
        register(self._value)
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

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError("a Secret cannot be changed")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("a Secret cannot be changed")

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("a Secret cannot be pickled or serialised")

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled or serialised")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode("utf-8"), other._value.encode("utf-8"))

    def __hash__(self) -> int:
        return hash(self._value)
