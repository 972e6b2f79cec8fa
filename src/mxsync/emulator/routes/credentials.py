"""`/credentials`: list, create, read, update, delete, set-default, and key tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from mxsync.emulator.routes.context import EmulatorContext
from mxsync.emulator.store import (
    INTEGRATIONS,
    ApiError,
    Credential,
    Origin,
    User,
    check_xai_auth_data,
    detect_auth_type,
    record,
)
from mxsync.emulator.xai import run_key_test


class CreateBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    integration_name: str
    auth_data: dict[str, Any] | None = None
    auth_type: str | None = None
    display_name: str | None = None
    metadata: dict[str, Any] | None = None
    make_default: bool = False
    expires_at: str | None = None


class UpdateBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    display_name: str | None = None
    metadata: dict[str, Any] | None = None


class TestTemporaryBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    integration_name: str
    auth_type: str
    auth_data: dict[str, Any]


def list_answer(
    matches: list[Credential], page: list[Credential], filters: dict[str, Any],
    integration_name: str | None,
) -> dict[str, Any]:
    """Flat with `integration_name`, grouped by integration without it, as the service does."""
    if integration_name is not None:
        return {
            "credentials": [c.public() for c in page],
            "total_count": len(matches),
            "integration_name": integration_name,
            "filters": filters,
        }
    groups: dict[str, dict[str, Any]] = {}
    for cred in page:
        group = groups.setdefault(
            cred.integration_name,
            {
                "integration_name": cred.integration_name,
                "integration_type": cred.integration_type,
                "total_count": sum(
                    1 for m in matches if m.integration_name == cred.integration_name
                ),
                "auth_types": [],
                "credentials": [],
            },
        )
        if cred.auth_type not in group["auth_types"]:
            group["auth_types"].append(cred.auth_type)
        group["credentials"].append(cred.public())
    return {
        "integrations": groups,
        "total_credentials": len(matches),
        "total_integrations": len({m.integration_name for m in matches}),
        "filters": filters,
    }


def origin_of(request: Request, user: User) -> Origin:
    client = request.client
    return Origin(user_id=user.id, ip_address=client.host if client else None,
                  user_agent=request.headers.get("user-agent"))


def usage_answer(cred: Credential, start_date: str | None, end_date: str | None) -> dict[str, Any]:
    """The SDK's `CredentialUsageStats`. `success_rate` is a percentage (**assumed**: no public
    source says whether it is 0-100 or 0-1; a client should use the counts)."""
    counts = cred.usage or {"total_calls": 0, "successful_calls": 0, "failed_calls": 0}
    total = counts["total_calls"]
    now = datetime.now(UTC)
    return {
        "credential_id": cred.credential_id,
        "total_calls": total,
        "successful_calls": counts["successful_calls"],
        "failed_calls": counts["failed_calls"],
        "success_rate": round(100.0 * counts["successful_calls"] / total, 2) if total else 0.0,
        "action_breakdown": dict(counts.get("action_breakdown") or {}),
        "start_date": start_date or (now - timedelta(days=30)).isoformat().replace("+00:00", "Z"),
        "end_date": end_date or now.isoformat().replace("+00:00", "Z"),
    }


def router(ctx: EmulatorContext) -> APIRouter:
    api = APIRouter()
    world = ctx.world
    scoped = ctx.scoped()

    async def test_key(api_key: str, base_url: str | None) -> dict[str, Any]:
        ctx.stats.xai_calls += 1
        return await run_key_test(api_key, base_url, ctx.xai_upstream, world.xai)

    @api.get("/credentials")
    async def list_credentials(
        scope: tuple[User, str] = Depends(scoped),
        integration_name: str | None = Query(None),
        auth_type: str | None = Query(None),
        limit: int = Query(100, ge=1, le=500),
        offset: int = Query(0, ge=0),
    ) -> dict[str, Any]:
        _, org_id = scope
        matches = world.list_credentials(org_id, integration_name, auth_type)
        size = min(limit, ctx.max_page_size) if ctx.max_page_size else limit
        page = matches[offset : offset + size]
        filters = {
            "integration_name": integration_name,
            "auth_type": auth_type,
            "limit": limit,
            "offset": offset,
        }
        return list_answer(matches, page, filters, integration_name)

    @api.post("/credentials", status_code=201)
    async def create_credential(
        request: Request,
        body: CreateBody,
        scope: tuple[User, str] = Depends(scoped),
    ) -> dict[str, Any]:
        user, org_id = scope
        origin = origin_of(request, user)
        return world.create_credential(org_id, user, body.model_dump(), origin).public()

    @api.post("/credentials/test-temporary")
    async def test_temporary(
        body: TestTemporaryBody,
        scope: tuple[User, str] = Depends(scoped),
    ) -> dict[str, Any]:
        if body.integration_name not in INTEGRATIONS:
            raise ApiError(400, f"Unknown integration: {body.integration_name}")
        auth_type = detect_auth_type(body.auth_data, body.auth_type)
        if body.integration_name != "xai":
            raise ApiError(400, f"Test calls are not supported for {body.integration_name}")
        check_xai_auth_data(body.auth_data, auth_type)
        return await test_key(body.auth_data["api_key"], body.auth_data.get("base_url"))

    @api.get("/credentials/{credential_id}")
    async def get_credential(
        credential_id: str,
        scope: tuple[User, str] = Depends(scoped),
        include_masked: bool = Query(False),
    ) -> dict[str, Any]:
        _, org_id = scope
        return world.get_credential(org_id, credential_id).detail(include_masked)

    @api.put("/credentials/{credential_id}")
    async def update_credential(
        request: Request,
        credential_id: str,
        scope: tuple[User, str] = Depends(scoped),
        body: UpdateBody | None = Body(None),
    ) -> dict[str, Any]:
        user, org_id = scope
        data = body.model_dump() if body else {}
        origin = origin_of(request, user)
        return world.update_credential(org_id, credential_id, data, origin).public()

    @api.delete("/credentials/{credential_id}", status_code=204)
    async def delete_credential(
        credential_id: str,
        scope: tuple[User, str] = Depends(scoped),
    ) -> Response:
        _, org_id = scope
        world.delete_credential(org_id, credential_id)
        return Response(status_code=204)

    @api.post("/credentials/{credential_id}/set-default")
    async def set_default(
        request: Request,
        credential_id: str,
        scope: tuple[User, str] = Depends(scoped),
    ) -> dict[str, Any]:
        user, org_id = scope
        return world.set_default(org_id, credential_id, origin_of(request, user)).public()

    @api.post("/credentials/{credential_id}/test")
    async def test_stored(
        request: Request,
        credential_id: str,
        scope: tuple[User, str] = Depends(scoped),
    ) -> dict[str, Any]:
        user, org_id = scope
        cred = world.get_credential(org_id, credential_id)
        if cred.integration_name != "xai":
            raise ApiError(400, f"Test calls are not supported for {cred.integration_name}")
        result = await test_key(cred.api_key, cred.base_url)
        record(cred, "tested", origin_of(request, user),
               {"is_valid": result["is_valid"], "status_code": result["status_code"]})
        return {
            "credential_id": cred.credential_id,
            "is_valid": result["is_valid"],
            "message": result["message"],
            "tested_at": result["tested_at"],
        }

    @api.get("/credentials/{credential_id}/usage")
    async def usage(
        credential_id: str,
        scope: tuple[User, str] = Depends(scoped),
        start_date: str | None = Query(None),
        end_date: str | None = Query(None),
    ) -> dict[str, Any]:
        _, org_id = scope
        return usage_answer(world.get_credential(org_id, credential_id), start_date, end_date)

    @api.get("/credentials/{credential_id}/audit")
    async def audit(
        credential_id: str,
        scope: tuple[User, str] = Depends(scoped),
        limit: int = Query(100, ge=1, le=500),
        offset: int = Query(0, ge=0),
    ) -> list[dict[str, Any]]:
        """Newest first, a bare list (what the SDK's `credentials.audit` parses)."""
        _, org_id = scope
        events = world.get_credential(org_id, credential_id).audit[::-1]
        return events[offset : offset + limit]

    return api
