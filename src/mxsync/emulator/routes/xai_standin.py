"""xAI's side of the emulator: the inference stand-in (`/v1/...`) and the Management API
(`/xai-management/...`).

Not part of ModuleX: key tests land on the stand-in when no `--xai-upstream` is given,
and mxsync mints keys through the Management API. What they answer is decided in
`mxsync.emulator.xai` and `mxsync.emulator.xai_management`.
"""

from __future__ import annotations

from fastapi import APIRouter

from mxsync.emulator.routes.context import EmulatorContext
from mxsync.emulator.xai import add_standin
from mxsync.emulator.xai_management import add_management_api


def router(ctx: EmulatorContext) -> APIRouter:
    api = APIRouter()
    add_standin(api, ctx.world.xai)
    add_management_api(api, ctx.world.xai, save=ctx.world.save)
    return api
