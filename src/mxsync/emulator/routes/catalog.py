"""The integration catalog: `/integrations/llm-providers[/{name}]` and `/integrations/tools/{name}`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from mxsync.emulator.routes.context import EmulatorContext
from mxsync.emulator.store import INTEGRATIONS, XAI_AUTH_SCHEMA, XAI_MODELS, ApiError, User

LLM_NAMES = [n for n, i in INTEGRATIONS.items() if i["integration_type"] == "llm"]


def provider_summary(name: str) -> dict[str, Any]:
    info = INTEGRATIONS[name]
    return {
        "name": name,
        "display_name": info["display_name"],
        "description": f"{info['display_name']} models, bring your own key",
        "categories": ["llm"],
        "integration_type": "llm",
        "version": "1.0.0",
        "status": "active",
        "recommended": name == "xai",
    }


def router(ctx: EmulatorContext) -> APIRouter:
    api = APIRouter()
    scoped = ctx.scoped()

    @api.get("/integrations/llm-providers")
    async def llm_providers(
        scope: tuple[User, str] = Depends(scoped),
    ) -> list[dict[str, Any]]:
        return [provider_summary(n) for n in LLM_NAMES]

    @api.get("/integrations/llm-providers/{name}")
    async def llm_provider_detail(
        name: str,
        scope: tuple[User, str] = Depends(scoped),
    ) -> dict[str, Any]:
        if name not in LLM_NAMES:
            raise ApiError(404, "LLM provider not found")
        models = XAI_MODELS if name == "xai" else []
        return {
            **provider_summary(name),
            "auth_schemas": [XAI_AUTH_SCHEMA] if name == "xai" else [],
            "models": models,
            "features": ["chat", "vision", "tool_calling"] if name == "xai" else [],
            "metadata": {"byok": True, "cache_ttl_seconds": 600},
        }

    @api.get("/integrations/tools/{name}")
    async def tool_detail(
        name: str,
        scope: tuple[User, str] = Depends(scoped),
    ) -> dict[str, Any]:
        info = INTEGRATIONS.get(name)
        if info is not None and info["integration_type"] != "tool":
            raise ApiError(400, f"{name} is not a tool integration")
        if info is None:
            raise ApiError(404, "Tool not found")
        return {"name": name, "display_name": info["display_name"], "integration_type": "tool"}

    return api
