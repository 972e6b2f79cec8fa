"""The `mxsync` command line: each command turns its options into a flow's arguments,
calls the flow (`mxsync.flows`), hands the result to its view (`mxsync.views`) and exits
with a named status (`mxsync.exit_codes`). Nothing else lives here.

Heavy modules are imported inside each command so that `mxsync --version` and
`--help` start in a fraction of the time a full import would take.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

import click
from click.core import ParameterSource

from mxsync import __version__
from mxsync.exit_codes import ExitCode
from mxsync.flows import DEFAULT_MANIFEST

if TYPE_CHECKING:
    from mxsync.interrupt import ReadingStopped

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
        self.management_url: str | None = None  # --management-url


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


class TerraformHabits:
    """`-out`, `-auto-approve`, `-target`: Terraform spells long options with one dash and
    its users type them so. click would read `-out` as `-o ut` and answer "No such option:
    -o"; say instead how mxsync spells it."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        assert isinstance(self, click.Command)
        longs = {o for p in self.get_params(ctx) for o in (*p.opts, *p.secondary_opts)
                 if o.startswith("--")}
        for arg in args:
            if arg == "--":
                break
            if not arg.startswith("-"):
                if isinstance(self, click.Group):  # the rest belongs to a subcommand
                    break
                continue
            name = arg[1:].split("=", 1)[0]
            if not arg.startswith("--") and len(name) > 1 and f"--{name}" in longs:
                raise click.UsageError(f"No such option: -{name} (mxsync spells it --{name}, "
                                       "with two dashes)", ctx)
        return super().parse_args(ctx, args)  # type: ignore[misc]


class Command(TerraformHabits, click.Command):
    pass


@contextmanager
def usage_errors_exit_1() -> Iterator[None]:
    """click exits 2 on a usage error, the status `plan --detailed-exitcode` gives "there
    are changes": a typo in CI would read as a plan with changes. Every usage error is an
    error like any other (as in Terraform)."""
    try:
        yield
    except click.UsageError as exc:
        exc.exit_code = ExitCode.ERROR  # type: ignore[misc]  # a ClassVar in click
        raise


class Group(TerraformHabits, click.Group):
    """Every command also takes --debug and --no-color after its name: users type
    `mxsync plan --debug` as often as `mxsync --debug plan`, and both must work."""

    command_class = Command
    group_class = type  # subgroups are Groups too

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        cmd.params += [
            click.Option(["--debug"], is_flag=True, expose_value=False, callback=_on_debug,
                         help=DEBUG_HELP),
            click.Option(["--no-color"], is_flag=True, expose_value=False,
                         callback=_on_no_color, help=NO_COLOR_HELP),
        ]
        super().add_command(cmd, name)

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        with usage_errors_exit_1():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with usage_errors_exit_1():
            return super().invoke(ctx)


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
    sys.exit(ExitCode.BROKEN_PIPE)


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
        except KeyboardInterrupt as stop:
            from mxsync.interrupt import Terminated

            if isinstance(stop, Terminated):
                click.echo("Terminated (SIGTERM).", err=True)
                sys.exit(ExitCode.TERMINATED)
            click.echo("Interrupted.", err=True)
            sys.exit(ExitCode.INTERRUPTED)
        except Exception as exc:
            if debug:
                raise
            click.echo(
                printable(redact(f"Error: internal error ({type(exc).__name__}: {exc}). "
                                 "Re-run with --debug for the traceback and report it.")),
                err=True,
            )
            sys.exit(ExitCode.ERROR)

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


@cli.command()
def version() -> None:
    """Print mxsync's version (the same as --version)."""
    click.echo(f"mxsync, version {__version__}")


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


@contextmanager
def json_diagnostics(fmt: str) -> Iterator[None]:
    """With `--format json`, a manifest that cannot be loaded is also said as JSON on stdout
    (mxsync.views.diagnostics); the error then goes on to stderr and exit 1 as always."""
    from mxsync.manifest import ManifestInvalid

    try:
        yield
    except ManifestInvalid as exc:
        if fmt == "json":
            from mxsync.views.diagnostics import DiagnosticsJson

            DiagnosticsJson().show(exc.problems)
        raise


# -- validate and schema -----------------------------------------------------------------
@cli.command()
@manifest_option
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--check-env", is_flag=True,
              help="Also check that every key variable/file and token variable is set and well-formed "
                   "(values are never shown).")
