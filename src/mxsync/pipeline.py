"""The glue shared by plan, apply and audit: settle the inputs, read, plan.

Everything here is I/O at the edges of the pure planner: the environment (URL,
tokens, keys) and the API (live state).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mxsync.api import DEFAULT_BASE_URL, ModulexClient
from mxsync.errors import MxsyncError
from mxsync.executor import ApplyReport, Progress, execute, inputs_from_environment
from mxsync.live import LiveOrg, OrgRequest, check_roles, read_live, read_org
from mxsync.manifest.model import DEFAULT_TOKEN_ENV, Manifest, OrgEntry
from mxsync.plan import Plan
from mxsync.planner import Target, make_plan
from mxsync.secrets import Secret, SecretError, read_key, read_token

if TYPE_CHECKING:
    from mxsync.audit import AuditOptions, AuditResult, Finding


def api_url(cli_url: str | None, manifest_url: str | None,
            environ: Mapping[str, str] | None = None) -> str:
    """`--api-url`, else `MODULEX_BASE_URL`, else the manifest, else the service."""
    env = os.environ if environ is None else environ
    return cli_url or env.get("MODULEX_BASE_URL") or manifest_url or DEFAULT_BASE_URL


def select_orgs(manifest: Manifest, targets: Sequence[Target]) -> list[OrgEntry]:
    if not targets:
        return list(manifest.orgs)
    known = {o.id: o for o in manifest.orgs}
    for target in targets:
        org = known.get(target.org)
        if org is None:
            raise MxsyncError(f"--target {target.org}: no such org in the manifest",
                              hint=f"orgs: {', '.join(known) or 'none'}")
        if target.name and org.entry(target.name) is None:
            raise MxsyncError(f"--target {target.org}/{target.name}: org {target.org} has no entry "
                              f"'{target.name}'")
    wanted = {t.org for t in targets}
    return [o for o in manifest.orgs if o.id in wanted]


@dataclass(frozen=True)
class Secrets:
    """Tokens per org and keys per (org, entry), read once per run."""

    tokens: dict[str, Secret]
    keys: dict[tuple[str, str], Secret]


def read_secrets(manifest: Manifest, orgs: Sequence[OrgEntry],
                 environ: dict[str, str] | None = None) -> Secrets:
    """Read every token and key; report every missing or malformed one at once."""
    tokens: dict[str, Secret] = {}
    keys: dict[tuple[str, str], Secret] = {}
    problems: list[str] = []
    for org in orgs:
        try:
            tokens[org.id] = read_token(manifest.token_env_for(org), environ)
        except SecretError as exc:
            problems.append(f"org {org.id}: {exc}")
        for entry in org.credentials:
            try:
                keys[(org.id, entry.name)] = read_key(entry.key, environ)
            except SecretError as exc:
                problems.append(f"{entry.where}: org {org.id}, entry '{entry.name}': {exc}")
    if problems:
        raise MxsyncError("cannot read the tokens and keys this run needs:\n  " + "\n  ".join(problems),
                          hint="`mxsync validate --check-env` checks them all without the network")
    return Secrets(tokens, keys)


async def read_and_plan(
    client: ModulexClient,
    manifest: Manifest,
    orgs: Sequence[OrgEntry],
    secrets: Secrets,
    *,
    prune: bool = False,
    skip_tests: bool = False,
    targets: Sequence[Target] = (),
    progress: Callable[[int, int], None] | None = None,
) -> Plan:
    requests = [
        OrgRequest(
            org_id=org.id,
            token=secrets.tokens[org.id],
            token_env=manifest.token_env_for(org),
            owner=manifest.owner,
            entry_names=frozenset(e.name for e in org.credentials),
            need_catalog=bool(org.require_models),
        )
        for org in orgs
    ]
    live = await read_live(client, requests, progress)
    return make_plan(
        manifest,
        secrets.keys,
        {org_id: state if isinstance(state, LiveOrg) else str(state) for org_id, state in live.items()},
        prune=prune,
        skip_tests=skip_tests,
        targets=targets,
        api_url=client.base_url,
    )


@dataclass(frozen=True)
class RunOptions:
    api_url: str | None = None
    parallelism: int = 10
    timeout_s: float = 30.0
    progress: bool = False  # a live count of orgs read, on stderr
    prune: bool = False
    skip_tests: bool = False
    targets: tuple[Target, ...] = ()


def _reading_progress(done: int, total: int) -> None:
    end = "\n" if done == total else ""
    sys.stderr.write(f"\rReading the live state: {done}/{total} orgs{end}")
    sys.stderr.flush()


def client_for(manifest_url: str | None, options: RunOptions) -> ModulexClient:
    return ModulexClient(api_url(options.api_url, manifest_url), parallelism=options.parallelism,
                         timeout_s=options.timeout_s)


def plan_manifest(manifest: Manifest, options: RunOptions) -> Plan:
    """Read the live state of the manifest's (targeted) orgs and plan: `mxsync plan`."""
    import asyncio

    orgs = select_orgs(manifest, options.targets)
    secrets = read_secrets(manifest, orgs)

    async def run() -> Plan:
        async with client_for(manifest.api_url, options) as client:
            return await read_and_plan(client, manifest, orgs, secrets, prune=options.prune,
                                       skip_tests=options.skip_tests, targets=options.targets,
                                       progress=_reading_progress if options.progress else None)

    return asyncio.run(run())


