"""The plan as plain data, and the saved plan file.

A plan holds everything `apply PLANFILE` needs and nothing secret: per org the
digest of the live state it was computed against, the ordered changes, the
fingerprints of the keys to store and the *names* of the variables or files they
come from, and the token variable to use. Keys and tokens are read again at
apply time and must match.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from mxsync import __version__
from mxsync.errors import MxsyncError
from mxsync.secrets import KeySource

Action = Literal["create", "replace", "update", "adopt", "delete", "set-default", "set-models",
                 "set-assistant"]
# 2: reasons, errors and notes are codes with parameters; field diffs are left to renderers.
PLAN_FILE_FORMAT = 2
# The order in which a plan lists (and apply runs) the changes of one org.
# Org settings come after the creates (the Assistant may move to a new credential) and before
# the deletes (nothing is deleted while the Assistant still runs on it).
ACTION_ORDER: dict[str, int] = {"create": 0, "replace": 1, "set-default": 2, "set-models": 3,
                                "set-assistant": 3, "update": 4, "adopt": 5, "delete": 6}
SETTINGS_ACTIONS = ("set-models", "set-assistant")


@dataclass(frozen=True)
class Reason:
    """Why a change, error or note exists: a stable code and the values it depends on.

    Codes, not sentences, so that audit, the plan file and every renderer read the same
    facts; `render.reasons.sentence` turns one into words (the codes are listed there)."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "params": self.params}

    @classmethod
    def from_dict(cls, data: Any) -> Reason:
        if not isinstance(data, dict) or not isinstance(data.get("code"), str):
            raise TypeError(f"a reason must be {{code, params}}, not {type(data).__name__}")
        return cls(data["code"], dict(data.get("params") or {}))


@dataclass(frozen=True)
class Change:
    action: Action
    org: str
    name: str
    reason: Reason
    credential_id: str | None = None  # the live credential acted on (replace: the old one)
    key: KeySource | None = None  # create/replace: where the new key comes from
    fingerprint: str | None = None  # create/replace/adopt: the key's fingerprint
    base_url: str | None = None
    expires_at: str | None = None
    display_name: str | None = None
    metadata: dict[str, Any] | None = None  # the whole metadata to write
    make_default: bool = False
    test: bool = False
    models: tuple[str, ...] | None = None  # set-models: the visible models; () = the full catalog
    model_id: str | None = None  # set-assistant: the Assistant's model
    credential_from: int | None = None  # set-assistant: the change whose new credential it uses
    before: dict[str, Any] | None = None  # non-sensitive attribute views, for rendering
    after: dict[str, Any] | None = None
    depends_on: tuple[int, ...] = ()  # indexes of changes (same org) that must succeed first
    # A minted key (see mxsync.minting.plan): where and how to mint, and the xAI key to delete
    # once its credential is gone. Never a secret.
    mint: dict[str, Any] | None = None

    @property
    def address(self) -> str:
        """`ORG/xai/NAME`; a delete names the exact live credential, since a duplicate
        shares its entry's name with the credential that is kept."""
        suffix = f"[{self.credential_id}]" if self.action == "delete" else ""
        if self.action == "delete" and self.credential_id is None and self.mint:
            suffix = f"[xai key {self.mint.get('old_key_id')}]"  # a key at xAI with no credential
        return f"{self.org}/xai/{self.name}{suffix}"

    @property
    def label(self) -> str:
        """The action as a plan shows it: a minted key is `create (minted)`, and its
        replacement a `rotate`."""
        if self.mint and self.action == "create":
            return "create (minted)"
        if self.mint and self.action == "replace":
            return "rotate"
        return self.action

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["key"] = asdict(self.key) if self.key else None
        data["reason"] = self.reason.to_dict()
        data["depends_on"] = list(self.depends_on)
        data["models"] = None if self.models is None else list(self.models)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Change:
        data = dict(data)
        data["key"] = KeySource(**data["key"]) if data.get("key") else None
        data["reason"] = Reason.from_dict(data.get("reason"))
        data["depends_on"] = tuple(data.get("depends_on") or ())
        data["models"] = None if data.get("models") is None else tuple(data["models"])
        return cls(**data)


