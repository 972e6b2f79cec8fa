"""`mxsync import`: read live orgs into a manifest, and optionally adopt what matches."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from mxsync.errors import MxsyncError
from mxsync.flows.common import OrgDirectory, RunOptions, client_for
from mxsync.live import OrgRequest, read_orgs
from mxsync.manifest.model import DEFAULT_TOKEN_ENV
from mxsync.secrets import read_token

if TYPE_CHECKING:
    from pathlib import Path

    from mxsync.executor import ApplyReport
    from mxsync.importer import Imported
    from mxsync.manifest.model import Manifest
    from mxsync.plan import Plan, Reason
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

    return asyncio.run(run())


@dataclass
class ImportRun:
    read: LiveRead
    imported: Imported
    text: str  # the manifest, as written


def import_manifest(org_ids: Sequence[str], all_orgs: bool, owner: str, options: RunOptions,
                    token_env: str = DEFAULT_TOKEN_ENV) -> ImportRun:
    """Read the live orgs and write them as a manifest (as of now, for `owner`)."""
    from datetime import UTC, datetime

    from mxsync.importer import import_orgs

    read = read_live_orgs(org_ids, all_orgs, options, token_env)
    imported = import_orgs(read.states, owner, read.names)
    text = imported.text(datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), token_env)
    return ImportRun(read, imported, text)


def write_manifest(path: Path, text: str, *, replace: bool = False) -> None:
    from mxsync.files import atomic_write

    atomic_write(path, text, replace=replace)


def adopt_imported(run: ImportRun, options: RunOptions,
                   token_env: str = DEFAULT_TOKEN_ENV) -> tuple[Plan, ApplyReport]:
    """`import --adopt` after an import: adopt what matches of what was just imported."""
    return adopt_existing(run.imported.manifest(token_env), options)


def adopt_existing(manifest: Manifest, options: RunOptions) -> tuple[Plan, ApplyReport]:
    """`import --adopt`: adopt the entries whose key variable is set, and nothing else.

    Each adoption stands alone, so a key that does not match (a conflict) is reported and
    the others in its org are still adopted."""
    from mxsync.flows.apply import apply_plan
    from mxsync.flows.plan import plan_manifest
    from mxsync.planner import Target

    present = tuple(Target(o.id, e.name) for o in manifest.orgs for e in o.credentials
                    if e.key is not None and e.key.env and os.environ.get(e.key.env))
    if not present:
        raise MxsyncError("--adopt: none of the key variables of the imported manifest is set",
                          hint="export them (listed at the top of the manifest) and run again")
    plan = plan_manifest(manifest, replace(options, targets=present))
    only_adopts = plan.with_orgs(tuple(
        replace(o, errors=(), changes=tuple(replace(c, depends_on=()) for c in o.changes
                                            if c.action == "adopt"))
        for o in plan.orgs))
    return plan, apply_plan(only_adopts, options, saved=False)
