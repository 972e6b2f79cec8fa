"""The xAI side of apply: mint, wait, test; and, once ModuleX holds or dropped a key, clean up.

The order of one rotation (the executor runs the ModuleX steps):
mint -> wait for propagation -> test through ModuleX -> create in ModuleX ->
move the default -> delete the old ModuleX credential -> delete the old key at xAI.

What makes it exactly once and leak-free:
- The secret exists only in memory, in a `Secret`, from the mint's answer until the
  ModuleX create; then it is dropped. It is never in a plan, a log or a report.
- A mint is never replayed blindly: when its answer is lost, the team's keys are
  listed by the exact name this attempt gave, and a key found is deleted (its secret
  was never seen, so it can never be stored) before a new attempt with a new name.
- Every key this run minted and did not get into ModuleX is deleted before the org's
  run ends. A crash or kill can still leave one behind: its name marks owner, org
  and entry, so the next plan finds it as an `xai-orphan` and deletes it.
- No key is deleted at xAI while a live credential of the org still references it
  (checked against a fresh list right before the delete).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mxsync import ownership
from mxsync.api import OutcomeUnknown
from mxsync.errors import MxsyncError
from mxsync.minting import names
from mxsync.minting.live import Clients
from mxsync.outcomes import StepAction, StepCode
from mxsync.plan import Action, Change, MintSpec
from mxsync.state import LiveCredential

if TYPE_CHECKING:
    from mxsync.kinds import ApplyContext
    from mxsync.secrets import Secret
    from mxsync.xai_management import XaiManagementClient

MINT_ATTEMPTS = 3
DEFAULT_PROPAGATION_TIMEOUT_S = 300.0
PROPAGATION_TIMEOUT_ENV = "MXSYNC_XAI_PROPAGATION_TIMEOUT_S"
# A key test right after propagation can still meet a cluster that has not seen the key.
TEST_ATTEMPTS = 3


def propagation_timeout_s(environ: Mapping[str, str] | None = None) -> float:
    env = os.environ if environ is None else environ
    try:
        return max(0.0, float(env.get(PROPAGATION_TIMEOUT_ENV, "")))
    except ValueError:
        return DEFAULT_PROPAGATION_TIMEOUT_S


@dataclass
class Minted:
    key_id: str
    client: XaiManagementClient
    secret: Secret | None = field(default=None, repr=False)


def _spec(change: Change) -> MintSpec:
    if change.mint is None:
        raise MxsyncError(f"{change.address}: the plan has no mint settings for this change",
                          hint="the plan file is damaged; run `mxsync plan` again")
    return change.mint


class MintedKind:
    """The executor's side of minted keys for one org's run: the keys it minted (id, and the
    secret until ModuleX has it). It sees the run only through `kinds.ApplyContext`."""

    def __init__(self, run: ApplyContext, clients: Clients, timeout_s: float | None = None,
                 interval_s: float = 1.0) -> None:
        self.run = run
        self.clients = clients
        self.timeout_s = propagation_timeout_s() if timeout_s is None else timeout_s
        self.interval_s = interval_s
        self.minted: dict[str, Minted] = {}  # entry name -> this run's key, until stored

    @staticmethod
    def makes_key(change: Change) -> bool:
        """This change needs a key minted before it can be carried out."""
        return change.mint is not None and change.action in (Action.CREATE, Action.REPLACE)

    def client(self, change: Change) -> XaiManagementClient:
        mint = _spec(change)
        problem = self.run.inputs.key_problems.get((self.run.plan.org, change.name))
        if problem is not None and problem.params.get("source") == f"${mint.key_env}":
            raise MxsyncError(str(problem.params.get("message")))
        return self.clients.get(mint.url, mint.key_env)

    def secret(self, change: Change) -> Secret:
        got = self.minted.get(change.name)
        if got is None or got.secret is None:
            raise MxsyncError("the minted key is not at hand (its mint did not succeed)")
        return got.secret

    # -- before ModuleX: mint, wait, test --------------------------------------------------
    async def prepare(self, index: int) -> None:
        change = self.run.plan.changes[index]
        client = self.client(change)
        key = await self._mint(client, change)
        if key.secret is None:  # create_key never returns one without; a type guard
            raise MxsyncError("xAI returned no secret for the new key")
        self.minted[change.name] = Minted(key.api_key_id, client, key.secret)
        self.run.record(change, "ok", StepCode.MINTED,
                        {"key_id": key.api_key_id, "redacted": key.redacted},
                        action=StepAction.MINT)
        started = time.monotonic()

        def waiting(elapsed: float) -> None:
            self.run.waiting(change, StepCode.PROPAGATING,
                             {"elapsed_s": round(elapsed), "timeout_s": round(self.timeout_s)})

        if not await client.wait_propagated(key.api_key_id, timeout_s=self.timeout_s,
                                            interval_s=self.interval_s, on_wait=waiting):
            raise MxsyncError(f"the new xAI key {key.api_key_id} did not propagate within "
                              f"{self.timeout_s:.0f}s; it is deleted again and nothing else changed",
                              hint=f"re-run apply later, or raise {PROPAGATION_TIMEOUT_ENV}")
        self.run.record(change, "ok", StepCode.PROPAGATED,
                        {"seconds": round(time.monotonic() - started)},
                        action=StepAction.PROPAGATE)
        if change.test:
            await self._test(change, key.secret)
            self.run.record(change, "ok", action=StepAction.TEST)
        fingerprint = key.secret.fingerprint
        metadata = {**(change.metadata or {}), ownership.FINGERPRINT: fingerprint,
                    ownership.XAI_KEY_ID: key.api_key_id}
        after = {**(change.after or {}), "key_fingerprint": fingerprint}
        self.run.replace_change(index, replace(change, fingerprint=fingerprint, metadata=metadata,
                                               after=after, test=False))

    async def _mint(self, client: XaiManagementClient, change: Change) -> Any:
        from mxsync.xai_management import MintedWithoutSecret

        mint = _spec(change)
        expire = datetime.fromisoformat(change.expires_at.replace("Z", "+00:00")) \
            if change.expires_at else None
        for _ in range(MINT_ATTEMPTS):
            name = str(names.new_name(self.run.owner, self.run.plan.org, change.name,
                                      names.site_of(self.run.api.base_url)))
            try:
                return await client.create_key(
                    mint.team_id, name=name, acls=list(mint.acls), qps=mint.qps, qpm=mint.qpm,
                    tpm=mint.tpm, expire_time=expire)
            except OutcomeUnknown:
                # The key may exist, but its secret was never seen: it can never be stored.
                lost = await client.find_keys(mint.team_id, name_prefix=name)
                for key in lost:
                    await client.delete_key(key.api_key_id)
                self.run.record(change, "ok", StepCode.MINT_LOST, {"deleted": len(lost)},
                                action=StepAction.MINT)
            except MintedWithoutSecret as exc:
                await client.delete_key(exc.key.api_key_id)
        raise MxsyncError(f"could not mint a key for {change.address}: {MINT_ATTEMPTS} attempts "
                          "got no answer; nothing was changed in ModuleX", hint="re-run apply")

    async def _test(self, change: Change, secret: Secret) -> None:
        result: dict[str, Any] = {}
        for attempt in range(TEST_ATTEMPTS):
            result = await self.run.api.test_key(self.run.token, self.run.plan.org, secret,
                                                 change.base_url)
            if result.get("is_valid") or result.get("status_code") != 400:
                break
            await asyncio.sleep(self.interval_s * (attempt + 1))
        if not result.get("is_valid"):
            raise MxsyncError(
                f"key test failed: xAI answered {result.get('status_code')} "
                f"({result.get('message') or 'invalid'}) for the newly minted key; it is deleted "
                "again and nothing was changed for this entry",
                hint="check the entry's mint acls and base_url, and the team's credits")

    # -- after ModuleX ------------------------------------------------------------------------
    def stored(self, change: Change) -> None:
        """ModuleX holds the key now: drop the secret, and the key is no longer ours to clean."""
        self.minted.pop(change.name, None)

    async def referenced(self) -> dict[str, str]:
        """key id -> credential id, for every live credential of the org that names one."""
        records = await self.run.api.list_credentials(self.run.token, self.run.plan.org)
        found = {}
        for record in records:
            cred = LiveCredential.from_api(record)
            key_id = cred.metadata.get(ownership.XAI_KEY_ID)
            if key_id:
                found[str(key_id)] = cred.id
        return found

    async def retire(self, change: Change) -> None:
        """Delete the key of a credential that is gone (a rotation's old one, a duplicate,
        a pruned one), unless a live credential still references it."""
        key_id = change.mint.old_key_id if change.mint else None
        if not key_id:
            return
        try:
            holder = (await self.referenced()).get(key_id)
            if holder is not None:
                self.run.record(change, "ok", StepCode.XAI_KEY_KEPT,
                                {"key_id": key_id, "holder": holder}, action=StepAction.REVOKE)
                return
            gone_now = await self.client(change).delete_key(key_id)
        except MxsyncError as exc:
            self.run.record(change, "failed", StepCode.XAI_KEY_NOT_DELETED,
                            {"key_id": key_id, "message": exc.message}, action=StepAction.REVOKE)
            return
        self.run.record(change, "ok", StepCode.XAI_KEY_DELETED,
                        {"key_id": key_id, "already_gone": not gone_now},
                        action=StepAction.REVOKE)

    async def delete_orphan(self, index: int) -> None:
        change = self.run.plan.changes[index]
        key_id = str(_spec(change).old_key_id)
        holder = (await self.referenced()).get(key_id)
        if holder is not None:
            self.run.finish(index, "skipped", StepCode.ORPHAN_HELD, {"holder": holder})
            return
        gone_now = await self.client(change).delete_key(key_id)
        self.run.finish(index, "ok", StepCode.ORPHAN_DELETED, {"already_gone": not gone_now})

    async def cleanup(self) -> None:
        """Delete every key this run minted that ModuleX never got (a failed test or create)."""
        for entry, minted in list(self.minted.items()):
            minted.secret = None
            change = next(c for c in self.run.plan.changes if c.name == entry and c.mint)
            try:
                await minted.client.delete_key(minted.key_id)
            except MxsyncError as exc:
                self.run.record(change, "failed", StepCode.UNUSED_KEY_NOT_DELETED,
                                {"key_id": minted.key_id, "message": exc.message},
                                action=StepAction.REVOKE)
                continue
            finally:
                self.minted.pop(entry, None)
            self.run.record(change, "ok", StepCode.UNUSED_KEY_DELETED, {"key_id": minted.key_id},
                            action=StepAction.REVOKE)
