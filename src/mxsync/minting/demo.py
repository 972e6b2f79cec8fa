"""`mxsync demo --minted`: a key no one ever sees, minted and then rotated, offline.

Against an in-process emulator of the bundled world (its `org-beta` org and its xAI
team `team-acme`): plan -> apply (mint, wait for propagation, test, store) -> plan
(nothing to do) -> plan --replace -> apply (the rotation) -> plan. The manifest is
written to a temporary folder, since it must name the emulator's URL.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import click

from mxsync.errors import MxsyncError
from mxsync.secrets import Secret

ORG = "org-beta"
TEAM = "team-acme"
TOKEN = "mx_live_demo_admin_0123456789abcdef"  # the bundled fixture's fake token
MANAGEMENT_KEY = "mgmt-demo-0123456789abcdef"  # the bundled fixture's fake management key

MANIFEST = """\
version: 1
owner: demo
xai_management:
  team_id: {team}
  key_env: XAI_MANAGEMENT_KEY  # the management key: read from the environment, never written
  # the emulator's Management API (the real one, the default: https://management-api.x.ai)
  url: {url}/xai-management
orgs:
  - id: {org}
    xai:
      default: minted
      credentials:
        - name: minted
          mint: {{acls: ["api-key:model:grok-4-fast", "api-key:endpoint:chat"], qpm: 600}}
          rotate_after: 30d
"""


async def _state(url: str) -> tuple[list[dict[str, Any]], list[Any]]:
    from mxsync.api import ModulexClient
    from mxsync.xai_management import XaiManagementClient

    async with ModulexClient(url) as modulex, XaiManagementClient(
            Secret(MANAGEMENT_KEY), f"{url}/xai-management") as xai:
        creds, keys = await asyncio.gather(modulex.list_credentials(Secret(TOKEN), ORG),
                                           xai.list_keys(TEAM))
    return creds, keys


def tables(url: str) -> str:
    creds, keys = asyncio.run(_state(url))
    rows = [("MODULEX CREDENTIAL", "DEFAULT", "KEY FINGERPRINT", "mxsync_xai_key_id")]
    for cred in creds:
        meta = cred.get("credentials_metadata") or {}
        rows.append((f"{cred.get('display_name')} ({cred.get('credential_id')})",
                     "yes" if cred.get("is_default") else "",
                     str(meta.get("mxsync_key_fingerprint") or "-"),
                     str(meta.get("mxsync_xai_key_id") or "-")))
    rows.append(("", "", "", ""))
    rows.append(("KEY AT xAI (team " + TEAM + ")", "", "SHOWN AS", "NAME"))
    rows.extend((k.api_key_id, "", k.redacted, k.name) for k in keys)
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)


def run_minted_demo(color: bool | None) -> None:
    from mxsync.emulator.server import SERVICE_RATE_LIMIT, BackgroundEmulator, EmulatorOptions
    from mxsync.extras import require_emulator
    from mxsync.flows.apply import apply_plan
    from mxsync.flows.common import RunOptions
    from mxsync.manifest import load_or_raise
    from mxsync.outcomes import Step, StepCode
    from mxsync.planner import Target
    from mxsync.render.outcomes import step_message
    from mxsync.render.text import render_plan, render_report, use_color

    require_emulator("demo")
    paint = use_color(color)

    def step(title: str) -> None:
        click.secho(f"\n== {title}", bold=True, color=paint)

    def progress(s: Step) -> None:
        if s.code == StepCode.PROPAGATING:
            click.echo(f"   ... {step_message(s)}")

    click.secho("mxsync demo --minted: a key that exists only at xAI and in ModuleX, minted and "
                "then rotated, offline.", bold=True, color=paint)
    fixture = resources.files("mxsync").joinpath("data").joinpath("emulator-fixture.yaml")
    with resources.as_file(fixture) as fixture_path, tempfile.TemporaryDirectory() as folder, \
            BackgroundEmulator(EmulatorOptions(fixture=fixture_path,
                                               # ~30 calls: the service's limit costs nothing
                                               rate_limit=SERVICE_RATE_LIMIT)) as emu:
        from mxsync.flows.plan import plan_manifest

        # The demo is the operator here: it says where the token and the management key go.
        os.environ.update({"MODULEX_BASE_URL": emu.url, "MODULEX_API_KEY": TOKEN,
                           "XAI_MANAGEMENT_URL": f"{emu.url}/xai-management",
                           "XAI_MANAGEMENT_KEY": MANAGEMENT_KEY})
        path = Path(folder) / "minted.yaml"
        path.write_text(MANIFEST.format(team=TEAM, url=emu.url, org=ORG), encoding="utf-8")
        click.echo(f"Started a throwaway emulator at {emu.url} (ModuleX, and xAI's Management "
                   f"API under /xai-management).\nSet for this process only: MODULEX_API_KEY and "
                   f"XAI_MANAGEMENT_KEY (the fixture's fake token and management key).\n"
                   f"The manifest ({path}):\n")
        click.echo(path.read_text(encoding="utf-8"))
        manifest = load_or_raise([str(path)])
        options = RunOptions(api_url=emu.url)
        forced = RunOptions(api_url=emu.url, replace=(Target.parse(f"{ORG}/xai/minted"),))

        for title, run_options in (("mxsync apply -f minted.yaml   (mint a key and store it)",
                                    options),
                                   ("mxsync apply -f minted.yaml --replace org-beta/xai/minted   "
                                    "(rotate it)", forced)):
            step(title)
            plan = plan_manifest(manifest, run_options)
            click.echo(render_plan(plan, color=paint), color=paint)
            report = apply_plan(plan, run_options, saved=False, progress=progress)
            click.echo(render_report(report, color=paint), color=paint)
            if report.failed:
                raise MxsyncError("the minted-key demo apply failed")
            click.echo("\n" + tables(emu.url))

        step("mxsync plan -f minted.yaml   (again: nothing left to do)")
        again = plan_manifest(manifest, options)
        click.echo(render_plan(again, color=paint), color=paint)
        if again.has_changes or again.errors:
            raise MxsyncError("the minted-key demo did not converge")
    click.echo("\nNo one saw either key: each went from xAI's answer straight into ModuleX. The "
               "old key was\ndeleted at xAI once its credential was gone; mxsync kept only its id "
               "and fingerprint.")
