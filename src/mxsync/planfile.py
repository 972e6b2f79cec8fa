"""The saved plan file: writing it, and reading one back as a `Plan` or a clear error.

Kept apart from the plan model (`mxsync.plan`): the model is what planner, executor and
renderers share; this is one way of storing it. The file's shape is described by
`schemas/planfile.schema.json`; `PLAN_FILE_FORMAT` changes whenever that shape does, and a
file of another format is refused with the command that makes a new one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mxsync.errors import MxsyncError
from mxsync.plan import PLAN_FILE_FORMAT, Action, MintSpec, Plan


def save_plan(plan: Plan, path: Path, extra: dict[str, Any] | None = None) -> None:
    """Atomic, mode 0600 from the first byte (a plan names which keys go where). The
    manifest's files are recorded relative to the plan file's folder. `extra`: top-level
    fields kept beside the plan (the policy verdict, mxsync.flows.policy); `load_plan`
    ignores them."""
    import os
    from dataclasses import replace

    from mxsync.files import atomic_write

    here = os.path.abspath(path.parent)
    relative = tuple(Path(os.path.relpath(os.path.abspath(f), here)).as_posix()
                     for f in plan.manifest_files)
    data = {**(extra or {}), **replace(plan, manifest_files=relative).to_dict()}
    atomic_write(path, json.dumps(data, indent=2, sort_keys=True) + "\n", mode=0o600)


def manifest_paths(plan: Plan, path: Path) -> list[Path]:
    """Where the saved plan's manifest files are, seen from here."""
    return [path.parent / f for f in plan.manifest_files]


MAX_PLAN_FILE_BYTES = 256 * 1024 * 1024


def load_plan(path: Path) -> Plan:
    """Read a saved plan; anything that is not one of this format is a clear error."""
    again = f"run `mxsync plan --out {path}` again"
    try:
        if path.stat().st_size > MAX_PLAN_FILE_BYTES:
            raise MxsyncError(f"{path} is too large to be an mxsync plan file", hint=again)
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MxsyncError(f"plan file {path} does not exist",
                          hint="create it with `mxsync plan --out FILE`") from None
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise MxsyncError(f"cannot read plan file {path}: {why}", hint=again) from None
    try:
        data = json.loads(text)
    except ValueError:
        if path.suffix in (".yaml", ".yml") or text.lstrip().startswith(("version:", "orgs:", "#")):
            raise MxsyncError(f"{path} is a manifest, not a saved plan",
                              hint=f"did you mean `mxsync apply -f {path}`?") from None
        raise MxsyncError(f"plan file {path} is damaged (not JSON)", hint=again) from None
    if not isinstance(data, dict) or "mxsync_plan_file" not in data:
        raise MxsyncError(f"{path} is not an mxsync plan file",
                          hint="create one with `mxsync plan --out FILE`")
    if data["mxsync_plan_file"] != PLAN_FILE_FORMAT:
        raise MxsyncError(
            f"plan file {path} has format {data['mxsync_plan_file']!r} (written by mxsync "
            f"{data.get('mxsync_version') or 'unknown'}); this mxsync reads format {PLAN_FILE_FORMAT}",
            hint=f"{again} with this version")
    unknown = _raw_problem(data) or _schema_problem(data)
    if unknown:
        raise MxsyncError(f"plan file {path} is damaged ({unknown})", hint=again)
    try:
        plan = Plan.from_dict(data)
        problem = _shape_problem(data, plan)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise MxsyncError(f"plan file {path} is damaged (a field is missing or of the wrong "
                          "kind)", hint=again) from None
    if problem:
        raise MxsyncError(f"plan file {path} is damaged ({problem})", hint=again)
    return plan


_OPTIONAL_TEXT = (str, type(None))
_OPTIONAL_MAP = (dict, type(None))
_OPTIONAL_INT = (int, type(None))
# The fields a renderer or the executor uses as they are: each must have its type.
_ORG_TYPES: dict[str, tuple[type, ...]] = {
    "org": (str,), "token_env": (str,), "label": _OPTIONAL_TEXT, "live_digest": _OPTIONAL_TEXT,
    "unmanaged": (int,), "settings_read": (bool,)}
