"""The plan as plain data.

A plan holds everything `apply PLANFILE` needs and nothing secret: per org the
digest of the live state it was computed against, the ordered changes, the
fingerprints of the keys to store and the *names* of the variables or files they
come from, and the token variable to use. Keys and tokens are read again at
apply time and must match. Reading and writing the saved file is `mxsync.planfile`.

The fields apply decides from are typed and explicit (`make_default`,
`old_was_default`, `old_was_pinned`, `mint`); `before` and `after` are views for
people and renderers only, and apply never reads them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

from mxsync import __version__
from mxsync.secrets import KeySource


class Action(StrEnum):
    CREATE = "create"
    REPLACE = "replace"
    UPDATE = "update"
    ADOPT = "adopt"
    DELETE = "delete"
    SET_DEFAULT = "set-default"
    SET_MODELS = "set-models"
    SET_ASSISTANT = "set-assistant"


class ReasonCode(StrEnum):
    """Why a change, error or note exists; `render.reasons` has a sentence for each."""

    ABSENT = "absent"
    IMMUTABLE_CHANGED = "immutable-changed"
    ATTRIBUTES_DIFFER = "attributes-differ"
    MASKED_KEY_COULD_MATCH = "masked-key-could-match"
    DUPLICATE = "duplicate"
    PRUNED = "pruned"
    DEFAULT_WAS_DUPLICATE = "default-was-duplicate"
    MANIFEST_DEFAULT = "manifest-default"
    ORPHANS_KEPT = "orphans-kept"
    DEFAULT_LEFT_EMPTY = "default-left-empty"
    NAME_TAKEN = "name-taken"
    ADOPT_MISSING = "adopt-missing"
    ADOPT_TAKEN = "adopt-taken"
    ADOPT_KEY_MISMATCH = "adopt-key-mismatch"
    NEAR_NAME_OTHER_KEY = "near-name-other-key"
    EXPIRES_IN_PAST = "expires-in-past"
    NAME_TAKEN_BY_OWNER = "name-taken-by-owner"
    MODELS_MISSING = "models-missing"
    UNREAD = "unread"
    DEFAULT_HELD_BY_OTHER_OWNER = "default-held-by-other-owner"
    MODELS_DIFFER = "models-differ"
    MODELS_UNKNOWN = "models-unknown"
    ASSISTANT_DIFFERS = "assistant-differs"
    ASSISTANT_TO_NEW_CREDENTIAL = "assistant-to-new-credential"
    ASSISTANT_FOLLOWS = "assistant-follows"
    ASSISTANT_WOULD_DANGLE = "assistant-would-dangle"
    TOKEN_UNREADABLE = "token-unreadable"
    KEY_UNREADABLE = "key-unreadable"
    KEY_CHANGED = "key-changed"
    INPUTS_UNREADABLE = "inputs-unreadable"
    TOKEN_REJECTED = "token-rejected"
    NOT_MANAGEABLE = "not-manageable"
    FORBIDDEN = "forbidden"
    # minted keys
    ROTATION_DUE = "rotation-due"
    MINT_CHANGED = "mint-changed"
    XAI_KEY_MISSING = "xai-key-missing"
    XAI_KEY_DISABLED = "xai-key-disabled"
    XAI_KEY_EXPIRED = "xai-key-expired"
    REPLACE_FORCED = "replace-forced"
    XAI_ORPHAN = "xai-orphan"
    XAI_UNREAD = "xai-unread"
    ACL_ENDPOINT_UNKNOWN = "acl-endpoint-unknown"
    # apply's own outcomes for a whole org
    PLAN_STALE = "plan-stale"
    PLAN_DIFFERS = "plan-differs"  # planned again from the manifest at hand: not the saved plan
    ALREADY_APPLIED = "already-applied"
    APPLY_ERROR = "apply-error"
    NO_TOKEN = "no-token"


# 3: typed apply fields (`old_was_default`, `old_was_pinned`, `mint` as its own shape);
# 2: reasons, errors and notes are codes with parameters; field diffs are left to renderers.
PLAN_FILE_FORMAT = 3
# The order in which a plan lists (and apply runs) the changes of one org.
# Org settings come after the creates (the Assistant may move to a new credential) and before
# the deletes (nothing is deleted while the Assistant still runs on it).
ACTION_ORDER: dict[str, int] = {Action.CREATE: 0, Action.REPLACE: 1, Action.SET_DEFAULT: 2,
                                Action.SET_MODELS: 3, Action.SET_ASSISTANT: 3, Action.UPDATE: 4,
                                Action.ADOPT: 5, Action.DELETE: 6}


@dataclass(frozen=True)
class Reason:
    """Why a change, error or note exists: a stable code and the values it depends on.

    Codes, not sentences, so that audit, the plan file and every renderer read the same
    facts; `render.reasons.sentence` turns one into words."""

    code: ReasonCode
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": str(self.code), "params": self.params}

    @classmethod
    def from_dict(cls, data: Any) -> Reason:
        if not isinstance(data, dict) or not isinstance(data.get("code"), str):
            raise TypeError(f"a reason must be {{code, params}}, not {type(data).__name__}")
        return cls(ReasonCode(data["code"]), dict(data.get("params") or {}))


@dataclass(frozen=True)
class MintSpec:
    """Where and how to mint a key at xAI, and the xAI key to delete once its credential is
    gone. Never a secret: the management key is named by its variable."""

    team_id: str
    key_env: str
    url: str
    old_key_id: str | None = None
    acls: tuple[str, ...] = ()
    qps: int | None = None
    qpm: int | None = None
    tpm: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "acls": list(self.acls)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MintSpec:
        data = dict(data)
        data["acls"] = tuple(data.get("acls") or ())
        return cls(**data)


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
    # replace/delete: the credential acted on holds the org's default / runs the Assistant
    old_was_default: bool = False
    old_was_pinned: bool = False
    before: dict[str, Any] | None = None  # non-sensitive attribute views, for rendering only
    after: dict[str, Any] | None = None
    depends_on: tuple[int, ...] = ()  # indexes of changes (same org) that must succeed first
    mint: MintSpec | None = None  # a minted key (see mxsync.minting.plan)

    @property
    def address(self) -> str:
        """`ORG/xai/NAME`; a delete names the exact live credential, since a duplicate
        shares its entry's name with the credential that is kept."""
        suffix = f"[{self.credential_id}]" if self.action == Action.DELETE else ""
        if self.action == Action.DELETE and self.credential_id is None and self.mint:
            suffix = f"[xai key {self.mint.old_key_id}]"  # a key at xAI with no credential
        return f"{self.org}/xai/{self.name}{suffix}"

    @property
    def label(self) -> str:
        """The action as a plan shows it: a minted key is `create (minted)`, and its
        replacement a `rotate`."""
        if self.mint and self.action == Action.CREATE:
            return "create (minted)"
        if self.mint and self.action == Action.REPLACE:
            return "rotate"
        return str(self.action)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["action"] = str(self.action)
        data["key"] = asdict(self.key) if self.key else None
        data["reason"] = self.reason.to_dict()
        data["depends_on"] = list(self.depends_on)
        data["models"] = None if self.models is None else list(self.models)
        data["mint"] = self.mint.to_dict() if self.mint else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Change:
        data = dict(data)
        data["action"] = Action(data["action"])
        data["key"] = KeySource(**data["key"]) if data.get("key") else None
        data["reason"] = Reason.from_dict(data.get("reason"))
        data["depends_on"] = tuple(data.get("depends_on") or ())
        data["models"] = None if data.get("models") is None else tuple(data["models"])
        data["mint"] = MintSpec.from_dict(data["mint"]) if data.get("mint") is not None else None
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
class PlanOptions:
    """The flags a plan was made with, kept in the saved file for people who read it."""

    prune: bool = False
    skip_tests: bool = False
    take_default: bool = False
    targets: tuple[str, ...] = ()
    replace: tuple[str, ...] = ()
    # `--changed-since REF`: the ref, and the orgs it left out (unchanged since REF, not
    # read), so that a pull-request comment rendered from the saved file can say so.
    changed_since: str | None = None
    left_out: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"prune": self.prune, "skip_tests": self.skip_tests,
                                "take_default": self.take_default, "targets": list(self.targets)}
        if self.replace:
            data["replace"] = list(self.replace)
        if self.changed_since is not None:
            data["changed_since"] = {"ref": self.changed_since, "left_out": list(self.left_out)}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlanOptions:
        changed = data.get("changed_since")
        changed = changed if isinstance(changed, dict) else {}
        return cls(prune=bool(data.get("prune")), skip_tests=bool(data.get("skip_tests")),
                   take_default=bool(data.get("take_default")),
                   targets=tuple(data.get("targets") or ()),
                   replace=tuple(data.get("replace") or ()),
                   changed_since=changed.get("ref"),
                   left_out=tuple(changed.get("left_out") or ()))