def apply_plan(plan: Plan, options: RunOptions, *, saved: bool,
               progress: Progress | None = None) -> ApplyReport:
    """Carry out a plan. A saved plan is checked for staleness, org by org, first."""
    import asyncio

    inputs = inputs_from_environment(plan)

    async def run() -> ApplyReport:
        async with client_for(plan.api_url, options) as client:
            return await execute(client, plan, inputs, check_stale=saved, progress=progress)

    return asyncio.run(run())


def audit(manifest: Manifest | None, org_ids: Sequence[str], all_orgs: bool,
          audit_options: AuditOptions, options: RunOptions, token_env: str = DEFAULT_TOKEN_ENV
          ) -> AuditResult:
    """`mxsync audit`: the manifest's orgs against it, or live orgs alone."""
    import asyncio

    orgs = select_orgs(manifest, options.targets) if manifest else []
    secrets = read_secrets(manifest, orgs) if manifest else None
    live_token = None if manifest else read_token(token_env)

    async def run() -> AuditResult:
        async with client_for(manifest.api_url if manifest else None, options) as client:
            if manifest is not None and secrets is not None:
                requests = [OrgRequest(o.id, secrets.tokens[o.id], manifest.token_env_for(o),
                                       manifest.owner, frozenset(e.name for e in o.credentials),
                                       bool(o.require_models)) for o in orgs]
            else:
                assert live_token is not None
                ids = list(org_ids)
                if all_orgs:
                    ids += [str(o["id"]) for o in await client.my_organizations(live_token)
                            if str(o["id"]) not in ids]
                requests = [OrgRequest(i, live_token, token_env, "") for i in ids]
            return await _audit(client, requests, manifest, secrets, audit_options)

    return asyncio.run(run())


async def _audit(client: ModulexClient, requests: Sequence[OrgRequest], manifest: Manifest | None,
                 secrets: Secrets | None, options: AuditOptions) -> AuditResult:
    import asyncio

    from mxsync.audit import (
        LIVE_CHECKS,
        MANIFEST_CHECKS,
        AuditResult,
        finding,
        live_findings,
        manifest_findings,
    )
    from mxsync.planner import plan_org

    roles, refused = await check_roles(client, requests)
    findings = [finding("permission", org, None, why) for org, why in refused.items()]
    allowed = [r for r in requests if r.org_id in roles]
    states = await asyncio.gather(*(read_org(client, r, roles[r.org_id]) for r in allowed))
    entries = {o.id: o for o in manifest.orgs} if manifest else {}
    for req, state in zip(allowed, states, strict=True):
        owner = manifest.owner if manifest else None
        findings += live_findings(state, options, owner)
        if manifest is not None and secrets is not None:
            entry = entries[state.id]
            keys = {e.name: secrets.keys[(state.id, e.name)] for e in entry.credentials}
            org_plan = plan_org(entry, manifest.owner, req.token_env, keys, state)
            findings += manifest_findings(entry, manifest.owner, state, org_plan)
        if options.test_keys:
            findings += await _test_keys(client, req, state)
    checks = list(LIVE_CHECKS) + (list(MANIFEST_CHECKS) if manifest else [])
    if options.test_keys:
        checks.append("key-invalid")
    return AuditResult(orgs=[r.org_id for r in requests], checks=checks, findings=findings)


