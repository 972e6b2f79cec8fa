"""`mxsync apply`: carry out a plan, a saved one checked for staleness org by org first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mxsync.flows.common import RunOptions, client_for
from mxsync.inputs import for_plan
from mxsync.interrupt import run_until_sigterm

if TYPE_CHECKING:
    from mxsync.executor import ApplyReport, Progress
    from mxsync.plan import Plan


def apply_plan(plan: Plan, options: RunOptions, *, saved: bool,
               progress: Progress | None = None) -> ApplyReport:
    from mxsync.executor import execute

    inputs = for_plan(plan)

    async def run() -> ApplyReport:
        async with client_for(plan.api_url, options, "the saved plan's api_url") as client:
            return await execute(client, plan, inputs, check_stale=saved, progress=progress,
                                 settle_s=options.settle_window_s,
                                 xai_timeout_s=options.timeout_s)

    return run_until_sigterm(run())