_CHANGE_TYPES: dict[str, tuple[type, ...]] = {
    "action": (str,), "org": (str,), "name": (str,), "credential_id": _OPTIONAL_TEXT,
    "fingerprint": _OPTIONAL_TEXT, "base_url": _OPTIONAL_TEXT, "expires_at": _OPTIONAL_TEXT,
    "display_name": _OPTIONAL_TEXT, "metadata": _OPTIONAL_MAP, "make_default": (bool,),
    "test": (bool,), "model_id": _OPTIONAL_TEXT, "credential_from": (int, type(None)),
    "old_was_default": (bool,), "old_was_pinned": (bool,),
    "before": _OPTIONAL_MAP, "after": _OPTIONAL_MAP, "mint": (MintSpec, type(None))}


_MINT_TYPES: dict[str, tuple[type, ...]] = {
    "team_id": (str,), "key_env": (str,), "url": (str,), "old_key_id": _OPTIONAL_TEXT,
    "qps": _OPTIONAL_INT, "qpm": _OPTIONAL_INT, "tpm": _OPTIONAL_INT}


_ACTIONS = frozenset(Action)


def _raw_problem(data: dict[str, Any]) -> str | None:
    """What the typed model would refuse only as a bare ValueError or TypeError: an action
    apply does not know, a `mint` that is not an object."""
    files = data.get("manifest_files", [])
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return "manifest_files is not a list of paths"
    orgs = data.get("orgs")
    for org in orgs if isinstance(orgs, list) else ():
        changes = org.get("changes") if isinstance(org, dict) else None
        for index, change in enumerate(changes if isinstance(changes, list) else ()):
            if not isinstance(change, dict):
                continue
            action = change.get("action")
            if isinstance(action, str) and action not in _ACTIONS:
                return f"unknown action {action!r} in org {org.get('org')}"
            mint = change.get("mint")
            if not isinstance(mint, dict | None):
                return f"change {index} of org {org.get('org')}: mint is {type(mint).__name__}"
    return None


def _schema_problem(data: dict[str, Any]) -> str | None:
    """Every field against the published schema of the plan file, so a damaged file is an
    error that names the field (`orgs[0].changes[1].depends_on: 5 is not of type 'array'`).

    fastjsonschema compiles the schema once per run: a 10,000-change plan is checked in a
    fraction of a second (jsonschema took ~7 s)."""
    import fastjsonschema

    try:
        _validator()(data)
    except fastjsonschema.JsonSchemaValueException:
        pass
    else:
        return None
    # Damaged: jsonschema (slower, only now) names the innermost field at fault.
    import jsonschema

    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(_schema()).iter_errors(data))
    if error is None:  # the two validators disagree: say what the fast one saw
        return "it does not follow the plan file's schema"
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"{where.lstrip('.') or 'the top level'}: {error.message[:200]}"


_VALIDATOR: list[Any] = []


def _schema() -> dict[str, Any]:
    from importlib import resources

    return dict(json.loads(resources.files("mxsync").joinpath("schemas/planfile.schema.json")
                           .read_text("utf-8")))


def _validator() -> Any:
    if not _VALIDATOR:
        import fastjsonschema

        _VALIDATOR.append(fastjsonschema.compile(_schema()))
    return _VALIDATOR[0]


def _wrong_types(value: object, types: dict[str, tuple[type, ...]]) -> str | None:
    for name, allowed in types.items():
        got = getattr(value, name, None)
        if not isinstance(got, allowed) or (isinstance(got, bool) and bool not in allowed):
            return f"{name} is {type(got).__name__}"
    return None


def _shape_problem(data: dict[str, Any], plan: Plan) -> str | None:
    """What `from_dict` lets through but apply cannot carry out: lists that are not lists,
    an action apply does not know (it would silently do nothing), a dependency on a change
    that is not there."""
    for org in data["orgs"]:
        for key in ("changes", "orphans", "known_ids", "errors", "notes"):
            if not isinstance(org.get(key, []), list):
                return f"{key} of org {org.get('org')!r} is not a list"
    for org_plan in plan.orgs:
        wrong = _wrong_types(org_plan, _ORG_TYPES)
        if wrong:
            return f"org {org_plan.org!r}: {wrong}"
        for index, change in enumerate(org_plan.changes):
            wrong = _wrong_types(change, _CHANGE_TYPES)
            if wrong:
                return f"change {index} of org {org_plan.org}: {wrong}"
            if change.mint is not None:
                wrong = _wrong_types(change.mint, _MINT_TYPES)
                if wrong:
                    return f"change {index} of org {org_plan.org}: mint {wrong}"
            if any(not isinstance(d, int) or not 0 <= d < len(org_plan.changes) or d == index
                   for d in change.depends_on):
                return f"{change.address}: depends_on names a change that is not in the plan"
    return None
