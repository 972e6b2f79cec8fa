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
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, Protocol

from mxsync.api import OutcomeUnknown
from mxsync.errors import MxsyncError
from mxsync.inputs import Inputs
from mxsync.keytest import KeyTestResult, Refusal, Verdict
from mxsync.minting.apply import OrgMinting, is_new_minted
from mxsync.minting.live import Clients
from mxsync.plan import Change, OrgPlan, Plan
from mxsync.render.reasons import sentence
from mxsync.render.words import plural
from mxsync.secrets import Secret
from mxsync.staleness import ALREADY_APPLIED, verdict
from mxsync.state import LiveCredential, OrgSettings, live_digest

Status = Literal["ok", "failed", "skipped"]
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


@dataclass
class Step:
    org: str
    address: str
    action: str
    status: Status
    message: str = ""
    credential_id: str | None = None

    def line(self) -> str:
        text = f"{self.status:<7} {self.action:<11} {self.address}"
        return f"{text}: {self.message}" if self.message else text


@dataclass
class OrgReport:
    org: str
    status: Literal["ok", "failed", "unchanged"]
    steps: list[Step] = field(default_factory=list)
    error: str | None = None
    note: str | None = None  # e.g. a saved plan found already applied


@dataclass
class ApplyReport:
    orgs: list[OrgReport]

    @property
    def failed(self) -> list[OrgReport]:
        return [o for o in self.orgs if o.status == "failed"]

    def counts(self) -> dict[str, int]:
        done = [s for o in self.orgs for s in o.steps if s.status == "ok"]

        def n(action: str) -> int:
            return sum(1 for s in done if s.action == action)

        return {"created": n("create"), "replaced": n("replace"), "updated": n("update"),
                "adopted": n("adopt"), "deleted": n("delete"),
                "default_changed": n("set-default") + n("default"),
                "deduplicated": n("dedupe"),
                "settings_changed": n("set-models") + n("set-assistant")}

    def summary(self) -> str:
        if self.failed:
            total = len(self.orgs)
            return f"Apply failed for {len(self.failed)} of {total} org{'s' if total != 1 else ''}."
        c = self.counts()
        parts = [f"{c['created']} created", f"{c['replaced']} replaced"]
        parts += [f"{c[k]} {k}" for k in ("updated", "adopted") if c[k]]
        if c["settings_changed"]:
            parts.append(plural(c["settings_changed"], "setting") + " changed")
        if c["deduplicated"]:
            parts.append(f"{c['deduplicated']} late duplicate(s) removed")
        parts += [f"{c['deleted']} deleted",
                  f"{c['default_changed']} default{'s' if c['default_changed'] != 1 else ''} changed"]
        return "Apply complete: " + ", ".join(parts) + "."

    def to_json(self) -> dict[str, Any]:
        return {
            "orgs": [{"org": o.org, "status": o.status, "error": o.error, "note": o.note,
                      "steps": [asdict(s) for s in o.steps]} for o in self.orgs],
            "summary": {**self.counts(), "orgs": len(self.orgs), "failed_orgs": len(self.failed)},
            "ok": not self.failed,
        }


Progress = Callable[[Step], None]


