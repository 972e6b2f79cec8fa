"""The `mxsync` command line: thin click commands over the library.

Heavy modules are imported inside each command so that `mxsync --version` and
`--help` start in a fraction of the time a full import would take.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, ParamSpec, TypeVar

import click
from click.core import ParameterSource

from mxsync import __version__

F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")
R = TypeVar("R")


class Finite(click.FloatRange):
    """A float range that also refuses nan and inf (FloatRange lets nan through)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if number != number or number in (float("inf"), float("-inf")):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class Context:
    def __init__(self, debug: bool, color: bool | None) -> None:
        self.debug = debug
        self.color = color


def _context() -> Context:
    """The run's settings; a command invoked on its own (tests) gets the defaults."""
    ctx = click.get_current_context()
    obj = ctx.find_object(Context)
    if obj is None:
        obj = ctx.obj = Context(debug=False, color=None)
    return obj


def _enable_debug() -> None:
    """Log each HTTP exchange on stderr, redacted by the run's secrets and the patterns."""
    from mxsync.secrets import install_log_redaction

    _context().debug = True
    logging.basicConfig(  # a no-op when logging is set up already (twice --debug, tests)
        stream=sys.stderr, level=logging.DEBUG, format="%(asctime)s %(name)s %(message)s"
    )
    logging.getLogger().setLevel(logging.DEBUG)
    install_log_redaction()  # right away: the first record may already name a secret
    for noisy in ("httpcore", "httpx", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _on_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        _enable_debug()


def _on_no_color(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        _context().color = False


DEBUG_HELP = "Log each HTTP exchange (secrets redacted) and show tracebacks (also: MXSYNC_DEBUG=1)."
NO_COLOR_HELP = "Never colour output (also: NO_COLOR)."


class Group(click.Group):
    """Every command also takes --debug and --no-color after its name: users type
    `mxsync plan --debug` as often as `mxsync --debug plan`, and both must work."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        cmd.params += [
            click.Option(["--debug"], is_flag=True, expose_value=False, callback=_on_debug,
                         help=DEBUG_HELP),
            click.Option(["--no-color"], is_flag=True, expose_value=False,
                         callback=_on_no_color, help=NO_COLOR_HELP),
        ]
        super().add_command(cmd, name)


def quiet_broken_pipe() -> NoReturn:
    """The reader went away (`mxsync validate ... | head`): stop quietly, as CLI tools do.

    Whatever is still buffered goes to /dev/null, so the interpreter's last flush cannot
    complain either; the exit status is the shell's for a command ended by SIGPIPE."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    sys.exit(128 + 13)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Expected failures print one paragraph and exit 1; a traceback only with --debug."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from mxsync.errors import MxsyncError
        from mxsync.render.safe import printable
        from mxsync.secrets import redact

        debug = _context().debug
        try:
            return func(*args, **kwargs)
        except MxsyncError as exc:
            if debug:
                raise
            click.echo(printable(redact(f"Error: {exc}"), keep_newlines=True), err=True)
            sys.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except BrokenPipeError:
            quiet_broken_pipe()
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except Exception as exc:
            if debug:
                raise
            click.echo(
                printable(redact(f"Error: internal error ({type(exc).__name__}: {exc}). "
                                 "Re-run with --debug for the traceback and report it.")),
                err=True,
            )
            sys.exit(1)

    return wrapper


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mxsync")
@click.option("--debug", is_flag=True, envvar="MXSYNC_DEBUG", help=DEBUG_HELP)
@click.option("--no-color", is_flag=True, help=NO_COLOR_HELP)
@click.pass_context
def cli(ctx: click.Context, debug: bool, no_color: bool) -> None:
    """Manage ModuleX xAI (Grok) credentials as code: validate, plan, apply."""
    ctx.obj = Context(debug=False, color=False if no_color else None)
    if debug:
        _enable_debug()


DEFAULT_MANIFEST = "mxsync.yaml"


def manifest_option(func: F) -> F:
    return click.option(
        "-f", "--file", "files", multiple=True, default=(DEFAULT_MANIFEST,), show_default=True,
        help="Manifest file or folder (all its *.yaml/*.yml); repeatable.",
    )(func)


FORMAT_HELP = {
    "text": "for people",
    "json": "for programs",
    "markdown": "for a pull-request comment or CI step summary",
    "junit": "JUnit XML, for CI test reports",
    "table": "the same as text (its earlier name)",
}


def format_options(*formats: str) -> Callable[[F], F]:
    """One `--format` for every command that prints results, and `--json` as its alias
    (the first spelling users learnt, kept so scripts keep working)."""
    def decorate(func: F) -> F:
        described = "; ".join(f"{f}: {FORMAT_HELP[f]}" for f in formats if f in FORMAT_HELP)
        func = click.option("--json", "as_json", is_flag=True,
                            help="Same as --format json.")(func)
        return click.option("--format", "fmt", type=click.Choice(list(formats)),
                            default=formats[0], show_default=True, help=described + ".")(func)
    return decorate


def _format(fmt: str, as_json: bool) -> str:
    return "json" if as_json else fmt


# -- validate and schema -----------------------------------------------------------------
@cli.command()
@manifest_option
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--check-env", is_flag=True,
              help="Also check that every key variable/file and token variable is set and well-formed "
                   "(values are never shown).")
@format_options("text", "json")
@handle_errors
def validate(files: tuple[str, ...], paths: tuple[str, ...], check_env: bool, fmt: str,
             as_json: bool) -> None:
    """Check manifests offline: every problem at once, as FILE:LINE:COL: PATH: message.

    PATHS (as pre-commit passes them) are checked one by one, each as a whole manifest."""
    import json

    from mxsync.manifest import load
    from mxsync.manifest.problems import summary
    from mxsync.render.words import plural

    fmt = _format(fmt, as_json)
    if paths:
        results = [load([p], check_env=check_env) for p in paths]
        problems = sorted(p for r in results for p in r.problems)
        errors = [p for p in problems if p.severity == "error"]
        if fmt == "json":
            click.echo(json.dumps([p.to_json() for p in problems], indent=2))
        else:
            for problem in problems:
                click.echo(problem.format())
            click.echo(summary(problems) if errors
                       else f"{plural(len(paths), 'manifest')} valid.")
        sys.exit(1 if errors else 0)
    result = load(list(files), check_env=check_env)
    if fmt == "json":
        click.echo(json.dumps([p.to_json() for p in result.problems], indent=2))
    else:
        for problem in result.problems:
            click.echo(problem.format())
        if result.errors:
            click.echo(summary(result.problems))
        elif result.manifest is not None:
            m = result.manifest
            warnings = len(result.problems)
            warned = f" ({plural(warnings, 'warning')})" if warnings else ""
            click.echo(f"{', '.join(files)}: {plural(len(m.orgs), 'org')}, "
                       f"{plural(m.credential_count, 'credential')}, valid{warned}.")
    sys.exit(1 if result.errors else 0)


@cli.command()
@click.argument("which", type=click.Choice(["manifest", "plan"]), default="manifest")
def schema(which: str) -> None:
    """Print the JSON Schema of the manifest (or of `plan --json`)."""
    from importlib import resources

    click.echo(resources.files("mxsync").joinpath(f"schemas/{which}.schema.json").read_text("utf-8"),
               nl=False)


URL_FROM_MANIFEST = ("ModuleX API base URL (else MODULEX_BASE_URL, else the manifest's api.url, "
                     "else https://api.modulex.dev).")
URL_WITHOUT_MANIFEST = "ModuleX API base URL (else MODULEX_BASE_URL, else https://api.modulex.dev)."


def run_options(func: F, url_help: str = URL_FROM_MANIFEST) -> F:
    """Options of every command that talks to the API."""
    options = [
        click.option("--api-url", metavar="URL", help=url_help),
        click.option("--parallelism", type=click.IntRange(1, 256), default=10, show_default=True,
                     help="API calls in flight at once."),
        click.option("--timeout", "timeout_s", type=Finite(0.1, 3600), default=30.0,
                     show_default=True, help="Seconds to wait for one API answer."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def live_run_options(func: F) -> F:
    """`run_options` for the commands that read no manifest (import, catalog, audit --org)."""
    return run_options(func, URL_WITHOUT_MANIFEST)


def _options(api_url: str | None, parallelism: int, timeout_s: float, prune: bool = False,
             skip_tests: bool = False, targets: tuple[str, ...] = (),
             take_default: bool = False) -> Any:
    from mxsync.flows.common import RunOptions
    from mxsync.planner import Target
    from mxsync.render.progress import reading_progress

    progress = reading_progress() if sys.stderr.isatty() else None
    return RunOptions(api_url=api_url, parallelism=parallelism, timeout_s=timeout_s, prune=prune,
                      skip_tests=skip_tests, targets=tuple(Target.parse(t) for t in targets),
                      take_default=take_default, read_progress=progress,
                      call_progress=progress.calls if progress else None)


def _with_replace(options: Any, replace: tuple[str, ...]) -> Any:
    """`--replace ORG/xai/NAME` (Terraform's -replace), for minted entries."""
    import dataclasses

    from mxsync.planner import Target

    return dataclasses.replace(options, replace=tuple(Target.parse(r) for r in replace))


def policy_options(func: F) -> F:
    """`--policy PATH` and `--namespace NAME` (mxsync.flows.policy)."""
    func = click.option("--namespace", "namespaces", multiple=True, metavar="NAME",
                        help="Rego package whose deny/violation/warn rules count (default: "
                             "main); repeatable.")(func)
    return click.option("--policy", "policies", multiple=True, metavar="PATH",
                        help="Judge with these Rego policies (a .rego file or a folder); "
                             "repeatable. A deny exits 1. Needs mxsync[policy].")(func)


def _emit_plan(plan: Any, fmt: str, color: bool | None, verdict: Any = None) -> None:
    import json

    from mxsync.render.text import render_plan, use_color

    if fmt == "json":
        from mxsync.flows.policy import plan_document_with
        from mxsync.render.json import plan_to_json

        click.echo(json.dumps(plan_document_with(plan_to_json(plan), verdict), indent=2))
    elif fmt == "markdown":
        from mxsync.render.markdown import plan_markdown

        click.echo(plan_markdown(plan))
    else:
        click.echo(render_plan(plan, color=use_color(color)), color=use_color(color))
    if verdict is not None and fmt != "json":
        from mxsync.render.policy import render_result

        click.echo("\n" + render_result(verdict, fmt))


# -- plan and show ------------------------------------------------------------------------
@cli.command()
@manifest_option
@run_options
@click.option("--prune", is_flag=True, help="Delete this owner's credentials no longer listed, in every org.")
@click.option("--skip-tests", is_flag=True, help="Store keys without ModuleX's test call first.")
@click.option("--target", "targets", multiple=True, metavar="ORG[/NAME]",
              help="Plan only this org, or this entry of it; repeatable.")
@click.option("--replace", "replace", multiple=True, metavar="ORG/xai/NAME",
              help="Mint a new key for this minted entry now (a rotation); repeatable.")
@click.option("--take-default", is_flag=True,
              help="Make the manifest's default the org's default even where another owner's "
                   "credential holds it (otherwise a conflict).")
@format_options("text", "json", "markdown")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Save the plan for `mxsync apply FILE` (no secrets; mode 0600).")
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 0 with no changes, 2 with changes, 1 on error or a policy deny.")
@policy_options
@click.pass_obj
@handle_errors
def plan(obj: Context, files: tuple[str, ...], api_url: str | None, parallelism: int,
         timeout_s: float, prune: bool, skip_tests: bool, targets: tuple[str, ...], as_json: bool,
         replace: tuple[str, ...], take_default: bool, fmt: str, out: Path | None,
         detailed_exitcode: bool, policies: tuple[str, ...], namespaces: tuple[str, ...]) -> None:
    """Show what apply would change: the live state against the manifest."""
    from mxsync.flows.plan import plan_manifest
    from mxsync.flows.policy import judge_plan, record
    from mxsync.manifest import load_or_raise
    from mxsync.plan import save_plan

    if policies:
        from mxsync.policy import require_policy

        require_policy()
    manifest = load_or_raise(list(files))
    the_plan = plan_manifest(manifest, _with_replace(
        _options(api_url, parallelism, timeout_s, prune, skip_tests, targets, take_default),
        replace))
    verdict = judge_plan(the_plan, policies, namespaces)
    if out is not None:
        save_plan(the_plan, out, extra=record(verdict))
    fmt = _format(fmt, as_json)
    _emit_plan(the_plan, fmt, obj.color, verdict)
    if fmt != "text":  # stdout is for a machine or a file: say what failed here too
        from mxsync.render.reasons import sentence

        for org_id, error in the_plan.errors:
            click.echo(f"Error: org {org_id}: {sentence(error)}", err=True)
    if out is not None and fmt != "json":
        click.echo(f"Saved the plan to {out}: apply it with `mxsync apply {out}`.", err=True)
    if the_plan.errors or (verdict is not None and verdict.denied):
        sys.exit(1)
    sys.exit(2 if detailed_exitcode and the_plan.has_changes else 0)


@cli.command()
@click.argument("planfile", type=click.Path(dir_okay=False, path_type=Path))
@format_options("text", "json", "markdown")
@click.pass_obj
@handle_errors
def show(obj: Context, planfile: Path, fmt: str, as_json: bool) -> None:
    """Show a plan saved with `mxsync plan --out FILE` (offline: reads only the file).

    `--format markdown` renders the very plan that `apply FILE` will carry out, for the
    pull-request comment that reviews it."""
    from mxsync.plan import load_plan

    _emit_plan(load_plan(planfile), _format(fmt, as_json), obj.color)


@cli.command()
@manifest_option
@click.argument("planfile", required=False, type=click.Path(dir_okay=False, path_type=Path))
@functools.partial(run_options, url_help=(
    "ModuleX API base URL (else MODULEX_BASE_URL, else the manifest's api.url, else "
    "https://api.modulex.dev). With a PLANFILE: the plan's own URL is the default, and any "
    "other URL is refused."))
@click.option("--auto-approve", is_flag=True, help="Apply without asking for 'yes'.")
@click.option("--prune", is_flag=True, help="Delete this owner's credentials no longer listed, in every org.")
@click.option("--skip-tests", is_flag=True, help="Store keys without ModuleX's test call first.")
@click.option("--target", "targets", multiple=True, metavar="ORG[/NAME]",
              help="Apply only this org, or this entry of it; repeatable.")
@click.option("--replace", "replace", multiple=True, metavar="ORG/xai/NAME",
              help="Mint a new key for this minted entry now (a rotation); repeatable.")
@click.option("--take-default", is_flag=True,
              help="Make the manifest's default the org's default even where another owner's "
                   "credential holds it (otherwise a conflict).")
@format_options("text", "json")
@policy_options
@click.pass_obj
@handle_errors
def apply(obj: Context, files: tuple[str, ...], planfile: Path | None, api_url: str | None,
          parallelism: int, timeout_s: float, auto_approve: bool, prune: bool, skip_tests: bool,
          targets: tuple[str, ...], replace: tuple[str, ...], take_default: bool, fmt: str,
          as_json: bool, policies: tuple[str, ...], namespaces: tuple[str, ...]) -> None:
    """Carry out a plan: a saved PLANFILE exactly, or a fresh plan of the manifest."""
    import json

    from mxsync.errors import MxsyncError
    from mxsync.flows.apply import apply_plan
    from mxsync.flows.plan import plan_manifest
    from mxsync.flows.policy import judge_plan, recorded, refuse_denied
    from mxsync.plan import load_plan
    from mxsync.render.json import plan_to_json
    from mxsync.render.text import render_plan, render_report, use_color

    as_json = _format(fmt, as_json) == "json"
    options = _with_replace(_options(api_url, parallelism, timeout_s, prune, skip_tests, targets,
                                     take_default), replace)
    color = use_color(obj.color)
    if planfile is not None:
        the_plan = load_plan(planfile)
        _refuse_changes_to_saved_plan(planfile, targets=targets, prune=prune,
                                      skip_tests=skip_tests, replace=replace,
                                      take_default=take_default)
        _refuse_other_api_url(planfile, the_plan.api_url, api_url)
        refuse_denied(recorded(planfile), f"the saved plan {planfile}")
        refuse_denied(judge_plan(the_plan, policies, namespaces), f"the saved plan {planfile}")
    else:
        from mxsync.manifest import load_or_raise

        if policies:
            from mxsync.policy import require_policy

            require_policy()
        the_plan = plan_manifest(load_or_raise(list(files)), options)
        if not as_json:
            click.echo(render_plan(the_plan, color=color), color=color)
        verdict = judge_plan(the_plan, policies, namespaces)
        refuse_denied(verdict, "this plan")
        if verdict is not None and not as_json:
            from mxsync.render.policy import policy_text

            click.echo("\n" + policy_text(verdict))
        if the_plan.has_changes and not auto_approve:
            if not sys.stdin.isatty():
                raise MxsyncError(
                    "refusing to apply without approval: there is no terminal to ask on and "
                    "--auto-approve was not given; nothing was changed",
                    hint="review with `mxsync plan --out FILE`, then run `mxsync apply FILE`, "
                         "or pass --auto-approve")
            try:
                answer = ask("\nDo you want to perform these actions? Only 'yes' will be "
                             "accepted to approve")
            except click.Abort:  # Ctrl-C or Ctrl-D: the user chose not to go on
                click.echo("\nApply cancelled; nothing was changed.", err=True)
                sys.exit(130)
            if answer.strip() != "yes":
                click.echo("Apply cancelled; nothing was changed.", err=True)
                sys.exit(1)
    progress = None
    if sys.stderr.isatty() and not as_json:
        from mxsync.render.progress import ApplyProgress

        progress = ApplyProgress(len(the_plan.changes))
    try:
        # A saved plan, or one a person took time to approve, is checked against the live
        # state again, org by org: what changed meanwhile is refused, not overwritten.
        approved_at_prompt = planfile is None and the_plan.has_changes and not auto_approve
        report = apply_plan(the_plan, options, saved=planfile is not None or approved_at_prompt,
                            progress=progress)
    finally:
        if progress is not None:
            progress.close()
    if as_json:
        click.echo(json.dumps({"plan": plan_to_json(the_plan), "apply": report.to_json()}, indent=2))
    else:
        click.echo(render_report(report, color=color), color=color)
    sys.exit(1 if report.failed else 0)


def ask(question: str) -> str:
    """One line typed at the terminal; click.Abort on Ctrl-C or Ctrl-D.

    Not `input()`: a Ctrl-C that lands just before it starts reading is noted by Python but
    does not interrupt the read, and the prompt then ignores it. Waiting in select() on the
    terminal and on a signal wakeup fd leaves no such gap."""
    import os
    import select
    import signal
    import threading

    if os.name == "nt" or threading.current_thread() is not threading.main_thread():
        return str(click.prompt(question, default="", show_default=False))
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    previous = signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
    try:
        click.echo(f"{question}: ", nl=False)
        while True:
            ready, _, _ = select.select([sys.stdin, wake_read], [], [])
            if wake_read in ready:  # a signal came; a SIGINT has raised by now
                os.read(wake_read, 512)
            if sys.stdin in ready:
                line = sys.stdin.readline()
                if not line:
                    raise EOFError
                return line.rstrip("\r\n")
    except (KeyboardInterrupt, EOFError):
        raise click.Abort() from None
    finally:
        signal.set_wakeup_fd(previous)
        os.close(wake_read)
        os.close(wake_write)


def _refuse_changes_to_saved_plan(planfile: Path, *, targets: tuple[str, ...], prune: bool,
                                  skip_tests: bool, replace: tuple[str, ...] = (),
                                  take_default: bool = False) -> None:
    """A saved plan is applied exactly as it was reviewed (Terraform refuses -target with a
    saved plan too): an option that would change what it does is an error, not ignored."""
    from mxsync.errors import MxsyncError

    given = []
    if click.get_current_context().get_parameter_source("files") != ParameterSource.DEFAULT:
        given.append("-f")
    given += [flag for flag, on in (("--target", targets), ("--prune", prune),
                                    ("--skip-tests", skip_tests), ("--replace", replace),
                                    ("--take-default", take_default)) if on]
    if given:
        raise MxsyncError(
            f"{' and '.join(given)} cannot be used with a saved plan: {planfile} is applied "
            "exactly as it was reviewed; nothing was changed",
            hint=f"make a new plan with {'them' if len(given) > 1 else 'it'} (`mxsync plan "
                 f"{' '.join(given)} ... --out {planfile}`), review it, then "
                 f"`mxsync apply {planfile}`")


def _same_url(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def _refuse_other_api_url(planfile: Path, planned: str | None, cli_url: str | None) -> None:
    """A saved plan is applied to the API it was made against, nowhere else.

    The URL apply calls is the usual one: --api-url, else MODULEX_BASE_URL, else (instead of
    the manifest's, which a saved plan does not read) the plan's own. When that is another
    API than the plan's, the plan's digests and credential ids describe a different world:
    refuse before any call."""
    from mxsync.errors import MxsyncError
    from mxsync.flows.common import api_url

    if not planned:
        return
    now = api_url(cli_url, planned)
    if _same_url(now, planned):
        return
    source = "--api-url" if cli_url else "MODULEX_BASE_URL"
    raise MxsyncError(
        f"{planfile} was planned against {planned}, but {source} says to call {now}; "
        "nothing was changed",
        hint=f"apply it where it was planned (pass --api-url {planned}, or unset "
             f"MODULEX_BASE_URL), or make a new plan against {now}")


# -- audit, import, catalog ------------------------------------------------------------------
@cli.command()
@click.option("-f", "--file", "files", multiple=True,
              help="Audit the manifest's orgs against it (file or folder; repeatable).")
@click.option("--org", "org_ids", multiple=True, metavar="ID", help="Audit this org's live state.")
@click.option("--all-orgs", is_flag=True, help="Audit every org the token belongs to.")
@functools.partial(run_options, url_help=(
    "ModuleX API base URL (else MODULEX_BASE_URL, else, with a manifest, its api.url, else "
    "https://api.modulex.dev)."))
@format_options("text", "json", "markdown", "junit", "table")
@click.option("--fail-on", type=click.Choice(["error", "warning", "never"]), default="error",
              show_default=True, help="Which findings make the exit code 1.")
@click.option("--test-keys", is_flag=True,
              help="Also test every stored key (POST /credentials/{id}/test). Each test makes "
                   "a minimal, billed xAI call with that key.")
@click.option("--usage/--no-usage", "read_usage", default=True, show_default=True,
              help="Read each credential's usage (GET /credentials/{id}/usage: free at xAI, one "
                   "ModuleX call per credential) to find keys whose calls mostly fail.")
@click.option("--failing-ratio", type=Finite(0, 1, min_open=True), default=0.5,
              show_default=True, metavar="RATIO",
              help="`failing`: at least this share of a credential's recent calls failed.")
@click.option("--failing-min-calls", type=click.IntRange(1), default=20, show_default=True,
              metavar="N", help="`failing` needs at least N recent calls to judge.")
@click.option("--expiring-within", type=click.IntRange(0, 36500), default=30, show_default=True,
              metavar="DAYS", help="Warn about credentials expiring within DAYS.")
@click.option("--unused-for", type=click.IntRange(1, 36500), default=90, show_default=True,
              metavar="DAYS", help="Warn about credentials not used for DAYS.")
@click.option("--as-of", metavar="TIMESTAMP", help="Judge expiry and use as of this ISO-8601 instant.")
@policy_options
@click.pass_obj
@handle_errors
def audit(obj: Context, files: tuple[str, ...], org_ids: tuple[str, ...], all_orgs: bool,
          api_url: str | None, parallelism: int, timeout_s: float, fmt: str, as_json: bool,
          fail_on: str, test_keys: bool, read_usage: bool, failing_ratio: float,
          failing_min_calls: int, expiring_within: int, unused_for: int, as_of: str | None,
          policies: tuple[str, ...], namespaces: tuple[str, ...]) -> None:
    """Report what is out of line: drift, defaults, duplicates, expiry, unused and unmanaged keys.

    Audits the manifest's orgs (-f, or ./mxsync.yaml when it exists, as plan and apply do),
    or live orgs on their own (--org / --all-orgs)."""
    import json
    import os
    from datetime import UTC, datetime

    from mxsync.audit import AuditOptions
    from mxsync.errors import MxsyncError
    from mxsync.flows.audit import audit as run_audit
    from mxsync.manifest.model import parse_instant
    from mxsync.render.safe import printable
    from mxsync.render.words import plural

    fmt = {"table": "text"}.get(_format(fmt, as_json), _format(fmt, as_json))
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
    if policies:
        from mxsync.policy import require_policy

        require_policy()
    manifest = None
    if files:
        from mxsync.manifest import load_or_raise

        manifest = load_or_raise(list(files))
    try:
        instant = parse_instant(as_of) if as_of else datetime.now(UTC)
    except ValueError:
        raise click.BadParameter("not an ISO-8601 timestamp", param_hint="--as-of") from None
    done = run_audit(manifest, org_ids, all_orgs,
                     AuditOptions(instant, expiring_within, unused_for, test_keys, read_usage,
                                  failing_ratio, failing_min_calls),
                     _options(api_url, parallelism, timeout_s))
    from mxsync.flows.policy import audit_findings

    result = audit_findings(done.result, policies, namespaces)
    if done.skipped:
        click.echo(f"Skipped {plural(len(done.skipped), 'org')} the token belongs to but cannot manage "
                   f"(not owner or admin): {printable(', '.join(done.skipped))}", err=True)
    if fmt == "json":
        from mxsync.render.json import audit_to_json

        click.echo(json.dumps(audit_to_json(result), indent=2))
    elif fmt == "junit":
        from mxsync.render.junit import audit_junit

        click.echo(audit_junit(result))
    elif fmt == "markdown":
        from mxsync.render.markdown import audit_markdown

        text = audit_markdown(result)
        click.echo(text)
        summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary_file:
            with open(summary_file, "a", encoding="utf-8") as handle:
                handle.write(text + "\n")
    else:
        from mxsync.render.text import render_audit, use_color

        click.echo(render_audit(result, color=use_color(obj.color)), color=use_color(obj.color))
    sys.exit(result.exit_code(fail_on))


@cli.command(name="import")
@click.option("--org", "org_ids", multiple=True, metavar="ID", help="Import this org; repeatable.")
@click.option("--all-orgs", is_flag=True, help="Import every org the token can manage.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the manifest here (default: stdout).")
@click.option("--owner", default="default", show_default=True,
              help="The owner the manifest (and adopted credentials) will carry.")
@click.option("--adopt", is_flag=True,
              help="Mark live credentials as managed where their key variable is set and the "
                   "masked key matches; a mismatch is reported, not adopted.")
@live_run_options
@click.pass_obj
@handle_errors
def import_(obj: Context, org_ids: tuple[str, ...], all_orgs: bool, output: Path | None,
            owner: str, adopt: bool, api_url: str | None, parallelism: int,
            timeout_s: float) -> None:
    """Write a manifest from the live state, to bring existing orgs under management."""
    from datetime import UTC, datetime

    from mxsync.errors import MxsyncError
    from mxsync.flows.imports import adopt_existing, read_live_orgs
    from mxsync.importer import import_orgs
    from mxsync.manifest.model import DEFAULT_TOKEN_ENV
    from mxsync.render.reasons import sentence
    from mxsync.render.safe import printable
    from mxsync.render.words import plural

    options = _options(api_url, parallelism, timeout_s)
    read = read_live_orgs(org_ids, all_orgs, options)
    if read.skipped:
        click.echo(f"Skipped {plural(len(read.skipped), 'org')} the token belongs to but cannot manage "
                   f"(not owner or admin): {printable(', '.join(read.skipped))}", err=True)
    for org_id, why in read.failed.items():
        click.echo(f"Error: org {printable(org_id)} was not imported: {sentence(why)}", err=True)
    imported = import_orgs(read.states, owner, read.names)
    text = imported.text(datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), DEFAULT_TOKEN_ENV)
    if output is not None:
        from mxsync.files import atomic_write

        atomic_write(output, text)
        click.echo(f"Wrote {output}: {plural(len(read.states), 'org')}, "
                   f"{plural(len(imported.variables), 'credential')}.", err=True)
    else:
        click.echo(text, nl=False)
    if adopt and read.states:
        from mxsync.render.text import render_report, use_color

        plan, report = adopt_existing(imported.manifest(DEFAULT_TOKEN_ENV), options)
        for org_id, error in plan.errors:
            click.echo(f"not adopted: org {printable(org_id)}: {sentence(error)}", err=True)
        click.echo(render_report(report, color=use_color(obj.color, sys.stderr)), err=True)
        if plan.errors or report.failed:
            raise MxsyncError("some credentials were not adopted (see above)")
    if read.failed:
        sys.exit(1)


@cli.command()
@click.option("--org", metavar="ID", help="The org whose catalog to read (default: the token's first).")
@click.option("--refresh", is_flag=True, help="Read it again even if the local copy is fresh.")
@format_options("text", "json")
@live_run_options
@handle_errors
def catalog(org: str | None, refresh: bool, fmt: str, as_json: bool, api_url: str | None,
            parallelism: int, timeout_s: float) -> None:
    """List the xAI models of an org's catalog, with limits and prices (cached 10 minutes)."""
    import json

    from mxsync.catalog import models_table
    from mxsync.flows.catalog import read_catalog
    from mxsync.render.safe import printable

    detail, chosen, source = read_catalog(org, _options(api_url, parallelism, timeout_s), refresh)
    if _format(fmt, as_json) == "json":
        click.echo(json.dumps(detail, indent=2))
        return
    click.echo(f"xAI models in the catalog of {printable(chosen)} ({source}); prices in USD per 1M tokens, "
               "billed by xAI to your key (BYOK)")
    click.echo(models_table(detail))


# -- emulator -----------------------------------------------------------------------
@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="0 picks a free port.")
@click.option("--fixture", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML file with the starting users, orgs and credentials "
                   "(default: the built-in demo world).")
@click.option("--print-fixture", is_flag=True,
              help="Print an example fixture (the built-in demo world) and exit.")
@click.option("--state", type=click.Path(dir_okay=False, path_type=Path),
              help="Persist the world here across restarts (holds keys in clear: test use only).")
@click.option("--latency-ms", type=Finite(0, 600_000), default=0.0, show_default=True,
              help="Added to every API request.")
@click.option("--fault", "faults", multiple=True, metavar="KIND:RATE",
              help="Inject faults: 500, 502, 503, 429, reset, timeout, lost-response, late.")
@click.option("--seed", type=int, help="Seed for reproducible faults.")
@click.option("--hold-s", type=Finite(0, 3600), default=30.0, show_default=True,
              help="How long a 'timeout' fault holds the answer back.")
@click.option("--xai-upstream", metavar="URL",
              help="Send key tests to this xAI-compatible URL instead of the built-in stand-in.")
@click.option("--xai-propagation-s", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="How long a key minted through the xAI Management API takes to become usable.")
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--rate-limit", type=click.IntRange(min=1), metavar="RPM",
              help="Requests per minute for every token without its own rate_limit_per_minute "
                   "(default: unlimited).")
@click.option("--rate-window-s", type=click.FloatRange(min=0, min_open=True), default=60.0,
              show_default=True, help="Test only: the sliding window the limits apply to.")
@click.option("--retry-after-format", type=click.Choice(["seconds", "http-date"]),
              default="seconds", show_default=True, help="How a 429 says when to come back.")
@click.option("--max-page-size", type=click.IntRange(min=1), metavar="N",
              help="Answer at most N credentials per page, whatever limit is asked "
                   "(a service may cap pages; total_count still counts all).")
@handle_errors
def emulator(host: str, port: int, fixture: Path | None, print_fixture: bool, state: Path | None,
             latency_ms: float,
             faults: tuple[str, ...], seed: int | None, hold_s: float, xai_upstream: str | None,
             xai_propagation_s: float, log_level: str, rate_limit: int | None,
             rate_window_s: float, retry_after_format: str, max_page_size: int | None) -> None:
    """Serve a local ModuleX API that follows the contract, for offline use and CI.

    Prints the base URL it serves as one line on stdout when ready.
    """
    from mxsync.extras import require_emulator

    if print_fixture:  # needs no server, so it works without the emulator extra
        from mxsync.emulator.server import default_fixture_text

        click.echo(default_fixture_text(), nl=False)
        return
    require_emulator("emulator")
    from mxsync.emulator.faults import check_rates, parse_fault
    from mxsync.emulator.server import EmulatorOptions, serve_forever

    try:
        rates = dict(parse_fault(f) for f in faults)
        check_rates(rates)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fault") from None
    serve_forever(EmulatorOptions(
        host=host, port=port, fixture=fixture, state=state, latency_ms=latency_ms, faults=rates,
        seed=seed, hold_s=hold_s, xai_upstream=xai_upstream, xai_propagation_s=xai_propagation_s,
        log_level=log_level, rate_limit=rate_limit, rate_window_s=rate_window_s,
        retry_after_format=retry_after_format, max_page_size=max_page_size,
    ))


@cli.command()
@click.option("--examples", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder with your own emulator-fixture.yaml and demo.yaml "
                   "(default: the copies that ship with mxsync).")
@click.option("--minted", is_flag=True,
              help="Show a key minted through xAI's Management API, then rotated.")
@click.pass_obj
@handle_errors
def demo(obj: Context, examples: Path | None, minted: bool) -> None:
    """Run the whole cycle on the bundled example against an in-process emulator."""
    if minted:
        from mxsync.minting.demo import run_minted_demo

        run_minted_demo(color=obj.color)
        return
    from mxsync.demo import run_demo

    run_demo(examples, color=obj.color)


@cli.group(name="policy")
def policy_group() -> None:
    """Judge saved plans with Rego policies, and run the policies' tests (mxsync[policy])."""


@policy_group.command(name="check")
@click.argument("planfile", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--policy", "policies", multiple=True, required=True, metavar="PATH",
              help="A .rego file or a folder of them; repeatable.")
@click.option("--namespace", "namespaces", multiple=True, metavar="NAME",
              help="Rego package whose deny/violation/warn rules count (default: main); repeatable.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown", "junit"]),
              default="text", show_default=True, help="Output format.")
