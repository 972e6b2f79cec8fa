"""`mxsync audit`: the manifest's orgs against it, or live orgs on their own.

An org that cannot be read becomes a finding of its own and the others are audited;
an org that `--all-orgs` finds but the token cannot manage is listed once as skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from mxsync.flows.common import OrgDirectory, RunOptions, client_for, select_orgs
from mxsync.flows.plan import org_requests
from mxsync.inputs import for_manifest, require_shared_token
from mxsync.interrupt import run_until_sigterm
from mxsync.live import OrgRequest, read_orgs
from mxsync.manifest.model import DEFAULT_TOKEN_ENV
from mxsync.minting.audit import MINT_CHECKS, REPORTED_REASONS, mint_findings
from mxsync.minting.names import site_of
from mxsync.secrets import read_token

if TYPE_CHECKING:
    from mxsync.api import ModulexClient
    from mxsync.audit import AuditOptions, AuditResult, Finding
    from mxsync.manifest.model import Manifest
    from mxsync.state import LiveCredential, LiveOrg


@dataclass
class AuditRun:
    result: AuditResult
    skipped: list[str] = field(default_factory=list)  # --all-orgs: orgs the token cannot manage
    # Orgs read whose settings were not (`settings_needed`): the Assistant's checks skipped them.
    assistant_unchecked: int = 0


def audit_manifest(files: Sequence[str], org_ids: Sequence[str], all_orgs: bool) -> Manifest | None:
    """What audit checks against: the manifest of -f (or ./mxsync.yaml when it exists, as
    plan and apply read), or None for live orgs on their own (--org / --all-orgs)."""
    from pathlib import Path

    from mxsync.errors import MxsyncError
    from mxsync.flows import DEFAULT_MANIFEST

    if files and (org_ids or all_orgs):
        raise MxsyncError("audit takes either a manifest (-f) or live orgs (--org / --all-orgs), "
                          "not both")
    if not files and not (org_ids or all_orgs):
        if not Path(DEFAULT_MANIFEST).is_file():
            raise MxsyncError(
                f"nothing to audit: no -f, no --org or --all-orgs, and no {DEFAULT_MANIFEST} here",
                hint="pass -f MANIFEST to audit its orgs against it, or --org ID / --all-orgs "
                     "to audit live orgs")
        files = (DEFAULT_MANIFEST,)
    if not files:
        return None
    from mxsync.manifest import load_or_raise

    return load_or_raise(list(files))


def audit(manifest: Manifest | None, org_ids: Sequence[str], all_orgs: bool,
          audit_options: AuditOptions, options: RunOptions, token_env: str = DEFAULT_TOKEN_ENV
          ) -> AuditRun:
    from mxsync.audit import (
        PERMISSION,
        UNREADABLE,
        AuditResult,
        checks_for,
        live_findings,
        manifest_findings,
        per_credential_calls,
        settings_needed,
    )
    from mxsync.planner import plan_org

    if manifest is not None:
        from mxsync.destinations import Operator, resolve_management

        operator = Operator.from_environment(options.api_url, options.management_url)
        manifest = resolve_management(manifest, operator)
    orgs = select_orgs(manifest, options.targets) if manifest else []
    if manifest is not None:
        require_shared_token(manifest, orgs)
    inputs = for_manifest(manifest, orgs) if manifest else None

    async def run() -> AuditRun:
        async with client_for(manifest.api_url if manifest else None, options) as client:
            directory = OrgDirectory(client)
            skipped: list[str] = []
            if manifest is not None and inputs is not None:
                requests = [replace(r, need_settings=settings_needed(r.need_settings,
                                                                     audit_options),
                                    per_credential=per_credential_calls(audit_options))
                            for r in org_requests(manifest, orgs, inputs)]
                order = [o.id for o in orgs]
            else:
                live_token = read_token(token_env)
                ids = list(dict.fromkeys(org_ids))
                if all_orgs:
                    manageable = await directory.manageable(live_token)
                    skipped = [i for i in await directory.names(live_token)
                               if i not in manageable and i not in ids]
                    ids += [i for i in manageable if i not in ids]
                requests = [OrgRequest(i, live_token, token_env, "",
                                       need_settings=settings_needed(False, audit_options),
                                       per_credential=per_credential_calls(audit_options))
                            for i in ids]
                order = ids
            live, unread = await read_orgs(client, directory, requests, options.read_progress)
            if manifest is not None and inputs is not None:  # minted entries: their xAI teams
                from mxsync.flows.plan import read_xai_teams

                await read_xai_teams(orgs, inputs, options, live, unread)
            findings: list[Finding] = []
            if inputs is not None:
                for org_id, problems in inputs.problems.items():
                    findings += [UNREADABLE.found(org_id, reason=p.to_dict()) for p in problems]
            for org_id, why in unread.items():
                check = PERMISSION if why.code in PERMISSION_CODES else UNREADABLE
                findings.append(check.found(org_id, reason=why.to_dict()))
            entries = {o.id: o for o in orgs}
            read = [(req, live[req.org_id]) for req in requests if req.org_id in live]
            for req, state in read:
                findings += live_findings(state, audit_options, manifest.owner if manifest else None)
                if manifest is not None and inputs is not None:
                    entry = entries[state.id]
                    keys = {e.name: inputs.keys[(state.id, e.name)] for e in entry.credentials
                            if (state.id, e.name) in inputs.keys}
                    site = site_of(client.base_url)
                    org_plan = plan_org(entry, manifest.owner, req.token_env, keys, state,
                                        now=audit_options.as_of, site=site)
                    findings += mint_findings(entry, manifest.owner, state, audit_options.as_of,
                                              site)
                    findings += manifest_findings(entry, manifest.owner, state, org_plan,
                                                  reported=REPORTED_REASONS)
            for found in await asyncio.gather(*(_health(client, req, state, audit_options)
                                                for req, state in read)):
                findings += found
            settings_read = sum(1 for _, state in read if state.settings is not None)
            result = AuditResult(orgs=order, checks=checks_for(manifest is not None, audit_options,
                                                                MINT_CHECKS, settings_read > 0),
                                 findings=findings)
            return AuditRun(result, skipped, assistant_unchecked=len(read) - settings_read)

    return run_until_sigterm(run())


PERMISSION_CODES = frozenset({"not-manageable", "forbidden", "token-rejected"})


async def _health(client: ModulexClient, req: OrgRequest, state: LiveOrg,
                  options: AuditOptions) -> list[Finding]:
    """Every credential's usage (`failing`; free at xAI, one ModuleX call each) and, with
    --test-keys, its key test (one minimal, billed xAI call each), all orgs at once. A call
    that fails is a finding of its own for that credential and stops nothing else."""
    from mxsync.audit import key_test_finding, usage_finding, usage_unread
    from mxsync.errors import MxsyncError
    from mxsync.keytest import classify_unreachable

    # These calls were announced by `read_orgs` (`OrgRequest.per_credential`) as soon as the
    # org's list said how many credentials it has.
    async def usage(cred: LiveCredential) -> Finding | None:
        try:
            answer = await client.credential_usage(req.token, req.org_id, cred.id)
        except MxsyncError as exc:
            return usage_unread(state.id, cred, exc.message)
        return usage_finding(state.id, cred, answer, options)

    async def test(cred: LiveCredential) -> Finding | None:
        try:
            result = await client.check_stored_key(req.token, req.org_id, cred.id)
        except MxsyncError as exc:  # e.g. an answer that was lost: still only this credential's
            result = classify_unreachable(exc.message)
        return key_test_finding(state.id, cred, result)

    calls = [usage(c) for c in state.credentials] if options.read_usage else []
    calls += [test(c) for c in state.credentials] if options.test_keys else []
    return [f for f in await asyncio.gather(*calls) if f is not None]
