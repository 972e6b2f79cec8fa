"""`mxsync audit`: the manifest's orgs against it, or live orgs on their own.

An org that cannot be read becomes a finding of its own and the others are audited;
an org that `--all-orgs` finds but the token cannot manage is listed once as skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mxsync.flows.common import OrgDirectory, RunOptions, client_for, select_orgs
from mxsync.flows.plan import org_requests
from mxsync.inputs import for_manifest
from mxsync.live import OrgRequest, read_orgs
from mxsync.manifest.model import DEFAULT_TOKEN_ENV
from mxsync.secrets import read_token

if TYPE_CHECKING:
    from mxsync.api import ModulexClient
    from mxsync.audit import AuditOptions, AuditResult, Finding
    from mxsync.manifest.model import Manifest, OrgEntry
    from mxsync.plan import OrgPlan
    from mxsync.state import LiveOrg


@dataclass
class AuditRun:
    result: AuditResult
    skipped: list[str] = field(default_factory=list)  # --all-orgs: orgs the token cannot manage


def audit(manifest: Manifest | None, org_ids: Sequence[str], all_orgs: bool,
          audit_options: AuditOptions, options: RunOptions, token_env: str = DEFAULT_TOKEN_ENV
          ) -> AuditRun:
    from mxsync.audit import AuditResult, finding
    from mxsync.planner import plan_org
    from mxsync.render.reasons import sentence

    orgs = select_orgs(manifest, options.targets) if manifest else []
    inputs = for_manifest(manifest, orgs) if manifest else None

    async def run() -> AuditRun:
        async with client_for(manifest.api_url if manifest else None, options) as client:
            directory = OrgDirectory(client)
            skipped: list[str] = []
            if manifest is not None and inputs is not None:
                requests = org_requests(manifest, orgs, inputs)
                order = [o.id for o in orgs]
            else:
                live_token = read_token(token_env)
                ids = list(dict.fromkeys(org_ids))
                if all_orgs:
                    manageable = await directory.manageable(live_token)
                    skipped = [i for i in await directory.names(live_token)
                               if i not in manageable and i not in ids]
                    ids += [i for i in manageable if i not in ids]
                requests = [OrgRequest(i, live_token, token_env, "") for i in ids]
                order = ids
            live, unread = await read_orgs(client, directory, requests, options.read_progress)
            if manifest is not None and inputs is not None:  # minted entries: their xAI teams
                from mxsync.flows.plan import _read_xai_teams

                await _read_xai_teams(orgs, inputs, options, live, unread)
            findings: list[Finding] = []
            if inputs is not None:
                for org_id, problems in inputs.problems.items():
                    findings += [finding("unreadable", org_id, None, sentence(p)) for p in problems]
            for org_id, why in unread.items():
                code = "permission" if why.code in PERMISSION_CODES else "unreadable"
                findings.append(finding(code, org_id, None, sentence(why)))
            entries = {o.id: o for o in orgs}
            for req in requests:
                state = live.get(req.org_id)
                if state is None:
                    continue
                from mxsync.audit import live_findings, manifest_findings

                findings += live_findings(state, audit_options, manifest.owner if manifest else None)
                if manifest is not None and inputs is not None:
                    entry = entries[state.id]
                    keys = {e.name: inputs.keys[(state.id, e.name)] for e in entry.credentials
                            if (state.id, e.name) in inputs.keys}
                    org_plan = plan_org(entry, manifest.owner, req.token_env, keys, state,
                                        now=audit_options.as_of)
                    findings += _mint_findings(entry, manifest.owner, state, audit_options)
                    findings += manifest_findings(entry, manifest.owner, state, _unreported(org_plan))
                if audit_options.test_keys:
                    findings += await _test_keys(client, req, state)
            from mxsync.audit import checks_for

            result = AuditResult(orgs=order, checks=checks_for(manifest is not None, audit_options),
                                 findings=findings)
            return AuditRun(result, skipped)

    return asyncio.run(run())


def _mint_findings(entry: OrgEntry, owner: str, state: LiveOrg, options: AuditOptions
                   ) -> list[Finding]:
    from mxsync.minting.audit import mint_findings

    return mint_findings(entry, owner, state, options.as_of)


def _unreported(org_plan: OrgPlan) -> OrgPlan:
    """The plan without the changes that key-age and minted-key findings already report."""
    from dataclasses import replace

    from mxsync.minting.audit import REPORTED_REASONS

    return replace(org_plan, changes=tuple(c for c in org_plan.changes
                                           if c.reason.code not in REPORTED_REASONS))


PERMISSION_CODES = frozenset({"not-manageable", "forbidden", "token-rejected"})


async def _test_keys(client: ModulexClient, req: OrgRequest, state: LiveOrg) -> list[Finding]:
    """`POST /credentials/{id}/test` for every xai credential: one minimal, billed xAI call
    each. A test that could not be made is a finding of its own and stops nothing."""
    from mxsync.audit import finding
    from mxsync.errors import MxsyncError

    async def one(cred_id: str) -> dict[str, object] | MxsyncError:
        try:
            return await client.test_stored(req.token, req.org_id, cred_id)
        except MxsyncError as exc:
            return exc

    results = await asyncio.gather(*(one(c.id) for c in state.credentials))
    out: list[Finding] = []
    for cred, result in zip(state.credentials, results, strict=True):
        label = f"{cred.display_name} ({cred.id})"
        if isinstance(result, MxsyncError):
            out.append(finding("key-untested", state.id, label, (
                f"could not test the stored key ({result.message}); try again later")))
        elif not result.get("is_valid"):
            out.append(finding("key-invalid", state.id, label, (
                f"the stored key failed ModuleX's test ({result.get('message') or 'invalid'}); "
                "rotate it: put a working key in the manifest's variable and apply")))
    return out
