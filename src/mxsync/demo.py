"""`mxsync demo`: the whole cycle, offline, against an in-process emulator.

validate -> plan -> apply -> plan again, on the demo manifest and emulator fixture that
ship inside the package (`mxsync/data/`), so the demo works from a wheel with no
repository at hand; `--examples FOLDER` points it at edited copies instead. Fake keys are
exported for this process only.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shlex
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mxsync.errors import MxsyncError
from mxsync.secrets import Secret

if TYPE_CHECKING:
    from mxsync.manifest.model import Manifest

FIXTURE_NAME = "emulator-fixture.yaml"
MANIFEST_NAME = "demo.yaml"

# The bundled fixture's fake token, and fake keys for the demo manifest's variables
# (fixed, so that the fingerprints the demo shows are the same on every run).
DEMO_ENV = {
    "MODULEX_API_KEY": "mx_live_demo_admin_0123456789abcdef",
    "XAI_KEY_ACME_PRIMARY": "xai-demoPrimaryKey000000000000000",
    "XAI_KEY_ACME_BATCH": "xai-demoBatchKey00000000000000000",
    "XAI_KEY_BETA_SHARED": "xai-demoBetaSharedKey000000000000",
}


@contextmanager
def demo_files(examples: Path | None) -> Iterator[tuple[Path, Path]]:
    """The fixture and the manifest, as real paths for as long as the demo runs.

    The packaged copies go through `importlib.resources.as_file`, which hands out the
    installed file itself, or a temporary copy when mxsync is imported from a zip.
    """
    if examples is not None:
        missing = [name for name in (FIXTURE_NAME, MANIFEST_NAME) if not (examples / name).is_file()]
        if missing:
            raise MxsyncError(
                f"{examples} has no {' and no '.join(missing)}",
                hint=f"--examples takes a folder holding both {FIXTURE_NAME} and {MANIFEST_NAME}; "
                     "leave it out to use the copies that ship with mxsync",
            )
        folder = examples.resolve()  # absolute, so the commands printed at the end work anywhere
        yield folder / FIXTURE_NAME, folder / MANIFEST_NAME
        return
    data = resources.files("mxsync").joinpath("data")
    with ExitStack() as stack:
        fixture = stack.enter_context(resources.as_file(data.joinpath(FIXTURE_NAME)))
        manifest = stack.enter_context(resources.as_file(data.joinpath(MANIFEST_NAME)))
        yield fixture, manifest


async def _read_state(url: str, token: Secret, orgs: list[str]) -> dict[str, list[dict[str, Any]]]:
    from mxsync.api import ModulexClient

    async with ModulexClient(url) as client:
        lists = await asyncio.gather(*(client.list_credentials(token, org) for org in orgs))
    return dict(zip(orgs, lists, strict=True))


def live_table(state: dict[str, list[dict[str, Any]]]) -> str:
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
    from mxsync.render.table import table

    return "\n".join(table(rows))


def fixture_token(fixture: Path) -> str:
    """The first user's token in the fixture: the one the demo (and the user by hand) signs in with.

    The bundled fixture's is DEMO_ENV's; an `--examples` fixture may have its own."""
    import yaml

    try:
        users = (yaml.safe_load(fixture.read_text(encoding="utf-8")) or {}).get("users") or []
        return str(users[0]["token"])
    except (yaml.YAMLError, AttributeError, IndexError, KeyError, TypeError):
        return DEMO_ENV["MODULEX_API_KEY"]


@dataclass(frozen=True)
class DemoVariables:
    """The variables the demo sets for its own process: their names, for what it says."""

    token_vars: tuple[str, ...]
    key_vars: tuple[str, ...]

    @classmethod
    def of(cls, manifest: Manifest) -> DemoVariables:
        tokens = dict.fromkeys(manifest.token_env_for(org) for org in manifest.orgs)
        keys = dict.fromkeys(c.key.env for org in manifest.orgs for c in org.credentials
                             if c.key is not None and c.key.env)  # a minted key has none
        return cls(tuple(tokens), tuple(keys))

    def values(self, token: str) -> dict[str, str]:
        """Fake values: the fixture's token, and a fake xAI-shaped key per variable."""
        fake = {name: DEMO_ENV.get(name) or f"xai-demo{secrets.token_hex(16)}" for name in self.key_vars}
        return {**dict.fromkeys(self.token_vars, token), **fake}


def introduction(url: str, fixture: Path, variables: DemoVariables) -> str:
    """What the demo set up, so nothing it relies on is hidden: the server and the names it set."""
    named = [("MODULEX_BASE_URL", url),
             *((name, "the fixture's demo token") for name in variables.token_vars),
             *((name, "a fake xAI key (the emulator accepts any well-formed one)")
               for name in variables.key_vars)]
    width = max(len(name) for name, _ in named)
    return "\n".join([
        f"Started a throwaway ModuleX emulator at {url}, inside this process: it stops when",
        "the demo ends, and everything the demo changed goes with it.",
        f"  its world: {fixture}",
        "Set for this process only (the token and the keys are fake, and never printed):",
        *(f"  {name.ljust(width)}  {what}" for name, what in named),
    ])


