"""The glue shared by plan, apply and audit: settle the inputs, read, plan.

Everything here is I/O at the edges of the pure planner: the environment (URL,
tokens, keys) and the API (live state).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mxsync.api import DEFAULT_BASE_URL, ModulexClient
from mxsync.errors import MxsyncError
from mxsync.executor import ApplyReport, Progress, execute, inputs_from_environment
from mxsync.live import LiveOrg, OrgRequest, read_live
from mxsync.manifest.model import Manifest, OrgEntry
from mxsync.plan import Plan
from mxsync.planner import Target, make_plan
from mxsync.secrets import Secret, SecretError, read_key, read_token


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
) -> tuple[Plan, dict[str, LiveOrg]]:
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
    live = await read_live(client, requests)
    states = {org_id: state for org_id, state in live.items() if isinstance(state, LiveOrg)}
    plan = make_plan(
        manifest,
        secrets.keys,
        {org_id: state if isinstance(state, LiveOrg) else str(state) for org_id, state in live.items()},
        prune=prune,
        skip_tests=skip_tests,
        targets=targets,
        api_url=client.base_url,
    )
    return plan, states


@dataclass(frozen=True)
class RunOptions:
    api_url: str | None = None
    parallelism: int = 10
    timeout_s: float = 30.0
    prune: bool = False
    skip_tests: bool = False
    targets: tuple[Target, ...] = ()


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
            plan, _ = await read_and_plan(client, manifest, orgs, secrets, prune=options.prune,
                                          skip_tests=options.skip_tests, targets=options.targets)
        return plan

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
