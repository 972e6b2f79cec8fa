"""The built-in xAI stand-in's OpenAI-compatible `POST /v1/chat/completions`.

Not part of ModuleX: it is where the emulator's key tests land when no
`--xai-upstream` is given. What it answers is decided in `mxsync.emulator.xai`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from mxsync.emulator.routes.context import EmulatorContext
from mxsync.emulator.xai import standin_completion


def router(ctx: EmulatorContext) -> APIRouter:
    api = APIRouter()
    world = ctx.world

    @api.post("/v1/chat/completions")
    async def xai_standin(request: Request) -> JSONResponse:
        auth = request.headers.get("authorization", "")
        key = auth[7:] if auth.lower().startswith("bearer ") else None
        try:
            body = await request.json()
        except ValueError:
            body = {}
        status, answer = standin_completion(key, world.invalid_xai_keys, body.get("model", ""))
        return JSONResponse(answer, status_code=status)

    return api