@format_options("text", "json")
@handle_errors
def validate(files: tuple[str, ...], paths: tuple[str, ...], check_env: bool,
             fmt: str, as_json: bool) -> None:
    """Check manifests offline: every problem at once, as FILE:LINE:COL: PATH: message.

    PATHS (as pre-commit passes them) are checked one by one, each as a whole manifest."""
    from mxsync.flows.validate import validate as run_validate
    from mxsync.views import pick
    from mxsync.views.validate import VIEWS

    done = run_validate(files, paths, check_env)
    pick(VIEWS, _format(fmt, as_json), _context().color).show(done)
    sys.exit(ExitCode.ERROR if done.errors else ExitCode.OK)


@cli.command()
@click.argument("which", type=click.Choice(["manifest", "plan", "planfile"]), default="manifest")
def schema(which: str) -> None:
    """Print the JSON Schema of the manifest (or of `plan --json`, or of a saved plan file)."""
    from importlib import resources

    click.echo(resources.files("mxsync").joinpath(f"schemas/{which}.schema.json").read_text("utf-8"),
               nl=False)


URL_FROM_MANIFEST = ("ModuleX API base URL (else MODULEX_BASE_URL, else the manifest's api.url, "
                     "else https://api.modulex.dev).")
URL_WITHOUT_MANIFEST = "ModuleX API base URL (else MODULEX_BASE_URL, else https://api.modulex.dev)."


