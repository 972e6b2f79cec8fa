"""Carrying out a plan: the only code that changes anything through the API.

Per org, in phases: key tests, creates, set-defaults, updates and adopts, deletes.
A change runs only when everything it depends on succeeded, so a failed key test
leaves the old credential (and the default) in place. Orgs run concurrently and a
failure in one never stops another.

Exactly once: idempotent calls are retried by the client. `POST /credentials` is
not; when its outcome is unknown the org is listed again and the credential looked
for by owner, name, fingerprint and base URL among the ids that were not there
before. Only when it is not there is it created again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from mxsync import ownership
from mxsync.api import ApiError, OutcomeUnknown
from mxsync.errors import MxsyncError
from mxsync.inputs import Inputs
from mxsync.keytest import KeyTestResult
from mxsync.minting.apply import MintedKind
from mxsync.minting.live import Clients
from mxsync.outcomes import (
    ApplyReport,
    OrgReport,
    Progress,
    Status,
    Step,
    StepAction,
    StepCode,
    key_test_params,
)
from mxsync.plan import Action, Change, OrgPlan, Plan, Reason, ReasonCode
from mxsync.secrets import Secret
from mxsync.staleness import verdict
from mxsync.state import LiveCredential, OrgSettings, live_digest

__all__ = ["Api", "ApplyReport", "OrgReport", "Progress", "Step", "execute"]
CREATE_ATTEMPTS = 3


class Api(Protocol):
    """What the executor needs of the API client (tests pass an in-memory one)."""

    base_url: str

    async def list_credentials(self, token: Secret, org: str) -> list[dict[str, Any]]: ...
    async def check_key(self, token: Secret, org: str, key: Secret, base_url: str | None
                        ) -> KeyTestResult: ...
    async def test_key(self, token: Secret, org: str, key: Secret, base_url: str | None
                       ) -> dict[str, Any]: ...
    async def create_credential(self, token: Secret, org: str, *, key: Secret, base_url: str | None,
                                display_name: str, metadata: dict[str, Any], make_default: bool,
                                expires_at: str | None) -> dict[str, Any]: ...
    async def update_credential(self, token: Secret, org: str, credential_id: str, *,
                                display_name: str | None, metadata: dict[str, Any] | None
                                ) -> dict[str, Any]: ...
    async def delete_credential(self, token: Secret, org: str, credential_id: str) -> bool: ...
    async def get_credential(self, token: Secret, org: str, credential_id: str, *,
                             include_masked: bool = False) -> dict[str, Any]: ...
    async def set_default(self, token: Secret, org: str, credential_id: str) -> dict[str, Any]: ...
    async def org_settings(self, token: Secret, org: str) -> dict[str, Any]: ...
    async def put_model_visibility(self, token: Secret, org: str, integration_name: str,
                                   models: Sequence[Mapping[str, Any]]) -> dict[str, Any]: ...
    async def put_composer_llm(self, token: Secret, org: str, *, integration_name: str,
                               provider_id: str, model_id: str,
                               credential_id: str | None = None) -> dict[str, Any]: ...


class _OrgRun:
    """One org's apply; what it offers a credential kind is `kinds.ApplyContext`."""

    def __init__(self, api: Api, org: OrgPlan, owner: str, token: Secret, inputs: Inputs,
                 progress: Progress | None, settle_s: float = 0.0,
                 clients: Clients | None = None) -> None:
        self.api, self.org, self.owner, self.token = api, org, owner, token
        self.inputs, self.progress, self.settle_s = inputs, progress, settle_s
        self.ambiguous = False  # a create went unanswered: it may still land later
        self.minting = MintedKind(self, clients or Clients(inputs.management))
        self.known_ids: set[str] = set(org.known_ids)
        self.outcome: dict[int, Status] = {}
        self.created_ids: dict[int, str] = {}  # replace -> its new credential, before the delete
        self.new_ids: dict[int, str] = {}  # create or replace -> the credential it made
        self.steps: list[Step] = []

    @property
    def plan(self) -> OrgPlan:
        return self.org

    def _step(self, change: Change, status: Status, code: StepCode,
              params: dict[str, Any] | None, action: StepAction | None,
              credential_id: str | None, concludes: bool) -> Step:
        if credential_id is None and change.action != Action.REPLACE:
            # A replace's steps name its new credential, or none until it exists: never
            # the old one's, which the plan names.
            credential_id = change.credential_id
        return Step(self.org.org, change.address, action or StepAction(change.action), status,
                    code, params or {}, credential_id, concludes)

    def record(self, change: Change, status: Status, code: StepCode = StepCode.DONE,
               params: dict[str, Any] | None = None, *, action: StepAction | None = None,
               credential_id: str | None = None, concludes: bool = False) -> None:
        step = self._step(change, status, code, params, action, credential_id, concludes)
        self.steps.append(step)
        if self.progress:
            self.progress(step)

    def waiting(self, change: Change, code: StepCode, params: dict[str, Any]) -> None:
        if self.progress:
            self.progress(self._step(change, "ok", code, params, StepAction.PROPAGATE, None,
                                     False))

    def finish(self, index: int, status: Status, code: StepCode = StepCode.DONE,
               params: dict[str, Any] | None = None, *, credential_id: str | None = None
               ) -> None:
        self.outcome[index] = status
        self.record(self.org.changes[index], status, code, params, credential_id=credential_id,
                    concludes=True)

    def ready(self, index: int) -> bool:
        """Skip (and say so) a change whose prerequisites did not all succeed."""
        if index in self.outcome:
            return False
        blocked = [d for d in self.org.changes[index].depends_on
                   if self.outcome.get(d) != "ok" and d not in self.created_ids]
        if blocked:
            self.finish(index, "skipped", StepCode.DEPENDS_FAILED,
                        {"addresses": [self.org.changes[d].address for d in blocked]})
            return False
        return True

    async def phase(self, indexes: list[int], work: Callable[[int], Any]) -> None:
        async def guarded(index: int) -> None:
            if not self.ready(index):
                return
            try:
                await work(index)
            except MxsyncError as exc:
                self.finish(index, "failed", StepCode.ERROR, {"message": str(exc.message)})

        await asyncio.gather(*(guarded(i) for i in indexes))

    def of(self, *actions: Action) -> list[int]:
        return [i for i, c in enumerate(self.org.changes) if c.action in actions]

    def replace_change(self, index: int, change: Change) -> None:
        """A change learned what only apply can know (a minted key's fingerprint and id)."""
        changes = list(self.org.changes)
        changes[index] = change
        self.org = replace(self.org, changes=tuple(changes))

    def credential_known(self, index: int, new_id: str) -> None:
        """The point where a create's new credential id is known (anything that must point
        at the new credential hooks here); a minted key is now held by ModuleX."""
        self.known_ids.add(new_id)
        self.minting.stored(self.org.changes[index])

    def key(self, change: Change) -> Secret:
        if self.minting.makes_key(change):
            return self.minting.secret(change)
        key = self.inputs.keys.get((self.org.org, change.name))
        if key is None:
            raise _NoKey(self.inputs.key_problems.get((self.org.org, change.name)))
        return key

    async def run(self) -> None:
        try:
            await self.run_phases()
        finally:
            await self.minting.cleanup()

    async def run_phases(self) -> None:
        new = self.of(Action.CREATE, Action.REPLACE)
        for index in new:
            if self.minting.makes_key(self.org.changes[index]):
                continue  # its key comes from the kind's prepare phase
            try:
                self.key(self.org.changes[index])
            except _NoKey as missing:
                if missing.problem is None:
                    self.finish(index, "failed", StepCode.NO_KEY)
                else:
                    self.finish(index, "failed", StepCode.KEY_PROBLEM,
                                {"reason": missing.problem.to_dict()})
        await self.phase([i for i in new if self.minting.makes_key(self.org.changes[i])],
                         self.minting.prepare)
        await self.phase([i for i in new if self.org.changes[i].test], self.test)
        await self.phase(new, self.create)
        await self.phase(self.of(Action.SET_DEFAULT), self.set_default)
        await self.phase(self.of(Action.SET_MODELS, Action.SET_ASSISTANT), self.settings)
        await self.phase(self.of(Action.UPDATE, Action.ADOPT), self.update)
        await asyncio.gather(self.phase(self.of(Action.DELETE), self.delete),
                             *(self.finish_replace(i) for i in list(self.created_ids)))
        if self.new_ids:
            await self.settle()

    async def settle(self) -> None:
        """Before success is claimed, every entry created here must hold exactly one
        credential. Two things can add a second one: a create whose answer never came and
        that reaches the service late (a proxy held it past the timeout), and another apply
        of the same owner racing this one. After an unanswered create, first wait until its
        late copy has landed or would be far later than any answer this client accepts.
        Then re-read, and keep the oldest of the entry's new credentials (by creation time,
        then id): every run that looks decides alike, so two racing runs keep the same one.
        The default and the Assistant move to it before the others are deleted."""
        if self.ambiguous:
            await asyncio.sleep(self.settle_s)
        records = await self.api.list_credentials(self.token, self.org.org)
        creds = [LiveCredential.from_api(r) for r in records]
        moved_pin = False
        for index in self.new_ids:
            change = self.org.changes[index]
            new = sorted((c for c in creds if c.claim() == (self.owner, change.name)
                          and c.id not in self.org.known_ids),
                         key=lambda c: (c.created_at or "", c.id))
            if len(new) < 2:
                continue
            keeper, extras = new[0], new[1:]
            if any(c.is_default for c in extras) and not keeper.is_default:
                await self.api.set_default(self.token, self.org.org, keeper.id)
            if not moved_pin and any(self.pinned_to(c.id) for c in extras):
                moved_pin = await self.move_pin(keeper.id)
            for extra in extras:
                gone_now = await self.api.delete_credential(self.token, self.org.org, extra.id)
                self.record(change, "ok",
                            StepCode.DUPLICATE_REMOVED if gone_now else StepCode.DONE,
                            action=StepAction.DEDUPE, credential_id=extra.id)
            self.new_ids[index] = keeper.id

    def pinned_to(self, credential_id: str) -> bool:
        """Whether this run moved the Assistant onto that credential."""
        return any(s.action == StepAction.SET_ASSISTANT and s.status == "ok"
                   and s.credential_id == credential_id for s in self.steps)

    async def move_pin(self, credential_id: str) -> bool:
        change = next(c for c in self.org.changes if c.action == Action.SET_ASSISTANT)
        await self.api.put_composer_llm(self.token, self.org.org, integration_name="xai",
                                        provider_id="xai", model_id=change.model_id or "",
                                        credential_id=credential_id)
        return True

    async def test(self, index: int) -> None:
        """Test the key before anything is stored; only a key xAI accepted goes on. A key that
        could not be tested (busy, unreachable) is not called invalid, but is not stored either."""
        change = self.org.changes[index]
        result = await self.api.check_key(self.token, self.org.org, self.key(change),
                                          change.base_url)
        if result.passed:
            self.record(change, "ok", action=StepAction.TEST)
            return
        self.finish(index, "failed", StepCode.KEY_TEST_FAILED, key_test_params(
            result, change.key.describe() if change.key else None))

    async def create(self, index: int) -> None:
        change = self.org.changes[index]
        key = self.key(change)
        created = None
        for _ in range(CREATE_ATTEMPTS):
            try:
                created = await self.api.create_credential(
                    self.token, self.org.org, key=key, base_url=change.base_url,
                    display_name=change.display_name or change.name,
                    metadata=self.ownership_metadata(change),
                    make_default=change.make_default, expires_at=change.expires_at)
                break
            except OutcomeUnknown:
                self.ambiguous = True
                created = await self.find_created(change)
                if created is not None:
                    break
        if created is None:
            raise MxsyncError(f"could not create {change.address}: {CREATE_ATTEMPTS} attempts "
                              "got no answer, and it is not in the live state; re-run apply")
        new_id = str(created["credential_id"])
        self.credential_known(index, new_id)
        self.new_ids[index] = new_id
        if change.action == Action.CREATE:
            self.finish(index, "ok", credential_id=new_id)
            if change.make_default:
                self.record(change, "ok", action=StepAction.DEFAULT, credential_id=new_id)
        else:
            # A replace is done only once the old credential is deleted, in the last phase.
            self.created_ids[index] = new_id

    async def find_created(self, change: Change) -> dict[str, Any] | None:
        """After a create whose answer was lost: did it happen? Only new ids count."""
        for record in await self.api.list_credentials(self.token, self.org.org):
            cred = LiveCredential.from_api(record)
            if (cred.id not in self.known_ids
                    and cred.claim() == (self.owner, change.name)
                    and cred.fingerprint == change.fingerprint
                    and cred.base_url == (change.base_url or "")):
                return record
        return None

    async def set_default(self, index: int) -> None:
        change = self.org.changes[index]
        await self.api.set_default(self.token, self.org.org, _target(change))
        self.finish(index, "ok")

    async def settings(self, index: int) -> None:
        change = self.org.changes[index]
        if change.action == Action.SET_MODELS:
            await self.api.put_model_visibility(self.token, self.org.org, "xai",
                                                [{"id": m} for m in change.models or ()])
            self.finish(index, "ok")
            return
        credential_id = change.credential_id
        if change.credential_from is not None:
            credential_id = self.new_ids.get(change.credential_from)
        if credential_id is None or change.model_id is None:
            raise MxsyncError(f"{change.address}: the plan names no model or credential for the "
                              "Assistant", hint="the plan file is damaged; run `mxsync plan` again")
        await self.api.put_composer_llm(self.token, self.org.org, integration_name="xai",
                                        provider_id="xai", model_id=change.model_id,
                                        credential_id=credential_id)
        self.finish(index, "ok", StepCode.ASSISTANT_MOVED, {"credential_id": credential_id},
                    credential_id=credential_id)

    def ownership_metadata(self, change: Change) -> dict[str, Any]:
        """The metadata to write, with who owns it computed here, from the plan's owner and
        the entry's name, never taken from the plan as written."""
        return {**(change.metadata or {}), ownership.MANAGED_BY: ownership.MARKER,
                ownership.OWNER: self.owner, ownership.NAME: change.name}

    async def ours(self, index: int) -> bool:
        """Before an update or a delete: the live record, read now, is this owner's. Whatever
        a plan file says, apply never changes another owner's or an unmanaged credential."""
        change = self.org.changes[index]
        try:
            record = LiveCredential.from_api(await self.api.get_credential(
                self.token, self.org.org, _target(change)))
        except ApiError as exc:
            if exc.status == 404:
                return True  # gone already: the delete says so, the update fails on its own
            raise
        owner, _ = record.claim()
        if owner == self.owner:
            return True
        self.finish(index, "failed", StepCode.NOT_OURS, {"owner": owner})
        return False

    async def update(self, index: int) -> None:
        change = self.org.changes[index]
        if change.action == Action.UPDATE and not await self.ours(index):
            return
        if change.action == Action.ADOPT:
            # Another owner may have adopted it since the plan (or while a person read it):
            # adopt only what is still unmarked, right before writing.
            now = LiveCredential.from_api(await self.api.get_credential(
                self.token, self.org.org, _target(change)))
            owner, _ = now.claim()
            if owner is not None:
                self.finish(index, "failed", StepCode.TAKEN_BY_OWNER, {"owner": owner})
                return
        await self.api.update_credential(self.token, self.org.org, _target(change),
                                         display_name=change.display_name,
                                         metadata=self.ownership_metadata(change))
        self.finish(index, "ok")

    async def delete(self, index: int) -> None:
        change = self.org.changes[index]
        if change.mint and change.credential_id is None:
            await self.minting.delete_orphan(index)  # a key at xAI that no credential holds
            return
        if not await self.ours(index):
            return
        gone_now = await self.api.delete_credential(self.token, self.org.org, _target(change))
        self.finish(index, "ok", StepCode.DONE if gone_now else StepCode.ALREADY_GONE)
        await self.minting.retire(change)

    async def finish_replace(self, index: int) -> None:
        change, new_id = self.org.changes[index], self.created_ids[index]
        if change.old_was_default and not change.make_default:
            # The old credential holds the default, which another entry is to take: delete it
            # only once that set-default succeeded, or the org is left without a default.
            movers = [i for i, c in enumerate(self.org.changes)
                      if c.action == Action.SET_DEFAULT or c.make_default]
            if not movers or any(self.outcome.get(i) != "ok" and i not in self.created_ids
                                 for i in movers):
                self.finish(index, "failed", StepCode.KEPT_OLD_DEFAULT, {"new_id": new_id},
                            credential_id=new_id)
                return
        if change.old_was_pinned:
            # The Assistant runs on the old credential: it goes only once the pin has moved.
            movers = [i for i, c in enumerate(self.org.changes)
                      if c.action == Action.SET_ASSISTANT]
            if not movers or any(self.outcome.get(i) != "ok" for i in movers):
                self.finish(index, "failed", StepCode.KEPT_OLD_PINNED, {"new_id": new_id},
                            credential_id=new_id)
                return
        try:
            await self.api.delete_credential(self.token, self.org.org, _target(change))
        except MxsyncError as exc:
            self.finish(index, "failed", StepCode.OLD_NOT_DELETED,
                        {"new_id": new_id, "message": exc.message}, credential_id=new_id)
            return
        self.finish(index, "ok", StepCode.REPLACED, {"new_id": new_id}, credential_id=new_id)
        if change.make_default and not change.old_was_default:
            self.record(change, "ok", action=StepAction.DEFAULT, credential_id=new_id)
        await self.minting.retire(change)


