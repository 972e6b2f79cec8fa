"""What apply did, as data: steps with codes and parameters, per org and in all.

The executor and the credential kinds record these; `render/` turns them into words
(`render.outcomes`) and JSON. No sentence is made here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from mxsync.plan import Reason

if TYPE_CHECKING:
    from mxsync.keytest import KeyTestResult

Status = Literal["ok", "failed", "skipped"]


class StepAction(StrEnum):
    """A change's own action, or a step recorded besides it."""

    CREATE = "create"
    REPLACE = "replace"
    UPDATE = "update"
    ADOPT = "adopt"
    DELETE = "delete"
    SET_DEFAULT = "set-default"
    SET_MODELS = "set-models"
    SET_ASSISTANT = "set-assistant"
    TEST = "test"  # the key test before a create
    DEFAULT = "default"  # a create or replace that took the org's default
    DEDUPE = "dedupe"  # a late or concurrent duplicate removed
    MINT = "mint"  # a key minted at xAI
    PROPAGATE = "propagate"  # waiting until xAI serves the new key
    REVOKE = "revoke"  # a key deleted at xAI


class StepCode(StrEnum):
    """What happened; `render.outcomes` says it in words, with the step's `params`."""

    DONE = "done"
    ALREADY_GONE = "already-gone"
    DEPENDS_FAILED = "depends-failed"  # addresses
    ERROR = "error"  # message (an error the API or a check raised)
    KEY_PROBLEM = "key-problem"  # reason: why the key could not be read
    NO_KEY = "no-key"
    KEY_TEST_FAILED = "key-test-failed"  # verdict, status_code, reason, refusal, source
    DUPLICATE_REMOVED = "duplicate-removed"
    ASSISTANT_MOVED = "assistant-moved"  # credential_id
    TAKEN_BY_OWNER = "taken-by-owner"  # owner
    NOT_OURS = "not-ours"  # owner: a credential this owner does not manage, left alone
    REPLACED = "replaced"  # new_id
    KEPT_OLD_DEFAULT = "kept-old-default"  # new_id: the default could not be moved
    KEPT_OLD_PINNED = "kept-old-pinned"  # new_id: the Assistant could not be moved
    OLD_NOT_DELETED = "old-not-deleted"  # new_id, message
    MINTED = "minted"  # key_id, redacted
    MINT_LOST = "mint-lost"  # deleted
    PROPAGATING = "propagating"  # elapsed_s, timeout_s
    PROPAGATED = "propagated"  # seconds
    XAI_KEY_KEPT = "xai-key-kept"  # key_id, holder
    XAI_KEY_DELETED = "xai-key-deleted"  # key_id, already_gone
    XAI_KEY_NOT_DELETED = "xai-key-not-deleted"  # key_id, message
    ORPHAN_HELD = "orphan-held"  # holder
    ORPHAN_DELETED = "orphan-deleted"  # already_gone
    UNUSED_KEY_DELETED = "unused-key-deleted"  # key_id
    UNUSED_KEY_NOT_DELETED = "unused-key-not-deleted"  # key_id, message


@dataclass
class Step:
    org: str
    address: str
    action: StepAction
    status: Status
    code: StepCode = StepCode.DONE
    params: dict[str, Any] = field(default_factory=dict)
    credential_id: str | None = None
    # This step is the outcome of one of the plan's changes (each has exactly one), rather
    # than a step besides it (a test, a mint, a revoke...): what a progress count counts.
    concludes: bool = False


@dataclass
class OrgReport:
    org: str
    status: Literal["ok", "failed", "unchanged"]
    steps: list[Step] = field(default_factory=list)
    errors: tuple[Reason, ...] = ()  # why the org failed as a whole
    note: Reason | None = None  # e.g. a saved plan found already applied


@dataclass
class ApplyReport:
    orgs: list[OrgReport]

    @property
    def failed(self) -> list[OrgReport]:
        return [o for o in self.orgs if o.status == "failed"]

    def counts(self) -> dict[str, int]:
        done = [s for o in self.orgs for s in o.steps if s.status == "ok"]

        def n(action: StepAction) -> int:
            return sum(1 for s in done if s.action == action)

        # The keys and order of `Plan.summary`: a plan's count and what its apply did
        # compare key by key. A create or replace that took the default is a default change.
        return {"create": n(StepAction.CREATE), "replace": n(StepAction.REPLACE),
                "update": n(StepAction.UPDATE), "adopt": n(StepAction.ADOPT),
                "delete": n(StepAction.DELETE),
                "set_default": n(StepAction.SET_DEFAULT) + n(StepAction.DEFAULT),
                "set_models": n(StepAction.SET_MODELS),
                "set_assistant": n(StepAction.SET_ASSISTANT),
                "deduplicated": n(StepAction.DEDUPE)}


Progress = Callable[[Step], None]


def key_test_params(result: KeyTestResult, source: str | None = None) -> dict[str, Any]:
    """A key test's result as plain parameters of a step or a finding (`render.keytest`
    words them); `source` names where the key came from, never the key."""
    return {"verdict": result.verdict.value, "status_code": result.status_code,
            "reason": result.reason, "refusal": result.refusal.value if result.refusal else None,
            "source": source}
