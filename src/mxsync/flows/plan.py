"""`mxsync plan` (and the planning half of `apply -f`): resolve inputs, read, plan."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mxsync.errors import MxsyncError
from mxsync.flows.common import OrgDirectory, RunOptions, client_for, select_orgs
from mxsync.inputs import Inputs, for_manifest, require_shared_token
from mxsync.interrupt import run_until_sigterm
from mxsync.live import OrgRequest, read_orgs, read_settings, unread_reason
from mxsync.planner import make_plan

if TYPE_CHECKING:
    from mxsync.api import ModulexClient
    from mxsync.changed import ChangedOrgs
    from mxsync.manifest.model import Manifest, OrgEntry
    from mxsync.plan import Plan, Reason
    from mxsync.state import LiveOrg


def org_requests(manifest: Manifest, orgs: Sequence[OrgEntry], inputs: Inputs) -> list[OrgRequest]:
    """What to read for each org whose inputs are all there."""
    return [OrgRequest(org_id=org.id, token=inputs.tokens[org.id],
                       token_env=manifest.token_env_for(org), owner=manifest.owner,
                       entry_names=frozenset(n for e in org.credentials if e.adopt_id is None
                                             for n in (e.name, e.shown_name)),
                       adopt_ids=frozenset(e.adopt_id for e in org.credentials if e.adopt_id),
                       need_catalog=bool(org.require_models) or manages_settings(org),
                       need_settings=manages_settings(org))
            for org in orgs if inputs.ready(org.id)]


def manages_settings(org: OrgEntry) -> bool:
    return org.models is not None or org.assistant is not None


async def read_and_plan(client: ModulexClient, manifest: Manifest, orgs: Sequence[OrgEntry],
                        inputs: Inputs, options: RunOptions) -> Plan:
    from mxsync.plan import Reason, ReasonCode

    directory = OrgDirectory(client)
    requests = org_requests(manifest, orgs, inputs)
    live, unread = await read_orgs(client, directory, requests, options.read_progress)
    await read_xai_teams(orgs, inputs, options, live, unread)
    for org_id, problems in inputs.problems.items():
        unread[org_id] = problems[0] if len(problems) == 1 else Reason(
            ReasonCode.INPUTS_UNREADABLE, {"problems": [p.to_dict() for p in problems]})
    now = datetime.now(UTC)

    def plan() -> Plan:
        return make_plan(manifest, inputs.keys, live, unread=unread, prune=options.prune,
                         skip_tests=options.skip_tests, take_default=options.take_default,
                         targets=options.targets, api_url=client.base_url, now=now,
                         replace_targets=options.replace)

    first = plan()
    # The Assistant may run on a credential this plan replaces or deletes: only then are the
    # settings of an org that does not manage them worth a call, and the org is planned again.
    at_risk = {o.org for o in first.orgs
               if any(c.action in ("replace", "delete") for c in o.changes)
               and o.org in live and live[o.org].settings is None}
    if not at_risk:
        return first
    by_org = {r.org_id: r for r in requests}
    states = await asyncio.gather(*(read_settings(client, by_org[o], live[o]) for o in at_risk),
                                  return_exceptions=True)
    for org_id, state in zip(at_risk, states, strict=True):
        if isinstance(state, MxsyncError):
            unread[org_id] = unread_reason(state)
            del live[org_id]
        elif isinstance(state, BaseException):
            raise state
        else:
            live[org_id] = state
    return plan()


async def read_xai_teams(orgs: Sequence[OrgEntry], inputs: Inputs, options: RunOptions,
                          live: dict[str, LiveOrg], unread: dict[str, Reason]) -> None:
    """Orgs with minted entries also need their xAI team's keys (mxsync.minting)."""
    from mxsync.minting.live import Clients, attach, mints

    if any(mints(o) for o in orgs):
        async with Clients(inputs.management, options.timeout_s) as clients:
            await attach(clients, orgs, live, unread)


def plan_manifest(manifest: Manifest, options: RunOptions) -> Plan:
    from mxsync.destinations import Operator, resolve_management
    from mxsync.minting.plan import check_replace

    check_replace(manifest, options.replace)
    operator = Operator.from_environment(options.api_url, options.management_url)
    manifest = resolve_management(manifest, operator)
    orgs = select_orgs(manifest, options.targets, options.prune)
    require_shared_token(manifest, orgs)
    inputs = for_manifest(manifest, orgs)

    async def run() -> Plan:
        async with client_for(manifest.api_url, options) as client:
            return await read_and_plan(client, manifest, orgs, inputs, options)

    return run_until_sigterm(run())



def changed_orgs(manifest: Manifest, ref: str) -> ChangedOrgs:
    """`--changed-since REF`: the orgs whose part of the manifest differs from git REF."""
    from mxsync.changed import changed_since

    return changed_since(ref, manifest.files)


def empty_plan(manifest: Manifest, options: RunOptions) -> Plan:
    """The plan when no org is to be read (nothing changed since the ref): no call is made,
    and a saved copy applies as "no changes"."""
    from mxsync.flows.common import api_url
    from mxsync.plan import Plan

    return Plan(owner=manifest.owner, manifest_digest=manifest.digest,
                manifest_files=manifest.files, api_url=api_url(options.api_url, manifest.api_url))


def left_out(plan: Plan, found: ChangedOrgs) -> Plan:
    """The plan, saying which orgs `--changed-since` left out: a comment rendered from the
    saved file (`show --format markdown`) tells reviewers what was not planned."""
    from dataclasses import replace

    return replace(plan, options=replace(plan.options, changed_since=found.ref,
                                         left_out=found.unchanged))
