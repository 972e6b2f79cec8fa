"""`/system/health` and the caller's own identity: `/auth/me`, `/auth/me/organizations`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from mxsync import __version__
from mxsync.emulator.routes.context import EmulatorContext
from mxsync.emulator.store import User


def router(ctx: EmulatorContext) -> APIRouter:
    api = APIRouter()
    world = ctx.world
    caller = ctx.caller()

    @api.get("/system/health")
    async def health() -> dict[str, str]:
        """The SDK's `SystemHealthResponse`; the SDK's own live tests expect `healthy`."""
        return {"status": "healthy", "service": "modulex-api (mxsync emulator)",
                "version": __version__}

    @api.get("/auth/me")
    async def me(user: User = Depends(caller)) -> dict[str, Any]:
        org_ids = list(user.memberships)
        return {
            "id": user.id,
            "email": user.email,
            "username": user.username or user.email.split("@")[0],
            "role": "user",
            "is_active": True,
            "organization_ids": org_ids,
            "primary_organization_id": org_ids[0] if org_ids else None,
        }

    @api.get("/auth/me/organizations")
    async def my_orgs(user: User = Depends(caller), role: str | None = Query(None)) -> dict[str, Any]:
        orgs = []
        for index, (org_id, org_role) in enumerate(user.memberships.items()):
            if role is not None and org_role != role:
                continue
            org = world.orgs.get(org_id)
            orgs.append(
                {
                    "id": org_id,
                    "name": org.name if org else org_id,
                    "slug": org_id,
                    "domain": None,
                    "role": org_role,
                    "joined_at": org.created_at if org else None,
                    "is_default": index == 0,
                }
            )
        return {"success": True, "user_id": user.id, "organizations": orgs, "total": len(orgs)}

    return api
