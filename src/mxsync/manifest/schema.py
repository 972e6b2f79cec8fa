"""JSON Schema validation, with errors rewritten for the person who wrote the file.

jsonschema's own messages quote the offending value (which may be a pasted key)
and speak in schema terms (`'x' does not match '^[A-Za-z_]...'`). Each error is
turned into a sentence that says what is wrong and what to write instead, and
never echoes a value.
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from importlib import resources
from typing import Any

from mxsync.manifest.problems import Problem, shown
from mxsync.manifest.yaml_positions import Path_, Positions

_TYPE_NAMES = {"string": "a string", "integer": "a whole number", "boolean": "true or false",
               "object": "a mapping", "array": "a list", "number": "a number", "null": "null"}
_INLINE_SECRET_KEYS = frozenset({"api_key", "token", "key", "secret", "auth_data"})


@cache
def manifest_schema() -> dict[str, Any]:
    text = resources.files("mxsync").joinpath("schemas/manifest.schema.json").read_text("utf-8")
    return json.loads(text)


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """Replace local `$ref`s by their targets: reference lookups are 40% of validation time."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = _inline_refs(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
            return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return {k: _inline_refs(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    return node


@cache
def _validator() -> Any:
    """jsonschema, only once the fast gate found a problem (it lists every error with its
    path). The schema itself is checked by the test suite, not on every run."""
    from jsonschema import Draft202012Validator

    schema = manifest_schema()
    return Draft202012Validator(_inline_refs(schema, schema.get("$defs", {})))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "nothing (null)"
    return {dict: "a mapping", list: "a list", str: "a string", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)


ACL_FORMS = ("api-key:model:<model id>", "api-key:model:*",
             "api-key:endpoint:<name> (chat, image, responses, ...)", "api-key:endpoint:*")
_ACL_EXAMPLES = ("api-key:model:*", "api-key:endpoint:chat", "api-key:endpoint:image",
                 "api-key:endpoint:responses", "api-key:endpoint:*")


def _acl_message(value: Any) -> str:
    """Which ACL forms exist, and the closest one when the value is a near miss."""
    forms = ", ".join(ACL_FORMS)
    close = (difflib.get_close_matches(value, _ACL_EXAMPLES, n=1, cutoff=0.8)
             if isinstance(value, str) and len(value) < 200 else [])
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"not an xAI key ACL: use one of {forms}{hint}"


def _pattern_message(path: Path_, schema: dict[str, Any], value: Any = None) -> str:
    field = path[-1] if path else ""
    parent = path[-2] if len(path) >= 2 else ""
    if parent == "acls":
        return _acl_message(value)
    if field == "rotate_after":
        return "not a duration: write a whole number of days or hours, like 30d or 12h"
    if field == "team_id":
        return "an xAI team id uses letters, digits, '.', '_', ':' and '-' (as the xAI Console shows it)"
    if parent in ("models", "require_models") or (field == "model" and parent == "assistant"):
        return ("not a model id: model ids start with a letter or digit and use letters, digits, "
                "'.', '_', ':', '/' and '-' (e.g. grok-4-fast)")
    if field in ("api_key_env", "token_env", "key_env"):
        return ("not a valid environment variable name: use letters, digits and _, "
                "not starting with a digit (e.g. XAI_KEY_ACME)")
    if field in ("base_url", "url"):
        return "must be an http:// or https:// URL with a host, and no spaces or line breaks"
    if field == "display_name":
        return "a display name may not contain line breaks, tabs or other control characters"
    if field == "adopt_id":
        return ("adopt_id is a credential_id as ModuleX shows it: no spaces or control "
                "characters, at most 256 characters")
    if field == "api_key_field":
        return ("a field name uses letters, digits, '_', '.' and '-' (at most 128 characters), "
                "e.g. XAI_KEY_ACME")
    if field == "id":
        return ("an org id may not be empty, longer than 256 characters, or contain spaces, "
                "line breaks or other control characters")
    if field == "name" and len(path) == 3 and path[0] == "orgs":
        return "a label may not contain line breaks, tabs or other control characters"
    if len(path) >= 2 and path[-2] == "metadata":
        return "label keys use letters, digits, '.', '_', '/' and '-', at most 63 characters"
    return (f"'{field}' must start with a letter or digit and use only letters, digits, "
            "'.', '_' and '-' (at most 63 characters, no line break at the end)")


def _flat_schema() -> dict[str, Any]:
    """The manifest schema with its `$ref`s inlined and no `$schema`: the inlined schema
    uses only draft-07 keywords, which fastjsonschema compiles."""
    schema = manifest_schema()
    flat = _inline_refs(schema, schema.get("$defs", {}))
    flat.pop("$schema", None)
    return flat


def _digest(flat: dict[str, Any]) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(flat, sort_keys=True).encode()).hexdigest()


GATE_MODULE = "mxsync.manifest.schema_gate"


def gate_source() -> str:
    """The fast gate as Python source, for `schema_gate.py`: shipped pre-generated so that a
    run imports it (from its .pyc) instead of generating and compiling ~170 kB of code on
    every start (20-40 ms, a third of a one-org validate)."""
    import re

    import fastjsonschema

    flat = _flat_schema()
    code = fastjsonschema.compile_to_code(flat)
    # The entry point is the first function, named after the schema's $id.
    entry = re.search(r"^def (\w+)\(data", code, re.MULTILINE)
    if entry is None:
        raise RuntimeError("fastjsonschema generated no validation function")
    return ("# Generated by mxsync.manifest.schema.gate_source() from schemas/manifest.schema.json:\n"
            "# do not edit. tests/test_startup.py says when it is out of date.\n"
            "# ruff: noqa\n"
            f"SCHEMA_DIGEST = {_digest(flat)!r}\n" + code + f"\n\nvalidate = {entry.group(1)}\n")


def write_gate() -> None:
    """Regenerate `schema_gate.py` after a change to the manifest schema."""
    from pathlib import Path

    Path(__file__).with_name("schema_gate.py").write_text(gate_source(), encoding="utf-8")


@cache
def _fast_check() -> Any:
    """The same schema compiled to plain Python by fastjsonschema: 10x faster on the common,
    valid case (0.07 s instead of 0.8 s for 20,000 credentials). jsonschema still lists the
    errors, because it reports all of them with their paths.

    The shipped, pre-generated gate is used when it was made from this very schema;
    otherwise (a schema edited without regenerating it) the gate is compiled here."""
    import importlib

    flat = _flat_schema()
    try:
        gate = importlib.import_module(GATE_MODULE)
    except ImportError:
        gate = None
    if gate is not None and getattr(gate, "SCHEMA_DIGEST", None) == _digest(flat):
        return gate.validate
    import fastjsonschema

    return fastjsonschema.compile(flat)


def is_schema_valid(data: Any) -> bool:
    import fastjsonschema

    try:
        _fast_check()(data)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def schema_problems(data: Any, positions: Positions) -> list[Problem]:
    if is_schema_valid(data):
        return []
    problems: list[Problem] = []
    for error in _validator().iter_errors(data):
        problems.extend(_translate(error, positions))
    return problems


def _translate(error: Any, positions: Positions) -> list[Problem]:
    path: Path_ = tuple(error.absolute_path)
    kind = error.validator
    if kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        out = []
        for key in extra:
            if key in _INLINE_SECRET_KEYS:
                message = (f"{shown(key)} is not allowed: secrets are never written in the manifest; "
                           "use api_key_env (an environment variable) or api_key_file instead")
            else:
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(allowed)}"
                if not path and not close:
                    hint += " (and x-NAME, ignored, to hold YAML anchors)"
                message = f"unknown key {shown(key)}: {hint}"
            out.append(positions.problem((*path, key), message, key=True))
        return out
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        if not path and missing == "version":
            return [positions.problem(path, (
                "missing required key 'version': start the file with `version: 1`"))]
        return [positions.problem(path, f"missing required key '{missing}'")]
    if kind == "type" and path and path[-1] == "rotate_after":
        return [positions.problem(path, "write a duration with its unit: 30d (days) or 12h (hours)")]
    if kind == "type":
        wanted = error.validator_value
        wanted_list = wanted if isinstance(wanted, list) else [wanted]
        wanted_text = " or ".join(_TYPE_NAMES.get(str(w), str(w)) for w in wanted_list)
        return [positions.problem(path, f"expected {wanted_text}, found {_kind(error.instance)}")]
    if kind == "const" and path == ("version",):
        if isinstance(error.instance, int) and not isinstance(error.instance, bool):
            return [positions.problem(path, "unsupported manifest version: this mxsync reads version 1")]
        return [positions.problem(path, (
            f"must be the number 1, not {_kind(error.instance)}: write `version: 1` (no quotes)"))]
    if kind == "pattern":
        return [positions.problem(path, _pattern_message(path, error.schema, error.instance))]
    if kind == "minItems" and path and path[-1] == "acls":
        return [positions.problem(path, (
            "a key with no ACL can call nothing: list what it may call, e.g. "
            "[\"api-key:model:*\", \"api-key:endpoint:chat\"]"))]
    if kind in ("minimum", "maximum") and path and path[-1] in ("qps", "qpm", "tpm"):
        return [positions.problem(path, f"'{path[-1]}' must be a whole number from 1 to 10^12")]
    if kind == "propertyNames":
        return [positions.problem(path, "label keys use letters, digits, '.', '_', '/' and '-', "
                                        "at most 63 characters")]
    if kind == "uniqueItems":
        return [positions.problem(path, "the list holds the same value twice")]
    if kind == "minLength":
        return [positions.problem(path, "may not be empty")]
    # Anything else: the schema's wording, with the value left out.
    return [positions.problem(path, f"does not satisfy the schema rule '{kind}'")]
