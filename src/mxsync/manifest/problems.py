"""A problem found in a manifest, located to the character.

A problem may quote what the user wrote (a key, a name) so that it can be found; it must
never carry a secret pasted where a name belongs. Every quote goes through `shown`, and
every problem's path and message are redacted once more as they are made.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

from mxsync.secrets import looks_like_secret, redact

Severity = Literal["error", "warning"]

_MAX_SHOWN = 64
NO_SUCH_FILE = "no such file or folder"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def looks_random(text: str) -> bool:
    """True for text shaped like a generated token rather than a name a person chose:
    long, with lower case, upper case and digits mixed, and few separators. Names such as
    XAI_KEY_ACME_PRIMARY or cost-center-4711 are not; most API keys and tokens are."""
    if len(text) < 20:
        return False
    kinds = sum((any(c.islower() for c in text), any(c.isupper() for c in text),
                 any(c.isdigit() for c in text)))
    separators = sum(c in "_-. " for c in text)
    return kinds >= 3 or (kinds == 2 and separators * 12 < len(text) and len(text) >= 32)


def is_showable(text: str) -> bool:
    return not (len(text) > _MAX_SHOWN or _CONTROL.search(text) or looks_like_secret(text)
                or looks_random(text))


def shown(text: object) -> str:
    """`'text'` when it is safe to repeat, else a description that does not repeat it."""
    value = str(text)
    if is_showable(value):
        return f"'{value}'"
    if looks_like_secret(value) or looks_random(value):
        return "(not shown: it looks like a secret)"
    return f"(not shown: {len(value):,} characters)" if len(value) > _MAX_SHOWN else "(not shown)"


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    column: int
    path: str
    message: str
    severity: Severity = "error"

    def __post_init__(self) -> None:
        # The last line of defence: whatever a check wrote, no secret-shaped text leaves.
        object.__setattr__(self, "path", redact(self.path))
        object.__setattr__(self, "message", redact(self.message))

    def format(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        if self.message.startswith(NO_SUCH_FILE) and (self.line, self.column) == (1, 1):
            # Nothing was read: there is no line, column or path to point at.
            return f"{NO_SUCH_FILE}: {self.file}{self.message[len(NO_SUCH_FILE):]}"
        return f"{self.file}:{self.line}:{self.column}: {self.path}: {prefix}{self.message}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def render_path(path: tuple[str | int, ...]) -> str:
    """`("orgs", 0, "xai", "credentials", 1, "api_key_env")` -> `orgs[0].xai.credentials[1].api_key_env`.

    A key that is not safe to repeat (see `shown`) is written as `<key>`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        name = part if is_showable(part) else "<key>"
        text += f".{name}" if text else name
    return text or "(top)"


def summary(problems: list[Problem]) -> str:
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    parts = [f"{errors} error{'s' if errors != 1 else ''}"]
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return ", ".join(parts) + "."