def _on_management_url(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        _context().management_url = value


def run_options(func: F, url_help: str = URL_FROM_MANIFEST, management: bool = True) -> F:
    """Options of every command that talks to the API (and, for those that read a manifest,
    to xAI's Management API)."""
    options = [
        click.option("--api-url", metavar="URL", help=url_help),
        *([click.option("--management-url", metavar="URL", expose_value=False,
                        callback=_on_management_url,
                        help="xAI Management API base URL for minted keys (else "
                             "XAI_MANAGEMENT_URL, else the manifest's xai_management.url "
                             "where allowed, else https://management-api.x.ai).")]
          if management else []),
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
    return run_options(func, URL_WITHOUT_MANIFEST, management=False)


def _options(api_url: str | None, parallelism: int, timeout_s: float, prune: bool = False,
             skip_tests: bool = False, targets: tuple[str, ...] = (),
             take_default: bool = False, replace: tuple[str, ...] = (),
             stopped: ReadingStopped | None = None) -> Any:
    """The flows' RunOptions; `--replace ORG/xai/NAME` is Terraform's -replace, for minted
    entries. Reading progress: a line rewritten in place at a terminal, else one every 10 s;
    the count of orgs read is also kept for `stopped` (see `said_when_stopped`)."""
    from mxsync.flows.common import RunOptions
    from mxsync.interrupt import ReadRecord
    from mxsync.planner import Target
    from mxsync.render.progress import ReadingLog, reading_progress

    progress = reading_progress() if sys.stderr.isatty() else ReadingLog()
    record = ReadRecord(progress)
    if stopped is not None:
        stopped.record = record
    return RunOptions(api_url=api_url, management_url=_context().management_url,
                      parallelism=parallelism, timeout_s=timeout_s, prune=prune,
                      skip_tests=skip_tests, targets=tuple(Target.parse(t) for t in targets),
                      take_default=take_default, read_progress=record,
                      call_progress=progress.calls,
                      replace=tuple(Target.parse(r) for r in replace))


@contextmanager
def stops_said(stopped: ReadingStopped) -> Iterator[ReadingStopped]:
    """Within the block, Ctrl-C or SIGTERM (CI cancelling the job) ends the command with
    what `stopped` says (how many orgs were read, what was not written), exit 130 or 143,
    no traceback."""
    from mxsync.interrupt import Terminated, sigterm_interrupts

    try:
        with sigterm_interrupts():
            yield stopped
    except KeyboardInterrupt as stop:
        if stopped.record is not None:
            stopped.record.close()  # no progress line after what is said here
        terminated = isinstance(stop, Terminated)
        click.echo(stopped.text(terminated=terminated), err=True)
        sys.exit(ExitCode.TERMINATED if terminated else ExitCode.INTERRUPTED)


def said_when_stopped(command: str) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """plan, audit and import change nothing on the server (until `import --adopt` adopts):
    stopped at any point, they say so (`stops_said`). The command is given the
    `ReadingStopped` (as `stopped`) to keep up to date as it goes."""

    def decorate(func: Callable[..., R]) -> Callable[..., R]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> R:
            from mxsync.interrupt import ReadingStopped

            with stops_said(ReadingStopped(command)) as stopped:
                return func(*args, stopped=stopped, **kwargs)

        return wrapper

    return decorate


def policy_options(func: F) -> F:
    """`--policy PATH` and `--namespace NAME` (mxsync.flows.policy)."""
    func = click.option("--namespace", "namespaces", multiple=True, metavar="NAME",
                        help="Rego package whose deny/violation/warn rules count (default: "
                             "main); repeatable.")(func)
    return click.option("--policy", "policies", multiple=True, metavar="PATH",
                        help="Judge with these Rego policies (a .rego file or a folder); "
                             "repeatable. A deny exits 1. Needs mxsync[policy].")(func)


def _require_policy(policies: tuple[str, ...]) -> None:
    """Before anything is read or sent: the extra is there when --policy is given."""
    if policies:
        from mxsync.policy import require_policy

        require_policy()


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
@click.option("--changed-since", metavar="REF",
              help="Plan only the orgs whose part of the manifest differs from git REF (e.g. "
                   "origin/main): a pull request reads what it changes, not every org.")
@policy_options
@click.pass_obj
@handle_errors
@said_when_stopped("plan")
def plan(obj: Context, files: tuple[str, ...], api_url: str | None, parallelism: int,
         timeout_s: float, prune: bool, skip_tests: bool, targets: tuple[str, ...], as_json: bool,
         replace: tuple[str, ...], take_default: bool, fmt: str, out: Path | None,
         detailed_exitcode: bool, changed_since: str | None, policies: tuple[str, ...],
         namespaces: tuple[str, ...], stopped: ReadingStopped) -> None:
    """Show what apply would change: the live state against the manifest."""
    from mxsync.flows.plan import plan_manifest
    from mxsync.flows.policy import judge_plan, record
    from mxsync.manifest import load_or_raise
    from mxsync.planfile import save_plan
    from mxsync.views import pick
    from mxsync.views.plan import VIEWS

    if out is not None:
        stopped.unwritten = "no plan was saved" + (f" ({out} is as it was)" if out.exists()
                                                   else "")
    _require_policy(policies)
    with json_diagnostics(_format(fmt, as_json)):
        manifest = load_or_raise(list(files))
    view = pick(VIEWS, _format(fmt, as_json), obj.color)
    nothing_changed = False
    found = None
    if changed_since is not None:
        from mxsync.flows.plan import changed_orgs

        if targets:
            raise click.UsageError("--changed-since chooses the orgs itself; drop --target")
        found = changed_orgs(manifest, changed_since)
        view.changed(found)
        targets = () if found.everything else found.changed  # every org: no targeting
        nothing_changed = not found.changed
    options = _options(api_url, parallelism, timeout_s, prune, skip_tests, targets,
                       take_default, replace, stopped)
    if nothing_changed:
        from mxsync.flows.plan import empty_plan

        the_plan = empty_plan(manifest, options)
    else:
        the_plan = plan_manifest(manifest, options)
    if found is not None:
        from mxsync.flows.plan import left_out

        the_plan = left_out(the_plan, found)
    verdict = judge_plan(the_plan, policies, namespaces)
    if out is not None:
        save_plan(the_plan, out, extra=record(verdict))
        stopped.written = f"the plan was saved to {out}"
    view.show(the_plan, verdict)
    view.errors(the_plan)
    if out is not None:
        view.saved(out, the_plan)
    if the_plan.errors or (verdict is not None and verdict.denied):
        sys.exit(ExitCode.ERROR)
    sys.exit(ExitCode.CHANGES if detailed_exitcode and the_plan.has_changes else ExitCode.OK)


@cli.command()
@click.argument("planfile", type=click.Path(dir_okay=False, path_type=Path))
@format_options("text", "json", "markdown")
@click.pass_obj
@handle_errors
def show(obj: Context, planfile: Path, fmt: str, as_json: bool) -> None:
    """Show a plan saved with `mxsync plan --out FILE` (offline: reads only the file).

    `--format markdown` renders the very plan that `apply FILE` will carry out, for the
    pull-request comment that reviews it."""
    from mxsync.planfile import load_plan
    from mxsync.views import pick
    from mxsync.views.plan import VIEWS

    pick(VIEWS, _format(fmt, as_json), obj.color).show(load_plan(planfile))


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
@click.pass_context
@handle_errors
def apply(ctx: click.Context, files: tuple[str, ...], planfile: Path | None, api_url: str | None,
          parallelism: int, timeout_s: float, auto_approve: bool, prune: bool, skip_tests: bool,
          targets: tuple[str, ...], replace: tuple[str, ...], take_default: bool, fmt: str,
          as_json: bool, policies: tuple[str, ...], namespaces: tuple[str, ...]) -> None:
    """Carry out a plan: a saved PLANFILE exactly, or a fresh plan of the manifest."""
    from mxsync.flows.apply import apply_plan
    from mxsync.flows.approval import Approval, approve
    from mxsync.flows.policy import judge_plan, recorded, refuse_denied
    from mxsync.interrupt import ReadingStopped
    from mxsync.views import pick
    from mxsync.views.apply import VIEWS

    view = pick(VIEWS, _format(fmt, as_json), _context().color)
    reading = ReadingStopped("apply")  # what to say if stopped before anything is changed
    options = _options(api_url, parallelism, timeout_s, prune, skip_tests, targets, take_default,
                       replace, reading)
    _require_policy(policies)
    if planfile is not None:
        from mxsync.flows.saved_plan import PlanOptionsGiven, load_saved_plan

        the_plan = load_saved_plan(planfile, PlanOptionsGiven(
            files=ctx.get_parameter_source("files") != ParameterSource.DEFAULT, targets=targets,
            prune=prune, skip_tests=skip_tests, replace=replace, take_default=take_default),
            api_url)
        from mxsync.flows.saved_plan import rederive

        # A denied plan is never applied: the verdict it was saved with, and (with --policy)
        # the verdict now, before anything is read or changed.
        refuse_denied(recorded(planfile), f"the saved plan {planfile}")
        refuse_denied(judge_plan(the_plan, policies, namespaces), f"the saved plan {planfile}")
        the_plan = rederive(the_plan, planfile, options)
        approval = Approval.NOT_ASKED
    else:
        from mxsync.flows.plan import plan_manifest
        from mxsync.manifest import load_or_raise

        with json_diagnostics(_format(fmt, as_json)):
            manifest = load_or_raise(list(files))
        with stops_said(reading):
            the_plan = plan_manifest(manifest, options)
        view.plan(the_plan)
        verdict = judge_plan(the_plan, policies, namespaces)
        view.verdict(verdict)
        refuse_denied(verdict, "this plan")
        approval = approve(the_plan.has_changes, auto_approve)
        if approval in (Approval.DECLINED, Approval.INTERRUPTED):
            view.cancelled(interrupted=approval is Approval.INTERRUPTED)
            sys.exit(ExitCode.INTERRUPTED if approval is Approval.INTERRUPTED else ExitCode.ERROR)
    from mxsync.interrupt import StepRecord, Terminated, interrupted_text, sigterm_interrupts
    from mxsync.render.steps import Hooks

    record = StepRecord()
    progress = Hooks(record, view.progress(the_plan))  # recorded before it is shown
    try:
        # A saved plan, or one a person took time to approve, is checked against the live
        # state again, org by org: what changed meanwhile is refused, not overwritten.
        with sigterm_interrupts():
            report = apply_plan(the_plan, options,
                                saved=planfile is not None or approval is Approval.APPROVED,
                                progress=progress)
    except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM: say what was done and what not
        progress.close()
        terminated = isinstance(stop, Terminated)
        click.echo(interrupted_text(the_plan, record.steps, terminated=terminated), err=True)
        sys.exit(ExitCode.TERMINATED if terminated else ExitCode.INTERRUPTED)
    finally:
        progress.close()
    view.report(the_plan, report)
    sys.exit(ExitCode.ERROR if report.failed else ExitCode.OK)


# -- audit, import, catalog ------------------------------------------------------------------
# What each check reads and what it costs: the rate limit (60 calls a minute per token by
# default) makes the calls the audit's time. Kept next to the option that changes them.
AUDIT_COSTS = """\b
What each check costs, in ModuleX calls per org (and one org list per token):
  check                              reads            calls per org
  permission, unreadable,            credential list  1 (+1 per 500
    no-default, unmanaged, expired,                     credentials)
    expiring, unused, drift,
    duplicate, default-mismatch,
    unlisted
  drift of models or assistant       settings,        2, where the manifest
                                       catalog          sets models/assistant
  assistant-dangling,                settings         1 where the manifest
    assistant-unmanaged                                 sets models/assistant,
                                                        or with --check-
                                                        assistant; else not
                                                        run (stderr says so)
  model-missing                      catalog          1 where require_models
  failing, usage-unread              usage            1 per credential
                                                        (0 with --no-usage)
  key-invalid, key-refused,          key test,        1 per credential, only
    key-untested                       billed at xAI    with --test-keys
  rotation-due, xai-key-missing,     xAI team keys    0 (xAI Management API)
    xai-orphan

\b
A credential an entry could adopt (no owner yet) costs one more read, of its
masked key. Each token is limited (60 calls a minute by default): a token per
org (token_env) paces each org by its own limit, side by side."""


@cli.command(epilog=AUDIT_COSTS)
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
@click.option("--check-assistant", is_flag=True,
              help="Read every org's settings (one ModuleX call per org) to check the "
                   "Assistant's pin (assistant-dangling, assistant-unmanaged), also where the "
                   "manifest sets neither models nor assistant.")
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
@said_when_stopped("audit")
def audit(obj: Context, files: tuple[str, ...], org_ids: tuple[str, ...], all_orgs: bool,
          api_url: str | None, parallelism: int, timeout_s: float, fmt: str, as_json: bool,
          fail_on: str, test_keys: bool, read_usage: bool, check_assistant: bool,
          failing_ratio: float, failing_min_calls: int, expiring_within: int, unused_for: int,
          as_of: str | None, policies: tuple[str, ...], namespaces: tuple[str, ...],
          stopped: ReadingStopped) -> None:
    """Report what is out of line: drift, defaults, duplicates, expiry, unused and unmanaged keys.

    Audits the manifest's orgs (-f, or ./mxsync.yaml when it exists, as plan and apply do),
    or live orgs on their own (--org / --all-orgs)."""
    from datetime import UTC, datetime

    from mxsync.audit import AuditOptions
    from mxsync.flows.audit import audit as run_audit
    from mxsync.flows.audit import audit_manifest
    from mxsync.flows.step_summary import append_step_summary
    from mxsync.manifest.model import parse_instant
    from mxsync.views import pick
    from mxsync.views.audit import VIEWS

    view = pick(VIEWS, _format(fmt, as_json), obj.color)
    stopped.unwritten = "no findings were reported"
    _require_policy(policies)
    with json_diagnostics(_format(fmt, as_json)):
        manifest = audit_manifest(files, org_ids, all_orgs)
    try:
        instant = parse_instant(as_of) if as_of else datetime.now(UTC)
    except ValueError:
        raise click.BadParameter("not an ISO-8601 timestamp", param_hint="--as-of") from None
    done = run_audit(manifest, org_ids, all_orgs,
                     AuditOptions(instant, expiring_within, unused_for, test_keys, read_usage,
                                  failing_ratio, failing_min_calls, check_assistant),
                     _options(api_url, parallelism, timeout_s, stopped=stopped))
    from mxsync.flows.policy import audit_findings

    result = audit_findings(done.result, policies, namespaces)  # denies become findings
    view.skipped(done.skipped)
    view.assistant_unchecked(done.assistant_unchecked)
    view.show(result, fail_on)
    append_step_summary(view.step_summary(result))
    sys.exit(result.exit_code(fail_on))


@cli.command(name="import")
@click.option("--org", "org_ids", multiple=True, metavar="ID", help="Import this org; repeatable.")
@click.option("--all-orgs", is_flag=True, help="Import every org the token can manage.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the manifest here (default: stdout).")
@click.option("--force", is_flag=True, help="Replace the --output file if it exists.")
@click.option("--owner", default="default", show_default=True,
              help="The owner the manifest (and adopted credentials) will carry.")
@click.option("--adopt", is_flag=True,
              help="Mark live credentials as managed where their key variable is set and the "
                   "masked key matches; a mismatch is reported, not adopted.")
@click.option("--key-document-env", metavar="NAME",
              help="Take every key from one document (JSON, YAML or dotenv) in variable NAME, a "
                   "field per key, so many keys need one CI secret.")
@live_run_options
@click.pass_obj
@handle_errors
@said_when_stopped("import")
def import_(obj: Context, org_ids: tuple[str, ...], all_orgs: bool, output: Path | None,
            force: bool, owner: str, adopt: bool, key_document_env: str | None,
            api_url: str | None, parallelism: int, timeout_s: float,
            stopped: ReadingStopped) -> None:
    """Write a manifest from the live state, to bring existing orgs under management."""
    import re

    from mxsync.errors import MxsyncError
    from mxsync.flows.imports import adopt_imported, import_manifest, write_manifest
    from mxsync.views import pick
    from mxsync.views.imports import VIEWS

    view = pick(VIEWS, "text", obj.color)
    if key_document_env is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*",
                                                         key_document_env):
        raise click.BadParameter("use letters, digits and _, not starting with a digit "
                                 "(e.g. XAI_KEYS)", param_hint="--key-document-env")
    if output is not None and output.exists() and output.is_file() and not force:
        raise MxsyncError(f"{output} exists; nothing was imported",
                          hint="pass --force to replace it, or give another path with -o")
    stopped.unwritten = ("no manifest was written" if output is None or not output.exists()
                         else f"{output} is as it was")
    options = _options(api_url, parallelism, timeout_s, stopped=stopped)
    run = import_manifest(org_ids, all_orgs, owner, options, key_document=key_document_env)
    view.read(run)
    if output is not None:
        write_manifest(output, run.text, replace=force)
        stopped.written = f"the manifest was written to {output}"
    view.manifest(run, output)
    if output is None:
        stopped.written = "the manifest was printed"
    if key_document_env is not None:
        view.key_document(run, key_document_env, output)
    if adopt and run.read.states:
        from mxsync.interrupt import StepRecord

        stopped.adopting = StepRecord()
        adoption = adopt_imported(run, options, progress=stopped.adopting)
        view.adopted(adoption)
        if adoption.plan.errors or adoption.report.failed:
            raise MxsyncError("some credentials were not adopted (see above)")
    sys.exit(ExitCode.ERROR if run.read.failed else ExitCode.OK)


@cli.command()
@click.option("--org", metavar="ID", help="The org whose catalog to read (default: the token's first).")
@click.option("--refresh", is_flag=True, help="Read it again even if the local copy is fresh.")
@format_options("text", "json")
@live_run_options
@handle_errors
def catalog(org: str | None, refresh: bool, fmt: str, as_json: bool,
            api_url: str | None, parallelism: int, timeout_s: float) -> None:
    """List the xAI models of an org's catalog, with limits and prices (cached 10 minutes)."""
    from mxsync.flows.catalog import read_catalog
    from mxsync.views import pick
    from mxsync.views.catalog import VIEWS

    detail, chosen, source = read_catalog(org, _options(api_url, parallelism, timeout_s), refresh)
    pick(VIEWS, _format(fmt, as_json), _context().color).show(detail, chosen, source)


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
@click.option("--rate-limit", type=click.IntRange(min=0), default=60, show_default=True,
              metavar="RPM",
              help="Requests per minute for every token without its own rate_limit_per_minute, "
                   "as the service limits them; 0 turns the limit off (quick tests).")
@click.option("--missing-org-status", type=click.Choice(["400", "401"]), default="400",
              show_default=True,
              help="What a call without X-Organization-ID gets (the API reference says 400, "
                   "the product page 401).")
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
             rate_window_s: float, retry_after_format: str, max_page_size: int | None,
             missing_org_status: str) -> None:
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
        log_level=log_level, rate_limit=rate_limit or None, rate_window_s=rate_window_s,
        retry_after_format=retry_after_format, max_page_size=max_page_size,
        missing_org_status=int(missing_org_status),
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


@cli.group(name="policy", cls=Group)
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
    from mxsync.flows.policy import judge
    from mxsync.planfile import load_plan
    from mxsync.policy import require_policy
    from mxsync.render.json import plan_to_json
    from mxsync.render.policy import render_result

    require_policy()
    verdict = judge(plan_to_json(load_plan(planfile)), policies, namespaces)
    click.echo(render_result(verdict, fmt))
    sys.exit(ExitCode.ERROR if verdict.denied else ExitCode.OK)


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
    sys.exit(ExitCode.OK if all(o.outcome == "pass" for o in outcomes) else ExitCode.ERROR)


def main() -> None:
    from mxsync.output import install

    # Every byte printed from here on is redacted (mxsync.output); not by the emulator, which
    # serves fake data and prints its fake demo token on purpose.
    if next((a for a in sys.argv[1:] if not a.startswith("-")), None) != "emulator":
        install()
    try:
        cli(prog_name="mxsync")
    except BrokenPipeError:  # outside a command: --help or --version into `head`
        quiet_broken_pipe()