class _OrgRun:
    def __init__(self, api: Api, org: OrgPlan, owner: str, token: Secret, inputs: Inputs,
                 progress: Progress | None, settle_s: float = 0.0,
                 clients: Clients | None = None) -> None:
        self.api, self.org, self.owner, self.token = api, org, owner, token
        self.inputs, self.progress, self.settle_s = inputs, progress, settle_s
        self.ambiguous = False  # a create went unanswered: it may still land later
        self.minting = OrgMinting(self, clients or Clients(inputs.management))
        self.known_ids: set[str] = set(org.known_ids)
        self.outcome: dict[int, Status] = {}
        self.created_ids: dict[int, str] = {}  # replace -> its new credential, before the delete
        self.new_ids: dict[int, str] = {}  # create or replace -> the credential it made
        self.steps: list[Step] = []

    def record(self, change: Change, status: Status, message: str = "",
               action: str | None = None, credential_id: str | None = None) -> None:
        step = Step(self.org.org, change.address, action or change.action, status, message,
                    credential_id or change.credential_id)
        self.steps.append(step)
        if self.progress:
            self.progress(step)

    def finish(self, index: int, status: Status, message: str = "", **kwargs: Any) -> None:
        self.outcome[index] = status
        self.record(self.org.changes[index], status, message, **kwargs)

    def ready(self, index: int) -> bool:
        """Skip (and say so) a change whose prerequisites did not all succeed."""
        if index in self.outcome:
            return False
        blocked = [d for d in self.org.changes[index].depends_on
                   if self.outcome.get(d) != "ok" and d not in self.created_ids]
        if blocked:
            names = ", ".join(self.org.changes[d].address for d in blocked)
            self.finish(index, "skipped", f"depends on {names}, which did not succeed")
            return False
        return True

    async def phase(self, indexes: list[int], work: Callable[[int], Any]) -> None:
        async def guarded(index: int) -> None:
            if not self.ready(index):
                return
            try:
                await work(index)
            except MxsyncError as exc:
                self.finish(index, "failed", str(exc.message))

        await asyncio.gather(*(guarded(i) for i in indexes))

    def of(self, *actions: str) -> list[int]:
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
        if is_new_minted(change):
            return self.minting.secret(change)
        key = self.inputs.keys.get((self.org.org, change.name))
        if key is None:
            problem = self.inputs.key_problems.get((self.org.org, change.name))
            raise MxsyncError(sentence(problem) if problem else "no key for this entry")
        return key

    async def run(self) -> None:
        try:
            await self.run_phases()
        finally:
            await self.minting.cleanup()

    async def run_phases(self) -> None:
        for index in self.of("create", "replace"):
            if is_new_minted(self.org.changes[index]):
                continue  # its key comes from the mint phase
            try:
                self.key(self.org.changes[index])
            except MxsyncError as exc:
                self.finish(index, "failed", exc.message)
        await self.phase([i for i in self.of("create", "replace")
                          if is_new_minted(self.org.changes[i])], self.minting.prepare)
        await self.phase([i for i in self.of("create", "replace") if self.org.changes[i].test],
                         self.test)
        await self.phase(self.of("create", "replace"), self.create)
        await self.phase(self.of("set-default"), self.set_default)
        await self.phase(self.of("set-models", "set-assistant"), self.settings)
        await self.phase(self.of("update", "adopt"), self.update)
        await asyncio.gather(self.phase(self.of("delete"), self.delete),
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
                self.record(change, "ok", "a duplicate of this entry (a late or concurrent "
                            "create) was removed" if gone_now else "", action="dedupe",
                            credential_id=extra.id)
            self.new_ids[index] = keeper.id

    def pinned_to(self, credential_id: str) -> bool:
        """Whether this run moved the Assistant onto that credential."""
        return any(s.action == "set-assistant" and s.status == "ok"
                   and s.credential_id == credential_id for s in self.steps)

    async def move_pin(self, credential_id: str) -> bool:
        change = next(c for c in self.org.changes if c.action == "set-assistant")
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
            self.record(change, "ok", action="test")
            return
        where = change.key.describe() if change.key else "the minted key"
        self.finish(index, "failed", key_test_message(result, where))

    async def create(self, index: int) -> None:
        change = self.org.changes[index]
        key = self.key(change)
        created = None
        for _ in range(CREATE_ATTEMPTS):
            try:
                created = await self.api.create_credential(
                    self.token, self.org.org, key=key, base_url=change.base_url,
                    display_name=change.display_name or change.name,
                    metadata=dict(change.metadata or {}),
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
        if change.action == "create":
            self.finish(index, "ok", credential_id=new_id)
            if change.make_default:
                self.record(change, "ok", action="default", credential_id=new_id)
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
        if change.action == "set-models":
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
        self.finish(index, "ok", f"now on credential {credential_id}", credential_id=credential_id)

    async def update(self, index: int) -> None:
        change = self.org.changes[index]
        if change.action == "adopt":
            # Another owner may have adopted it since the plan (or while a person read it):
            # adopt only what is still unmarked, right before writing.
            now = LiveCredential.from_api(await self.api.get_credential(
                self.token, self.org.org, _target(change)))
            owner, _ = now.claim()
            if owner is not None:
                self.finish(index, "failed", f"owner '{owner}' took this credential under "
                                             "management since the plan; nothing was changed. "
                                             "Run plan again")
                return
        await self.api.update_credential(self.token, self.org.org, _target(change),
                                         display_name=change.display_name, metadata=change.metadata)
        self.finish(index, "ok")

    async def delete(self, index: int) -> None:
        change = self.org.changes[index]
        if change.mint and change.credential_id is None:
            await self.minting.delete_orphan(index)  # a key at xAI that no credential holds
            return
        gone_now = await self.api.delete_credential(self.token, self.org.org, _target(change))
        self.finish(index, "ok", "" if gone_now else "already gone")
        await self.minting.retire(change)

    async def finish_replace(self, index: int) -> None:
        change, new_id = self.org.changes[index], self.created_ids[index]
        if (change.before or {}).get("is_default") and not change.make_default:
            # The old credential holds the default, which another entry is to take: delete it
            # only once that set-default succeeded, or the org is left without a default.
            movers = [i for i, c in enumerate(self.org.changes)
                      if c.action == "set-default" or c.make_default]
            if not movers or any(self.outcome.get(i) != "ok" and i not in self.created_ids
                                 for i in movers):
                self.finish(index, "failed", f"created the new credential {new_id}, but kept the "
                                             "old one: it holds the default, which could not be "
                                             "moved; re-run apply")
                return
        if (change.before or {}).get("is_pinned"):
            # The Assistant runs on the old credential: it goes only once the pin has moved.
            movers = [i for i, c in enumerate(self.org.changes) if c.action == "set-assistant"]
            if not movers or any(self.outcome.get(i) != "ok" for i in movers):
                self.finish(index, "failed", f"created the new credential {new_id}, but kept the "
                                             "old one: the Assistant runs on it and could not be "
                                             "moved; re-run apply")
                return
        try:
            await self.api.delete_credential(self.token, self.org.org, _target(change))
        except MxsyncError as exc:
            self.finish(index, "failed", f"created the new credential {new_id}, but deleting the old "
                                         f"one failed ({exc.message}); re-run apply to remove it")
            return
        self.finish(index, "ok", f"new credential {new_id}", credential_id=new_id)
        if change.make_default and not (change.before or {}).get("is_default"):
            self.record(change, "ok", action="default", credential_id=new_id)
        await self.minting.retire(change)


_KEPT = "nothing was stored for this entry"


def key_test_message(result: KeyTestResult, where: str) -> str:
    """Which of rejected, refused, rate-limited, unreachable or could-not-test it was, in
    words that say what to do; `where` names the key's source (never the key)."""
    said = f" (xAI said: {result.reason})" if result.reason else ""
    status = result.status_code
    if result.verdict is Verdict.REJECTED:
        return (f"key test failed: xAI answered {status or 'no status'}, rejected: the key in "
                f"{where} is wrong, unknown or deleted{said}; {_KEPT}; put a working key there "
                "and apply again")
    if result.verdict is Verdict.REFUSED:
        why, fix = {
            Refusal.NO_CREDITS: ("its xAI team has no credits left or reached its monthly "
                                 "spending limit", "add credits or raise the limit in the xAI "
                                 "console"),
            Refusal.DISABLED: ("the key or its xAI team is disabled or blocked",
                               "enable it in the xAI console or use another key"),
            None: ("the key is disabled or its xAI team has no credits",
                   "check the key and the team's credits in the xAI console"),
        }[result.refusal]
        return (f"key test failed: xAI answered {status or 403}, refused: the key in {where} "
                f"is real but {why}{said}; {_KEPT}; {fix}, then apply again")
    if result.verdict is Verdict.RATE_LIMITED:
        return (f"key test could not be made now: xAI answered {status or 429}, rate-limited: "
                f"the key in {where} is over its own xAI rate limit, which says nothing about "
                f"the key{said}; {_KEPT}; apply again later (or pass --skip-tests)")
    if result.verdict is Verdict.UNREACHABLE:
        code = f" (HTTP {status})" if status else ""
        return (f"key test could not be made now: unreachable: xAI could not be reached{code} "
                f"to test the key in {where}{said}; {_KEPT}; apply again later")
    code = f" answered {status}" if status else " failed"
    detail = f" ({result.reason})" if result.reason else ""
    return (f"key test could not be made: ModuleX's key test{code}{detail} for the key in "
            f"{where}; {_KEPT}; apply again later (or pass --skip-tests)")


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
        return OrgReport(org.org, "failed", error="; ".join(sentence(e) for e in org.errors))
    if not org.changes:
        return OrgReport(org.org, "unchanged")
    token = inputs.tokens.get(org.org)
    if token is None:
        why = inputs.problems.get(org.org) or []
        return OrgReport(org.org, "failed", error="; ".join(sentence(r) for r in why) or "no token")
    run = _OrgRun(api, org, plan.owner, token, inputs, progress, settle_s, clients)
    try:
        if check_stale:
            records = await api.list_credentials(token, org.org)
            settings = (OrgSettings.from_api(await api.org_settings(token, org.org))
                         if org.settings_read else None)
            creds = [LiveCredential.from_api(r) for r in records]
            found = verdict(org, plan.owner, creds, live_digest(creds, settings), settings)
            if found == "already-applied":
                return OrgReport(org.org, "unchanged", note=ALREADY_APPLIED)
            if found == "stale":
                return OrgReport(org.org, "failed", error=(
                    f"plan is stale for org {org.org}: its live state changed since the plan; "
                    "nothing was changed there. Run plan again"))
        await run.run()
    except MxsyncError as exc:
        return OrgReport(org.org, "failed", run.steps, error=exc.message)
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

