"""Key documents: many keys in one variable or file, so 200 keys need one CI secret.

An entry with `api_key_field: NAME` takes its key from field NAME of the document held
in its `api_key_env` or `api_key_file`. The document is JSON (it starts with `{`),
dotenv (every line `NAME=value`, `export` allowed) or YAML (a mapping). Every text value
in it is registered for redaction the moment it is parsed, whether or not an entry
uses it, and no message ever quotes the document: a parse error says where (line and
column), never what.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from mxsync.errors import MxsyncError
from mxsync.secrets.redaction import register

MAX_DOCUMENT_BYTES = 1024 * 1024  # 200 keys take about 20 KiB

_DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=(.*)$")
_DOCUMENT_HINT = ("the document is JSON ({\"NAME\": \"xai-...\"}), YAML (NAME: xai-...) or "
                  "dotenv (NAME=xai-...), one field per key")


class DocumentError(MxsyncError):
    """The document cannot be read as one; the message names where, never its text."""


# Parsed documents by a digest of their text: 200 entries reading one document parse it
# once, and the text itself is not kept as a dictionary key.
_parsed: dict[str, dict[str, Any]] = {}


def fields_of(text: str, where: str) -> dict[str, Any]:
    """The document's fields; every text value in it is registered for redaction first."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    if digest not in _parsed:
        fields = _parse(text.removeprefix("\ufeff"), where)
        for value in fields.values():
            if isinstance(value, str):
                register(value.strip())
        _parsed[digest] = fields
    return _parsed[digest]


def _parse(text: str, where: str) -> dict[str, Any]:
    stripped = text.strip()
    if not stripped:
        raise DocumentError(f"the key document in {where} is empty", hint=_DOCUMENT_HINT)
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:  # its message names the rule, not the text
            raise DocumentError(
                f"the key document in {where} is not valid JSON (line {exc.lineno}, "
                f"column {exc.colno}: {exc.msg})", hint=_DOCUMENT_HINT) from None
    elif _is_dotenv(stripped):
        data = _dotenv(stripped)
    else:
        data = _yaml(stripped, where)
    if not isinstance(data, dict):
        raise DocumentError(f"the key document in {where} is not a mapping of names to keys",
                            hint=_DOCUMENT_HINT)
    return {str(k): v for k, v in data.items()}


def _is_dotenv(text: str) -> bool:
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return bool(lines) and all(_DOTENV_LINE.match(line) for line in lines)


def _dotenv(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        match = _DOTENV_LINE.match(line)
        if match is None:
            continue
        value = match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[match.group(1)] = value
    return out


def _yaml(text: str, where: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:  # its problem text may quote the document: not shown
        mark = exc.problem_mark
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise DocumentError(f"the key document in {where} is not valid JSON, YAML or dotenv{at}",
                            hint=_DOCUMENT_HINT) from None
    except yaml.YAMLError:
        raise DocumentError(f"the key document in {where} is not valid JSON, YAML or dotenv",
                            hint=_DOCUMENT_HINT) from None


def field_value(text: str, where: str, name: str) -> str:
    """Field `name` of the document `text` (from `where`, e.g. `$XAI_KEYS`), as text."""
    fields = fields_of(text, where)
    if name not in fields:
        raise DocumentError(f"the key document in {where} has no field {name}",
                            hint=f"add {name} to the document in {where} (or fix api_key_field)")
    value = fields[name]
    if not isinstance(value, str):
        raise DocumentError(f"field {name} of the key document in {where} is not text",
                            hint=f"set {name} to the xAI key (xai-...), quoted if need be")
    return value