async def _test_keys(client: ModulexClient, req: OrgRequest, state: LiveOrg) -> list[Finding]:
    """`POST /credentials/{id}/test` for every xai credential: one minimal xAI call each."""
    import asyncio

    from mxsync.audit import finding

    results = await asyncio.gather(*(client.test_stored(req.token, req.org_id, c.id)
                                     for c in state.credentials))
    return [finding("key-invalid", state.id, f"{c.display_name} ({c.id})", (
                f"the stored key failed ModuleX's test ({r.get('message') or 'invalid'}); "
                "rotate it: put a working key in the manifest's variable and apply"))
            for c, r in zip(state.credentials, results, strict=True) if not r.get("is_valid")]


async def _manageable_orgs(client: ModulexClient, token: Secret, token_env: str,
                           org_ids: Sequence[str], all_orgs: bool) -> list[LiveOrg]:
    """Read the given (or all) orgs of a token; refuse those it cannot manage."""
    ids = list(org_ids)
    if all_orgs:
        ids += [str(o["id"]) for o in await client.my_organizations(token) if str(o["id"]) not in ids]
    if not ids:
        raise MxsyncError("no org to read", hint="pass --org ID (repeatable) or --all-orgs")
    requests = [OrgRequest(i, token, token_env, "") for i in ids]
    roles, refused = await check_roles(client, requests)
    if refused and not all_orgs:
        raise MxsyncError("; ".join(refused.values()))
    import asyncio

    return list(await asyncio.gather(*(read_org(client, r, roles[r.org_id])
                                       for r in requests if r.org_id in roles)))


def read_orgs(org_ids: Sequence[str], all_orgs: bool, options: RunOptions,
              token_env: str = DEFAULT_TOKEN_ENV) -> tuple[list[LiveOrg], dict[str, str | None]]:
    """Live state of orgs, with their names, for `mxsync import`."""
    import asyncio

    token = read_token(token_env)

    async def run() -> tuple[list[LiveOrg], dict[str, str | None]]:
        async with client_for(None, options) as client:
            states = await _manageable_orgs(client, token, token_env, org_ids, all_orgs)
            names = {str(o["id"]): o.get("name") for o in await client.my_organizations(token)}
        return states, {s.id: names.get(s.id) for s in states}

    return asyncio.run(run())


def adopt_existing(manifest: Manifest, options: RunOptions) -> tuple[list[str], ApplyReport]:
    """`import --adopt`: adopt the entries whose key variable is set, and nothing else.

    Each adoption stands alone, so a key that does not match (a conflict) is reported and
    the others in its org are still adopted."""
    from dataclasses import replace

    from mxsync.planner import Target

    present = [Target(o.id, e.name) for o in manifest.orgs for e in o.credentials
               if e.key.env and os.environ.get(e.key.env)]
    if not present:
        raise MxsyncError("--adopt: none of the key variables of the imported manifest is set",
                          hint="export them (listed at the top of the manifest) and run again")
    plan = plan_manifest(manifest, replace(options, targets=tuple(present)))
    only_adopts = plan.with_orgs(tuple(
        replace(o, errors=(), changes=tuple(replace(c, depends_on=()) for c in o.changes
                                            if c.action == "adopt"))
        for o in plan.orgs))
    return plan.errors, apply_plan(only_adopts, options, saved=False)


def read_catalog(org: str | None, options: RunOptions, refresh: bool,
                 token_env: str = DEFAULT_TOKEN_ENV) -> tuple[dict[str, Any], str, str]:
    """The org's xAI catalog: (detail, org, where it came from)."""
    import asyncio
    import time

    from mxsync import catalog

    token = read_token(token_env)
    url = api_url(options.api_url, None)

    async def run() -> tuple[dict[str, Any], str, str]:
        async with client_for(None, options) as client:
            chosen = org
            if chosen is None:
                manageable = [str(o["id"]) for o in await client.my_organizations(token)
                              if o.get("role") in ("owner", "admin")]
                if not manageable:
                    raise MxsyncError("the token is not owner or admin of any org",
                                      hint="pass --org ID of an org where it is")
                chosen = manageable[0]
            path = catalog.cache_file(url, chosen)
            now = time.time()
            cached = None if refresh else catalog.read_cache(path, now)
            if cached is not None:
                age = int(now - cached["fetched_at"])
                return cached["detail"], chosen, f"cached {age} s ago; --refresh reads it again"
            detail = await client.provider_detail(token, chosen, "xai")
            catalog.write_cache(path, detail, now)
            return detail, chosen, "read now"

    return asyncio.run(run())