@handle_errors
def policy_check(planfile: Path, policies: tuple[str, ...], namespaces: tuple[str, ...],
                 fmt: str) -> None:
    """Judge a saved plan offline (no manifest, no token); exit 1 on a deny."""
    from mxsync.flows.policy import judge_plan
    from mxsync.plan import load_plan
    from mxsync.policy import require_policy
    from mxsync.render.policy import render_result

    require_policy()
    verdict = judge_plan(load_plan(planfile), policies, namespaces)
    assert verdict is not None  # --policy is required
    click.echo(render_result(verdict, fmt))
    sys.exit(1 if verdict.denied else 0)


@policy_group.command(name="test")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@format_options("text", "json")
@handle_errors
def policy_test(paths: tuple[str, ...], fmt: str, as_json: bool) -> None:
    """Run the policies' tests: *_test.yaml/.json case files and test_* rules; exit 1 if any fails."""
    import json

    from mxsync.policy import require_policy
    from mxsync.policy.cases import run_tests
    from mxsync.render.policy import tests_text

    require_policy("mxsync policy test")
    outcomes = run_tests(paths)
    if _format(fmt, as_json) == "json":
        click.echo(json.dumps([o.to_json() for o in outcomes], indent=2))
    else:
        click.echo(tests_text(outcomes))
    sys.exit(0 if all(o.outcome == "pass" for o in outcomes) else 1)


def main() -> None:
    try:
        cli(prog_name="mxsync")
    except BrokenPipeError:  # outside a command: --help or --version into `head`
        quiet_broken_pipe()
