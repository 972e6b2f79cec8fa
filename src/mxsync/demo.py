"""`mxsync demo`: the whole cycle, offline, against an in-process emulator."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from mxsync.errors import MxsyncError
from mxsync.secrets import Secret

DEMO_TOKEN = "mx_live_demo_admin_0123456789abcdef"  # the fake token of the bundled fixture


def find_examples(given: Path | None) -> Path:
    candidates = [given] if given else [Path("examples"), Path(__file__).parents[2] / "examples"]
    for folder in candidates:
        if folder is not None and (folder / "emulator-fixture.yaml").is_file():
            return folder
    raise MxsyncError(
        "cannot find examples/emulator-fixture.yaml",
        hint="run the demo from the repository root, or pass --examples PATH",
    )


async def _read_state(url: str, orgs: list[str]) -> dict[str, list[dict]]:
    from mxsync.api import ModulexClient

    token = Secret(DEMO_TOKEN)
    async with ModulexClient(url) as client:
        lists = await asyncio.gather(*(client.list_credentials(token, org) for org in orgs))
    return dict(zip(orgs, lists, strict=True))


def live_table(state: dict[str, list[dict]]) -> str:
    rows = [("ORG", "NAME", "DEFAULT", "MANAGED BY", "ID")]
    for org, creds in state.items():
        if not creds:
            rows.append((org, "(no xai credentials)", "", "", ""))
        for cred in creds:
            meta = cred.get("credentials_metadata") or {}
            rows.append((
                org,
                str(cred.get("display_name")),
                "yes" if cred.get("is_default") else "",
                str(meta.get("managed_by") or "-"),
                str(cred.get("credential_id"))[:8],
            ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def run_demo(examples: Path | None, color: bool | None) -> None:
    import yaml

    from mxsync.emulator.server import BackgroundEmulator, EmulatorOptions

    folder = find_examples(examples)
    fixture = folder / "emulator-fixture.yaml"
    doc = yaml.safe_load(fixture.read_text(encoding="utf-8"))
    orgs = [o["id"] for o in doc.get("orgs", []) if o["id"] != "org-old"]
    with BackgroundEmulator(EmulatorOptions(fixture=fixture)) as emu:
        click.secho(f"Emulator serving {emu.url} (fixture {fixture})", bold=True, color=color)
        state = asyncio.run(_read_state(emu.url, orgs))
        click.echo("\nLive xAI credentials:")
        click.echo(live_table(state))