# Shell text that produces a value without showing it.
_FAKE_KEY = "xai-$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"


def by_hand(fixture: Path, manifest: Path, variables: DemoVariables) -> str:
    """The demo's steps as commands a user can paste into a POSIX shell.

    No value is written out: the token is read from the fixture and the keys are made up
    on the spot, so the text can be shown, logged and copied anywhere."""
    if fixture.parent == manifest.parent:
        folder = [f"DEMO={shlex.quote(str(fixture.parent))}"]
        f, m = f'"$DEMO/{fixture.name}"', f'"$DEMO/{manifest.name}"'
    else:
        folder, f, m = [], shlex.quote(str(fixture)), shlex.quote(str(manifest))
    commands = [
        *folder,
        "# a fresh emulator of the same world, in the background, on a free port; it writes",
        "# its URL to emulator.url once it is ready, and the next line waits for that",
        f"mxsync emulator --port 0 --fixture {f} > emulator.url &",
        "until grep -q '^http' emulator.url 2>/dev/null; do sleep 1; done",
        'export MODULEX_BASE_URL="$(head -n 1 emulator.url)"',
        "# the fixture's fake token, and a fake xAI key for each variable the manifest names",
        *(f"export {name}=\"$(sed -n 's/^ *- token: *//p' {f} | head -n 1)\""
          for name in variables.token_vars),
        *(f'export {name}="{_FAKE_KEY}"' for name in variables.key_vars),
        f"mxsync validate -f {m}",
        f"mxsync plan -f {m} --out plan.json   # review it: the file holds no secret",
        "mxsync apply plan.json   # applies exactly the plan you reviewed",
        f"mxsync plan -f {m}   # again: no changes",
        "kill %1   # stops the emulator",
    ]
    return "\n".join(f"  {command}" for command in commands)


def run_demo(examples: Path | None, color: bool | None) -> None:
    from mxsync.extras import require_emulator

    require_emulator("demo")
    with demo_files(examples) as (fixture, manifest_path):
        _run(fixture, manifest_path, color)


def _run(fixture: Path, manifest_path: Path, color: bool | None) -> None:
    from mxsync.emulator.server import SERVICE_RATE_LIMIT, BackgroundEmulator, EmulatorOptions
    from mxsync.flows.apply import apply_plan
    from mxsync.flows.common import RunOptions
    from mxsync.flows.plan import plan_manifest
    from mxsync.manifest import load
    from mxsync.render.text import render_plan, render_report, use_color

    paint = use_color(color)

    def step(title: str) -> None:
        click.secho(f"\n== {title}", bold=True, color=paint)

    loaded = load([str(manifest_path)])  # offline; its problems are shown at the validate step
    if loaded.manifest is None:
        for problem in loaded.problems:
            click.echo(problem.format())
        raise MxsyncError(f"the demo manifest {manifest_path} is not valid",
                          hint="fix the problems above, or leave out --examples")
    m = loaded.manifest
    variables = DemoVariables.of(m)
    token = fixture_token(fixture)
    orgs = [org.id for org in m.orgs]
    click.secho("mxsync demo: validate, plan, apply and plan again, offline, against a throwaway "
                "emulator.", bold=True, color=paint)
    # The service's own limit (60 calls a minute per token): the demo makes about 20 calls,
    # so it is as quick as without one, and shows the X-RateLimit-* headers a user will meet.
    with BackgroundEmulator(EmulatorOptions(fixture=fixture, rate_limit=SERVICE_RATE_LIMIT)) as emu:
        os.environ.update({"MODULEX_BASE_URL": emu.url, **variables.values(token)})
        click.echo(introduction(emu.url, fixture, variables))
        options = RunOptions(api_url=emu.url)
        before = asyncio.run(_read_state(emu.url, Secret(token), orgs))
        click.echo("\nLive xAI credentials before:\n" + live_table(before))

        step(f"mxsync validate -f {manifest_path}")
        for problem in loaded.problems:
            click.echo(problem.format())
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

        after = asyncio.run(_read_state(emu.url, Secret(token), orgs))
        click.echo("\nLive xAI credentials after:\n" + live_table(after))
        if again.has_changes or again.errors:
            raise MxsyncError("the demo did not converge")

    step("Do it again by hand")
    click.echo("The emulator has stopped. To repeat each step yourself, paste these lines into a "
               "POSIX shell,\nin any folder:\n")
    click.echo(by_hand(fixture, manifest_path, variables))
