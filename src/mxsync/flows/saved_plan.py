"""`mxsync apply FILE`: a saved plan is applied exactly as reviewed, where it was planned.

Terraform refuses -target with a saved plan too: an option that would change what the
plan does is an error, never silently ignored. And the plan's digests and credential ids
describe one API's world: applying it to another is refused before any call.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mxsync.errors import MxsyncError

if TYPE_CHECKING:
    from mxsync.plan import Plan


@dataclass(frozen=True)
class PlanOptionsGiven:
    """The options of `apply` that shape a fresh plan, as the user gave them."""

    files: bool = False  # -f given explicitly (its default is not "given")
    targets: tuple[str, ...] = ()
    prune: bool = False
    skip_tests: bool = False
    replace: tuple[str, ...] = ()
    take_default: bool = False

    def flags(self) -> list[str]:
        return [flag for flag, on in (("-f", self.files), ("--target", self.targets),
                                      ("--prune", self.prune), ("--skip-tests", self.skip_tests),
                                      ("--replace", self.replace),
                                      ("--take-default", self.take_default)) if on]


def load_saved_plan(planfile: Path, given: PlanOptionsGiven, cli_url: str | None) -> Plan:
    """The saved plan, once it is sure to be applied as it was reviewed and where."""
    from mxsync.planfile import load_plan

    plan = load_plan(planfile)
    refuse_changes_to_saved_plan(planfile, given)
    refuse_other_api_url(planfile, plan.api_url, cli_url)
    return plan


def refuse_changes_to_saved_plan(planfile: Path, given: PlanOptionsGiven) -> None:
    flags = given.flags()
    if flags:
        raise MxsyncError(
            f"{' and '.join(flags)} cannot be used with a saved plan: {planfile} is applied "
            "exactly as it was reviewed; nothing was changed",
            hint=f"make a new plan with {'them' if len(flags) > 1 else 'it'} (`mxsync plan "
                 f"{' '.join(flags)} ... --out {planfile}`), review it, then "
                 f"`mxsync apply {planfile}`")


def refuse_other_api_url(planfile: Path, planned: str | None, cli_url: str | None) -> None:
    """A saved plan is applied to the API it was made against, nowhere else.

    The URL apply calls is the operator's: --api-url, else MODULEX_BASE_URL, else the plan's
    own where the operator allows it (mxsync.destinations checks that before any call). When
    the operator's is another API than the plan's, the plan's digests and credential ids
    describe a different world: refuse before any call."""
    from mxsync.destinations import Operator, same_place

    now = Operator.from_environment(cli_url).modulex_url
    if not planned or now is None or same_place(now) == same_place(planned):
        return
    source = "--api-url" if cli_url else "MODULEX_BASE_URL"
    raise MxsyncError(
        f"{planfile} was planned against {planned}, but {source} says to call {now}; "
        "nothing was changed",
        hint=f"apply it where it was planned (pass --api-url {planned}, or unset "
             f"MODULEX_BASE_URL), or make a new plan against {now}")
