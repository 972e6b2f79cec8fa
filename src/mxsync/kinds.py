"""The seam between the core and a kind of credential (a key from env or file; a key
minted at xAI; later, other providers).

The planner and the executor each offer a kind a small context: what it may read, and
the few things it may do (add, keep, create or delete a change; record a step). A kind
uses only these, never the planner's or executor's own state, so a new kind is a new
module that implements `PlanKind` (and, if apply needs it, an `ApplyKind`), not a graft.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mxsync.inputs import Inputs
    from mxsync.manifest.model import CredentialEntry, OrgEntry
    from mxsync.outcomes import Status, StepAction, StepCode
    from mxsync.plan import Change, MintSpec, OrgPlan, Reason
    from mxsync.secrets import Secret
    from mxsync.state import LiveCredential, LiveOrg


def pick(creds: Sequence[LiveCredential]) -> LiveCredential:
    """The one to keep among equals: the default, then the oldest, then by id. Every kind
    decides alike, so two runs keep the same credential."""
    return sorted(creds, key=lambda c: (not c.is_default, c.created_at or "", c.id))[0]


class PlanContext(Protocol):
    """What the planner lets a kind read and do while it plans one org."""

    @property
    def org(self) -> OrgEntry: ...
    @property
    def owner(self) -> str: ...
    @property
    def live(self) -> LiveOrg: ...
    @property
    def skip_tests(self) -> bool: ...
    @property
    def now(self) -> datetime | None:
        """For key ages; None: ages are not judged."""
        ...
    @property
    def site(self) -> str:
        """The ModuleX API's tag in minted key names."""
        ...
    @property
    def forced(self) -> frozenset[str]:
        """Entries named by --replace."""
        ...

    def add(self, change: Change) -> int:
        """Append a change; its index (for `depends_on`, `credential_from`)."""
        ...

    def created(self, entry: str, index: int) -> None:
        """The change at `index` makes the entry's new credential (a create or replace)."""
        ...

    def kept(self, entry: str, cred: LiveCredential) -> None:
        """The entry keeps this live credential."""
        ...

    def delete(self, cred: LiveCredential, entry: str, reason: Reason) -> None:
        """Delete a live credential (the kind's `delete_extra` adds what it needs)."""
        ...

    def claim(self, creds: Iterable[LiveCredential]) -> None:
        """These live credentials are accounted for (not counted as unmanaged)."""
        ...

    def error(self, reason: Reason) -> None:
        """The org cannot be applied as planned."""
        ...


class PlanKind(Protocol):
    """A kind of credential, as the planner sees it."""

    def handles(self, entry: CredentialEntry) -> bool: ...

    def plan_entry(self, ctx: PlanContext, entry: CredentialEntry,
                   mine: list[LiveCredential]) -> None:
        """Plan one manifest entry, given the live credentials that claim it."""
        ...

    def plan_org(self, ctx: PlanContext) -> None:
        """After every entry: what the kind finds for the org as a whole (stray keys)."""
        ...

    def on_delete(self, org: OrgEntry, cred: LiveCredential) -> MintSpec | None:
        """What a delete of this live credential must also clean up."""
        ...


class ApplyApi(Protocol):
    """The part of the ModuleX client a kind may call."""

    base_url: str

    async def list_credentials(self, token: Secret, org: str) -> list[dict[str, Any]]: ...
    async def test_key(self, token: Secret, org: str, key: Secret, base_url: str | None
                       ) -> dict[str, Any]: ...


class ApplyContext(Protocol):
    """What the executor lets a kind read and do while it applies one org."""

    @property
    def api(self) -> ApplyApi: ...
    @property
    def owner(self) -> str: ...
    @property
    def token(self) -> Secret: ...
    @property
    def inputs(self) -> Inputs: ...

    @property
    def plan(self) -> OrgPlan:
        """The org's plan as it stands (a kind may have filled in what apply learned)."""
        ...

    def record(self, change: Change, status: Status, code: StepCode = ...,
               params: dict[str, Any] | None = None, *, action: StepAction | None = None,
               credential_id: str | None = None) -> None:
        """A step of the report, besides the change's own outcome."""
        ...

    def finish(self, index: int, status: Status, code: StepCode,
               params: dict[str, Any] | None = None, *, credential_id: str | None = None
               ) -> None:
        """The outcome of the change at `index` (exactly once per change)."""
        ...

    def waiting(self, change: Change, code: StepCode, params: dict[str, Any]) -> None:
        """Something slow is under way: for the progress display only, not the report."""
        ...

    def replace_change(self, index: int, change: Change) -> None:
        """What only apply learns (a minted key's fingerprint and id) goes into the plan."""
        ...
