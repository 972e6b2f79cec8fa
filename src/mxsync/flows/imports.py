"""`mxsync import`: read live orgs into a manifest, and optionally adopt what matches."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mxsync import ownership
from mxsync.errors import MxsyncError
from mxsync.flows.common import OrgDirectory, RunOptions, client_for
from mxsync.interrupt import run_until_sigterm
from mxsync.live import OrgRequest, read_orgs
from mxsync.manifest.model import DEFAULT_TOKEN_ENV
from mxsync.secrets import read_token
from mxsync.state import LiveCredential

if TYPE_CHECKING:
    from pathlib import Path

    from mxsync.api import ModulexClient
    from mxsync.executor import ApplyReport, Progress
    from mxsync.importer import Imported
    from mxsync.manifest.model import Manifest, OrgEntry
    from mxsync.plan import OrgPlan, Plan, Reason
    from mxsync.secrets import Secret
    from mxsync.state import LiveOrg


@dataclass
class LiveRead:
    states: list[LiveOrg]
    names: dict[str, str | None]
    failed: dict[str, Reason] = field(default_factory=dict)  # asked for, but not readable
    skipped: list[str] = field(default_factory=list)  # --all-orgs: not manageable by the token


def read_live_orgs(org_ids: Sequence[str], all_orgs: bool, options: RunOptions,
                   token_env: str = DEFAULT_TOKEN_ENV) -> LiveRead:
    token = read_token(token_env)

    async def run() -> LiveRead:
        async with client_for(None, options) as client:
            directory = OrgDirectory(client)
            ids = list(dict.fromkeys(org_ids))
            skipped: list[str] = []
            if all_orgs:
                manageable = await directory.manageable(token)
                skipped = [i for i in await directory.names(token)
                           if i not in manageable and i not in ids]
                ids += [i for i in manageable if i not in ids]
            if not ids:
                raise MxsyncError("no org to read", hint="pass --org ID (repeatable) or --all-orgs")
            live, failed = await read_orgs(
                client, directory,
                [OrgRequest(i, token, token_env, "", need_settings=True) for i in ids],
                options.read_progress)
            names = await directory.names(token)
            return LiveRead([live[i] for i in ids if i in live],
                            {i: names.get(i) for i in live}, failed, skipped)

    return run_until_sigterm(run())


@dataclass
class ImportRun:
    read: LiveRead
    imported: Imported
    text: str  # the manifest, as written


def import_manifest(org_ids: Sequence[str], all_orgs: bool, owner: str, options: RunOptions,
                    token_env: str = DEFAULT_TOKEN_ENV,
                    key_document: str | None = None) -> ImportRun:
    """Read the live orgs and write them as a manifest (as of now, for `owner`); with
    `key_document`, every key is a field of the document in that one variable."""
    from mxsync.importer import import_orgs

    read = read_live_orgs(org_ids, all_orgs, options, token_env)
    imported = import_orgs(read.states, owner, read.names, key_document=key_document)
    text = imported.text(datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), token_env)
    return ImportRun(read, imported, text)


def write_manifest(path: Path, text: str, *, replace: bool = False) -> None:
    from mxsync.files import atomic_write

    atomic_write(path, text, replace=replace)


def adopt_imported(run: ImportRun, options: RunOptions, token_env: str = DEFAULT_TOKEN_ENV,
                   progress: Progress | None = None) -> Adoption:
    """`import --adopt` after an import: adopt what matches of what was just imported.
    `progress` is told each step taken (for what to say if a signal stops it)."""
    return adopt_existing(run.imported.manifest(token_env), run.read, options, progress)


@dataclass
class _ReadOnce:
    """The API client as the executor sees it during `import --adopt`, with one call saved
    per credential: the executor reads an adopted credential right before writing (has
    another owner taken it since?), and this run has just read it, masked key and all, to
    decide the adoption. That read is answered again instead of made twice."""

    client: ModulexClient
    fresh: dict[str, dict[str, Any]]  # credential id -> the record read moments ago

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    async def get_credential(self, token: Secret, org: str, credential_id: str, *,
                             include_masked: bool = False) -> dict[str, Any]:
        record = self.fresh.pop(credential_id, None)
        if record is not None:
            return record
        return await self.client.get_credential(token, org, credential_id,
                                                include_masked=include_masked)


def _adoptable(org: OrgEntry, keys: dict[tuple[str, str], Secret]) -> OrgEntry:
    """The org as far as adoption goes: its entries whose key could be read, and nothing
    that would change settings or the default (adopting only marks credentials)."""
    return replace(org, credentials=tuple(e for e in org.credentials
                                          if e.adopt_id and (org.id, e.name) in keys),
                   default=None, models=None, assistant=None, require_models=())


@dataclass
class Adoption:
    plan: Plan  # its errors: each entry whose credential could not be adopted, by name
    report: ApplyReport
    not_set: list[tuple[str, str]]  # (org, entry) whose key could not be read: not tried


def adopt_existing(manifest: Manifest, read: LiveRead, options: RunOptions,
                   progress: Progress | None = None) -> Adoption:
    """`import --adopt`: adopt the entries whose key is set, each exactly the credential its
    `adopt_id` names, and nothing else. At the floor of calls: the orgs' credentials come
    from the import's own read (`read`), each candidate's masked key is read once, and
    that read is also the executor's check right before writing (`_ReadOnce`).

    Each adoption stands alone, so a key that does not match is reported, by entry name,
    and the others in its org are still adopted."""
    from mxsync.executor import ApplyReport, execute
    from mxsync.inputs import for_manifest, for_plan
    from mxsync.plan import Plan
    from mxsync.planner import plan_org

    inputs = for_manifest(manifest, manifest.orgs)
    orgs = [o for o in (_adoptable(org, inputs.keys) for org in manifest.orgs)
            if o.credentials and o.id in inputs.tokens]
    if not orgs:
        raise MxsyncError("--adopt: none of the keys of the imported manifest is set",
                          hint="export them (listed at the top of the manifest) and run again")
    not_set = [(o.id, e.name) for o in manifest.orgs for e in o.credentials
               if (o.id, e.name) not in inputs.keys]
    states = {s.id: s for s in read.states}
    now = datetime.now(UTC)

    async def one(client: ModulexClient, org: OrgEntry) -> tuple[OrgPlan, ApplyReport]:
        token = inputs.tokens[org.id]
        state = states[org.id]
        unmarked = {c.id for c in state.credentials if not ownership.has_marker(c.metadata)}
        ids = [e.adopt_id for e in org.credentials if e.adopt_id in unmarked]
        client.expect(len(ids), token)  # for progress: what is left, and how long it takes
        records = await asyncio.gather(*(client.get_credential(token, org.id, i,
                                                               include_masked=True)
                                         for i in ids if i is not None))
        fresh = {str(r.get("credential_id")): r for r in records}
        credentials = tuple(
            replace(LiveCredential.from_api(fresh[c.id]), masked=fresh[c.id].get("auth_data_masked"))
            if c.id in fresh else c for c in state.credentials)
        keys = {e.name: inputs.keys[(org.id, e.name)] for e in org.credentials}
        planned = plan_org(org, manifest.owner, manifest.token_env_for(org), keys,
                           replace(state, credentials=credentials), now=now)
        only_adopts = replace(planned, changes=tuple(
            replace(c, depends_on=()) for c in planned.changes if c.action == "adopt"))
        if not only_adopts.changes:
            return planned, ApplyReport([])
        client.expect(len(only_adopts.changes), token)
        one_org = Plan(owner=manifest.owner, orgs=(replace(only_adopts, errors=()),),
                       manifest_digest=manifest.digest, api_url=client.base_url)
        report = await execute(_ReadOnce(client, fresh), one_org, for_plan(one_org),
                               check_stale=False, progress=progress,
                               settle_s=options.settle_window_s,
                               xai_timeout_s=options.timeout_s)
        return planned, report

    async def run() -> Adoption:
        async with client_for(manifest.api_url, options) as client:
            done = await asyncio.gather(*(one(client, org) for org in orgs))
            plan = Plan(owner=manifest.owner, orgs=tuple(p for p, _ in done),
                        manifest_digest=manifest.digest, api_url=client.base_url)
            return Adoption(plan, ApplyReport([o for _, r in done for o in r.orgs]), not_set)

    return run_until_sigterm(run())
