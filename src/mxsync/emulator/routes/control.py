"""`/_emulator/*`: outside the contract, for tests and benchmarks; never delayed, faulted
or rate limited."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body
from pydantic import BaseModel

from mxsync.emulator.faults import FaultPlan
from mxsync.emulator.routes.context import EmulatorContext
from mxsync.emulator.store import ApiError, FixtureError


class FaultsBody(BaseModel):
    faults: dict[str, float] = {}
    seed: int | None = None
    hold_s: float = 30.0
    org: str | None = None
    routes: list[str] | None = None  # e.g. ["POST /credentials"]: fault only those calls


def router(ctx: EmulatorContext) -> APIRouter:
    api = APIRouter()
    world = ctx.world

    @api.get("/_emulator/stats")
    async def stats() -> dict[str, Any]:
        return ctx.stats.snapshot()

    @api.post("/_emulator/stats/reset")
    async def stats_reset() -> dict[str, Any]:
        ctx.stats.reset()
        return {"ok": True}

    @api.post("/_emulator/world")
    async def merge_world(doc: dict[str, Any] = Body(...)) -> dict[str, Any]:
        """Add users, orgs and credentials (the fixture format) while running."""
        try:
            world.merge_fixture(doc)
        except FixtureError as exc:
            raise ApiError(422, str(exc)) from None
        return {"ok": True, "orgs": len(world.orgs), "credentials": len(world.credentials)}

    @api.post("/_emulator/faults")
    async def set_faults(body: FaultsBody) -> dict[str, Any]:
        layer = ctx.layer
        if layer is None:
            raise RuntimeError("the emulator app runs without its fault layer")
        try:
            plan = FaultPlan(rates=body.faults, seed=body.seed, hold_s=body.hold_s,
                             routes=None if body.routes is None else frozenset(body.routes))
        except ValueError as exc:
            raise ApiError(422, str(exc)) from None
        if body.org is None:
            layer.global_plan = plan if body.faults else None
            if not body.faults:  # `{"faults": {}}` clears everything, per-org faults too
                layer.org_plans.clear()
        elif body.faults:
            layer.org_plans[body.org] = plan
        else:
            layer.org_plans.pop(body.org, None)
        return {"ok": True}

    return api