class _NoKey(Exception):
    """An entry's key is not at hand at apply time (`problem` says why, when known)."""

    def __init__(self, problem: Reason | None) -> None:
        super().__init__("no key for this entry")
        self.problem = problem


def _target(change: Change) -> str:
    """The live credential a change acts on; a plan without one is damaged."""
    if change.credential_id is None:
        raise MxsyncError(f"{change.address}: the plan names no credential to {change.action}",
                          hint="the plan file is damaged; run `mxsync plan` again")
    return change.credential_id


async def _run_org(api: Api, plan: Plan, org: OrgPlan, inputs: Inputs, check_stale: bool,
                   progress: Progress | None, settle_s: float,
                   clients: Clients | None = None) -> OrgReport:
    if org.errors:
        return OrgReport(org.org, "failed", errors=org.errors)
    if not org.changes:  # re-derived from the manifest: nothing left to do, maybe said why
        return OrgReport(org.org, "unchanged", note=next(
            (n for n in org.notes if n.code == ReasonCode.ALREADY_APPLIED), None))
    token = inputs.tokens.get(org.org)
    if token is None:
        why = tuple(inputs.problems.get(org.org) or ())
        return OrgReport(org.org, "failed", errors=why or (Reason(ReasonCode.NO_TOKEN),))
    run = _OrgRun(api, org, plan.owner, token, inputs, progress, settle_s, clients)
    try:
        if check_stale:
            records = await api.list_credentials(token, org.org)
            settings = (OrgSettings.from_api(await api.org_settings(token, org.org))
                         if org.settings_read else None)
            creds = [LiveCredential.from_api(r) for r in records]
            found = verdict(org, plan.owner, creds, live_digest(creds, settings), settings)
            if found == "already-applied":
                return OrgReport(org.org, "unchanged", note=Reason(ReasonCode.ALREADY_APPLIED))
            if found == "stale":
                return OrgReport(org.org, "failed", errors=(
                    Reason(ReasonCode.PLAN_STALE, {"org": org.org}),))
        await run.run()
    except MxsyncError as exc:
        return OrgReport(org.org, "failed", run.steps,
                         errors=(Reason(ReasonCode.APPLY_ERROR, {"message": exc.message}),))
    failed = any(s.status != "ok" for s in run.steps)
    return OrgReport(org.org, "failed" if failed else "ok", run.steps)


async def execute(api: Api, plan: Plan, inputs: Inputs, *, check_stale: bool,
                  progress: Progress | None = None, settle_s: float = 0.0,
                  xai_timeout_s: float = 30.0) -> ApplyReport:
    """`settle_s`: after a create went unanswered, how long a late copy of it may still
    take to land before the org is re-read for duplicates. `xai_timeout_s`: per exchange
    with xAI's Management API (minted keys)."""
    async with Clients(inputs.management, xai_timeout_s) as clients:  # for minted keys
        reports = await asyncio.gather(*(_run_org(api, plan, org, inputs, check_stale, progress,
                                                  settle_s, clients) for org in plan.orgs))
    return ApplyReport(list(reports))