@dataclass(frozen=True)
class OrgPlan:
    org: str
    token_env: str
    label: str | None = None
    live_digest: str | None = None
    changes: tuple[Change, ...] = ()
    unmanaged: int = 0
    orphans: tuple[str, ...] = ()  # ours, no longer listed, kept because prune is off
    known_ids: tuple[str, ...] = ()  # credential ids live when planned
    settings_read: bool = False  # the live digest covers the org settings too
    errors: tuple[Reason, ...] = ()  # the org cannot be applied while there are any
    notes: tuple[Reason, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["changes"] = [c.to_dict() for c in self.changes]
        for key in ("orphans", "known_ids"):
            data[key] = list(data[key])
        for key in ("errors", "notes"):
            data[key] = [r.to_dict() for r in getattr(self, key)]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OrgPlan:
        data = dict(data)
        data["changes"] = tuple(Change.from_dict(c) for c in data.get("changes") or ())
        for key in ("orphans", "known_ids"):
            data[key] = tuple(data.get(key) or ())
        for key in ("errors", "notes"):
            data[key] = tuple(Reason.from_dict(r) for r in data.get(key) or ())
        return cls(**data)


@dataclass(frozen=True)
class Plan:
    owner: str
    orgs: tuple[OrgPlan, ...] = ()
    manifest_digest: str = ""
    api_url: str | None = None
    mxsync_version: str = __version__
    format_version: int = PLAN_FILE_FORMAT
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def changes(self) -> list[Change]:
        return [c for o in self.orgs for c in o.changes]

    @property
    def errors(self) -> list[tuple[str, Reason]]:
        """(org, error) for every org that cannot be applied as planned."""
        return [(o.org, e) for o in self.orgs for e in o.errors]

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def summary(self) -> dict[str, int]:
        counts = Counter(c.action for c in self.changes)
        # A default change is one the user sees: a set-default, or a create/replace that takes
        # the default (a replace of the default credential keeps it on the same entry).
        moves = sum(1 for c in self.changes if c.make_default
                    and not (c.action == "replace" and (c.before or {}).get("is_default")))
        return {
            "create": counts["create"],
            "replace": counts["replace"],
            "update": counts["update"],
            "delete": counts["delete"],
            "adopt": counts["adopt"],
            "set_default": counts["set-default"] + moves,
            "set_models": counts["set-models"],
            "set_assistant": counts["set-assistant"],
            "unmanaged": sum(o.unmanaged for o in self.orgs),
            "errors": len(self.errors),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "mxsync_plan_file": self.format_version,
            "mxsync_version": self.mxsync_version,
            "owner": self.owner,
            "manifest_digest": self.manifest_digest,
            "api_url": self.api_url,
            "options": self.options,
            "orgs": [o.to_dict() for o in self.orgs],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        """`load_plan` checks the format first; this trusts the shape and may raise
        KeyError/TypeError on a damaged file."""
        return cls(
            owner=data["owner"],
            orgs=tuple(OrgPlan.from_dict(o) for o in data.get("orgs") or ()),
            manifest_digest=data.get("manifest_digest", ""),
            api_url=data.get("api_url"),
            mxsync_version=data.get("mxsync_version", ""),
            options=dict(data.get("options") or {}),
        )

    def with_orgs(self, orgs: tuple[OrgPlan, ...]) -> Plan:
        return replace(self, orgs=orgs)


def save_plan(plan: Plan, path: Path, extra: dict[str, Any] | None = None) -> None:
    """Atomic, mode 0600 from the first byte (a plan names which keys go where).

    `extra`: top-level fields other parts keep beside the plan (the policy verdict,
    mxsync.flows.policy); `load_plan` ignores them."""
    from mxsync.files import atomic_write

    data = {**(extra or {}), **plan.to_dict()}
    atomic_write(path, json.dumps(data, indent=2, sort_keys=True) + "\n", mode=0o600)


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
    try:
        plan = Plan.from_dict(data)
        problem = _shape_problem(data, plan)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MxsyncError(f"plan file {path} is damaged ({type(exc).__name__})",
                          hint=again) from None
    if problem:
        raise MxsyncError(f"plan file {path} is damaged ({problem})", hint=again)
    return plan


_OPTIONAL_TEXT = (str, type(None))
_OPTIONAL_MAP = (dict, type(None))
# The fields a renderer or the executor uses as they are: each must have its type.
_ORG_TYPES: dict[str, tuple[type, ...]] = {
    "org": (str,), "token_env": (str,), "label": _OPTIONAL_TEXT, "live_digest": _OPTIONAL_TEXT,
    "unmanaged": (int,), "settings_read": (bool,)}
_CHANGE_TYPES: dict[str, tuple[type, ...]] = {
    "action": (str,), "org": (str,), "name": (str,), "credential_id": _OPTIONAL_TEXT,
    "fingerprint": _OPTIONAL_TEXT, "base_url": _OPTIONAL_TEXT, "expires_at": _OPTIONAL_TEXT,
    "display_name": _OPTIONAL_TEXT, "metadata": _OPTIONAL_MAP, "make_default": (bool,),
    "test": (bool,), "model_id": _OPTIONAL_TEXT, "credential_from": (int, type(None)),
    "before": _OPTIONAL_MAP, "after": _OPTIONAL_MAP, "mint": _OPTIONAL_MAP}


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
            if change.action not in ACTION_ORDER:
                return f"unknown action {change.action!r} in org {org_plan.org}"
            if any(not isinstance(d, int) or not 0 <= d < len(org_plan.changes) or d == index
                   for d in change.depends_on):
                return f"{change.address} depends on a change that is not in the plan"
    return None
