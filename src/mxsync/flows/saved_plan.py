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
    from mxsync.flows.common import RunOptions
    from mxsync.plan import Change, OrgPlan, Plan, Reason


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


def _comparable(change: Change) -> str:
    """A change as it was reviewed (what it does and the before/after it showed), without
    what depends on the folder apply runs in (a key file's path: the fingerprint says
    whether it is the same key)."""
    import json

    data = change.to_dict()
    data.pop("reason", None)
    key = data.get("key") or {}
    data["key"] = {"env": key.get("env"), "field": key.get("field")} if key else None
    return json.dumps(data, sort_keys=True, default=str)


def _listed(org: OrgPlan | None) -> str:
    return ", ".join(f"{c.label} {c.address}" for c in (org.changes if org else ())) or "none"


def rederive(plan: Plan, planfile: Path, options: RunOptions) -> Plan:
    """The saved plan, checked against a plan made again from the manifest at hand and the
    live state now; only what both say is carried out.

    A saved plan is a file: anyone who can write it could add a delete or replay it after a
    later apply undid it. So apply never takes its changes on trust. The manifest it was made
    from must be where the plan says and unchanged (its digest); planning again with the same
    options must give the same changes, org by org. An org whose changes differ is refused
    and left untouched; one with nothing left to do is "already applied"."""
    from dataclasses import replace

    from mxsync.flows.plan import plan_manifest
    from mxsync.manifest import load_or_raise
    from mxsync.plan import Reason, ReasonCode
    from mxsync.planfile import manifest_paths
    from mxsync.planner import Target

    if plan.errors:
        org_id, _ = plan.errors[0]
        raise MxsyncError(
            f"{planfile} was saved with errors (org {org_id} and {len(plan.errors) - 1} more) "
            "and cannot be applied; nothing was changed",
            hint="fix what the plan reported, then make a new plan with `mxsync plan --out FILE`")
    paths = manifest_paths(plan, planfile)
    if not paths:
        raise MxsyncError(f"{planfile} names no manifest, so it cannot be checked against one; "
                          "nothing was changed", hint="make a new plan with `mxsync plan --out FILE`")
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise MxsyncError(
            f"the manifest this plan was made from is not here: {', '.join(map(str, missing))} "
            f"(recorded relative to {planfile}); nothing was changed",
            hint="apply the plan from a checkout that holds its manifest")
    manifest = load_or_raise([str(p) for p in paths])
    if manifest.digest != plan.manifest_digest:
        raise MxsyncError(
            f"the manifest changed since this plan was made ({', '.join(map(str, paths))}); "
            "nothing was changed",
            hint="make a new plan of the manifest as it is now (`mxsync plan --out FILE`), "
                 "review it, and apply that")
    saved_options = replace(
        options, prune=plan.options.prune, skip_tests=plan.options.skip_tests,
        take_default=plan.options.take_default,
        targets=tuple(Target.parse(t) for t in plan.options.targets),
        replace=tuple(Target.parse(r) for r in plan.options.replace), read_progress=None)
    # A plan of no org (`--changed-since` found none changed) has nothing to check: no call.
    fresh = {o.org: o for o in plan_manifest(manifest, saved_options).orgs} if plan.orgs else {}
    orgs: list[OrgPlan] = []
    for saved in plan.orgs:
        now = fresh.get(saved.org)
        if now is not None and now.errors:
            orgs.append(replace(saved, changes=(), errors=now.errors))
        elif now is not None and not now.changes:
            notes = (Reason(ReasonCode.ALREADY_APPLIED),) if saved.changes else ()
            orgs.append(replace(now, notes=notes))
        elif now is not None and now.live_digest == saved.live_digest and [
                _comparable(c) for c in now.changes] == [_comparable(c) for c in saved.changes]:
            orgs.append(now)
        else:
            orgs.append(replace(saved, changes=(), errors=(_why_not(saved, now),)))
    return plan.with_orgs(tuple(orgs))


def _why_not(saved: OrgPlan, now: OrgPlan | None) -> Reason:
    """Why an org's saved changes are not carried out: a key that changed, a live state that
    moved, or changes that are not what the manifest calls for (an edited file)."""
    from mxsync.plan import Reason, ReasonCode

    fresh = {c.address: c for c in (now.changes if now else ())}
    for change in saved.changes:
        again = fresh.get(change.address)
        if (change.fingerprint and again is not None and again.fingerprint
                and again.fingerprint != change.fingerprint and change.key is not None):
            return Reason(ReasonCode.KEY_CHANGED, {"source": change.key.describe(),
                                                   "now": again.fingerprint,
                                                   "planned": change.fingerprint})
    if now is not None and now.live_digest != saved.live_digest:
        return Reason(ReasonCode.PLAN_STALE, {"org": saved.org})
    return Reason(ReasonCode.PLAN_DIFFERS, {"org": saved.org, "saved": _listed(saved),
                                            "now": _listed(now)})