@dataclass(frozen=True)
class Plan:
    owner: str
    orgs: tuple[OrgPlan, ...] = ()
    manifest_digest: str = ""
    api_url: str | None = None
    mxsync_version: str = __version__
    format_version: int = PLAN_FILE_FORMAT
    options: PlanOptions = PlanOptions()
    # The manifest's files: as given when planned; in a saved file, relative to the file's
    # folder, so `apply sub/plan.json` finds them from anywhere.
    manifest_files: tuple[str, ...] = ()

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
        """The plan's counts; `ApplyReport.counts` has the same keys in the same order, and
        `render.summary` words both alike."""
        counts = Counter(c.action for c in self.changes)
        # A default change is one the user sees: a set-default, or a create/replace that takes
        # the default (a replace of the default credential keeps it on the same entry).
        moves = sum(1 for c in self.changes if c.make_default
                    and not (c.action == Action.REPLACE and c.old_was_default))
        return {
            "create": counts[Action.CREATE],
            "replace": counts[Action.REPLACE],
            "update": counts[Action.UPDATE],
            "adopt": counts[Action.ADOPT],
            "delete": counts[Action.DELETE],
            "set_default": counts[Action.SET_DEFAULT] + moves,
            "set_models": counts[Action.SET_MODELS],
            "set_assistant": counts[Action.SET_ASSISTANT],
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
            "options": self.options.to_dict(),
            "manifest_files": list(self.manifest_files),
            "orgs": [o.to_dict() for o in self.orgs],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        """`planfile.load_plan` checks the format first; this trusts the shape and may raise
        KeyError/TypeError on a damaged file."""
        return cls(
            owner=data["owner"],
            orgs=tuple(OrgPlan.from_dict(o) for o in data.get("orgs") or ()),
            manifest_digest=data.get("manifest_digest", ""),
            api_url=data.get("api_url"),
            mxsync_version=data.get("mxsync_version", ""),
            options=PlanOptions.from_dict(dict(data.get("options") or {})),
            manifest_files=tuple(data.get("manifest_files") or ()),
        )

    def with_orgs(self, orgs: tuple[OrgPlan, ...]) -> Plan:
        return replace(self, orgs=orgs)
