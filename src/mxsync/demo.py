"""`mxsync demo`: the whole cycle, offline, against an in-process emulator.

validate -> plan -> apply -> plan again, on `examples/demo.yaml` and the emulator's
built-in demo world, with fake keys exported for this process only.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import click

from mxsync.errors import MxsyncError
from mxsync.secrets import Secret

# The bundled fixture's fake token, and fake keys for the demo manifest's variables.
DEMO_ENV = {
    "MODULEX_API_KEY": "mx_live_demo_admin_0123456789abcdef",
    "XAI_KEY_ACME_PRIMARY": "xai-demoPrimaryKey000000000000000",
    "XAI_KEY_ACME_BATCH": "xai-demoBatchKey00000000000000000",
    "XAI_KEY_BETA_SHARED": "xai-demoBetaSharedKey000000000000",
}


def find_examples(given: Path | None) -> Path:
    candidates = [given] if given else [Path("examples"), Path(__file__).parents[2] / "examples"]
    for folder in candidates:
        if folder is not None and (folder / "demo.yaml").is_file():
            return folder
    raise MxsyncError(
        "cannot find examples/demo.yaml",
        hint="run the demo from the repository root, or pass --examples PATH",
    )


async def _read_state(url: str, orgs: list[str]) -> dict[str, list[dict]]:
    from mxsync.api import ModulexClient

    token = Secret(DEMO_ENV["MODULEX_API_KEY"])
    async with ModulexClient(url) as client:
        lists = await asyncio.gather(*(client.list_credentials(token, org) for org in orgs))
    return dict(zip(orgs, lists, strict=True))


def live_table(state: dict[str, list[dict]]) -> str:
    rows = [("ORG", "NAME", "DEFAULT", "MANAGED BY", "KEY FINGERPRINT")]
    for org, creds in state.items():
        if not creds:
            rows.append((org, "(no xai credentials)", "", "", ""))
        for cred in creds:
            meta = cred.get("credentials_metadata") or {}
            owner = meta.get("mxsync_owner")
            rows.append((
                org,
                str(cred.get("display_name")),
                "yes" if cred.get("is_default") else "",
                f"mxsync ({owner})" if meta.get("managed_by") == "mxsync" else "-",
                str(meta.get("mxsync_key_fingerprint") or "-"),
            ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)


def run_demo(examples: Path | None, color: bool | None) -> None:
    from mxsync.emulator.server import BackgroundEmulator, EmulatorOptions
    from mxsync.manifest import load
    from mxsync.pipeline import RunOptions, apply_plan, plan_manifest
    from mxsync.render.text import render_plan, render_report, use_color

    folder = find_examples(examples)
    manifest_path = folder / "demo.yaml"
    paint = use_color(color)

    def step(title: str) -> None:
        click.secho(f"\n== {title}", bold=True, color=paint)

    os.environ.update(DEMO_ENV)  # fake values, for this process only
    with BackgroundEmulator(EmulatorOptions()) as emu:  # no fixture: the built-in demo world
        click.echo(f"Emulator serving {emu.url} (the built-in demo world)")
        options = RunOptions(api_url=emu.url)
        orgs = ["org-acme", "org-beta"]
        click.echo("\nLive xAI credentials before:\n" + live_table(asyncio.run(_read_state(emu.url, orgs))))

        step(f"mxsync validate -f {manifest_path}")
        loaded = load([str(manifest_path)])
        for problem in loaded.problems:
            click.echo(problem.format())
        if loaded.manifest is None:
            raise MxsyncError("the demo manifest is not valid")
        m = loaded.manifest
        click.echo(f"{manifest_path}: {len(m.orgs)} orgs, {m.credential_count} credentials, valid.")

        step(f"mxsync plan -f {manifest_path}")
        plan = plan_manifest(m, options)
        click.echo(render_plan(plan, color=paint), color=paint)

        step(f"mxsync apply -f {manifest_path} --auto-approve")
        report = apply_plan(plan, options, saved=False)
        click.echo(render_report(report, color=paint), color=paint)
        if report.failed:
            raise MxsyncError("the demo apply failed")

        step(f"mxsync plan -f {manifest_path}   (again: nothing left to do)")
        again = plan_manifest(m, options)
        click.echo(render_plan(again, color=paint), color=paint)

        click.echo("\nLive xAI credentials after:\n" + live_table(asyncio.run(_read_state(emu.url, orgs))))
        if again.has_changes or again.errors:
            raise MxsyncError("the demo did not converge")
