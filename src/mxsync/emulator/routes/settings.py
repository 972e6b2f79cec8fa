"""`/organizations/settings`: which models members see, and the Assistant's model.

Owner or admin only, like every other org-scoped route. An integration without a
visibility list shows the provider's full catalog: GET then leaves it out of
`llm_model_visibility` (the emulator's choice where the service is not public), and
a PUT with `models: []` goes back to that state.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from mxsync.emulator.routes.context import EmulatorContext
from mxsync.emulator.store import User


class VisibleModel(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    display_name: str | None = None


class VisibilityBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    integration_name: str
    models: list[VisibleModel]


class ComposerBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    integration_name: str
    provider_id: str
    model_id: str
    credential_id: str | None = None


def router(ctx: EmulatorContext) -> APIRouter:
    api = APIRouter()
    world = ctx.world
    scoped = ctx.scoped()

    @api.get("/organizations/settings")
    async def get_settings(scope: tuple[User, str] = Depends(scoped)) -> dict[str, Any]:
        _, org_id = scope
        return world.orgs[org_id].settings()

    @api.put("/organizations/settings/llm-model-visibility")
    async def put_visibility(
        body: VisibilityBody, scope: tuple[User, str] = Depends(scoped)
    ) -> dict[str, Any]:
        _, org_id = scope
        models = [m.model_dump(include={"id", "display_name"}) for m in body.models]
        return world.set_model_visibility(org_id, body.integration_name, models)

    @api.put("/organizations/settings/composer-llm")
    async def put_composer(
        body: ComposerBody, scope: tuple[User, str] = Depends(scoped)
    ) -> dict[str, Any]:
        _, org_id = scope
        return world.set_composer_llm(org_id, body.model_dump(
            include={"integration_name", "provider_id", "model_id", "credential_id"}))

    return api
