"""The emulator's HTTP surface: the ModuleX routes of the contract, and `/_emulator/*`.

Every handler is `async def` so that it runs on the event loop, never in a thread
pool: the store's rules then hold under any concurrency without locks.
"""

from __future__ import annotations

from typing import Any

from fastapi import Body, Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from mxsync.emulator.faults import FaultLayer, FaultPlan
from mxsync.emulator.store import (
    INTEGRATIONS,
    XAI_AUTH_SCHEMA,
    XAI_MODELS,
    ApiError,
    User,
    World,
    check_xai_auth_data,
    detect_auth_type,
)
from mxsync.emulator.xai import add_standin, run_key_test
from mxsync.emulator.xai_management import add_management_api, management_scope


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


class FaultsBody(BaseModel):
    faults: dict[str, float] = {}
    seed: int | None = None
    hold_s: float = 30.0
    org: str | None = None


def build_app(world: World, xai_upstream: str | None = None) -> FastAPI:
    app = FastAPI(title="ModuleX API (mxsync emulator)", docs_url=None, redoc_url=None)
    layer_ref: dict[str, FaultLayer] = {}

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)

    def caller(authorization: str | None = Header(None)) -> User:
        return world.authenticate(authorization)

    def scoped(authorization: str | None = Header(None),
               x_organization_id: str | None = Header(None)) -> tuple[User, str]:
        """Every credential and catalog route: a valid token, an org, owner or admin there."""
        user = world.authenticate(authorization)
        return user, world.authorize(user, x_organization_id)

    # -- system and auth ----------------------------------------------------
    @app.get("/system/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/auth/me")
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

    @app.get("/auth/me/organizations")
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

    # -- credentials ----------------------------------------------------------
    @app.get("/credentials")
    async def list_credentials(
        scope: tuple[User, str] = Depends(scoped),
        integration_name: str | None = Query(None),
        auth_type: str | None = Query(None),
        limit: int = Query(100, ge=1, le=500),
        offset: int = Query(0, ge=0),
    ) -> dict[str, Any]:
        _, org_id = scope
        matches = world.list_credentials(org_id, integration_name, auth_type)
        page = matches[offset : offset + limit]
        filters = {
            "integration_name": integration_name,
            "auth_type": auth_type,
            "limit": limit,
            "offset": offset,
        }
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

    @app.post("/credentials", status_code=201)
    async def create_credential(
        body: CreateBody,
        scope: tuple[User, str] = Depends(scoped),
    ) -> dict[str, Any]:
        user, org_id = scope
        return world.create_credential(org_id, user, body.model_dump()).public()

    @app.post("/credentials/test-temporary")
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
        return await _test_key(body.auth_data["api_key"], body.auth_data.get("base_url"))

    @app.get("/credentials/{credential_id}")
    async def get_credential(
        credential_id: str,
        scope: tuple[User, str] = Depends(scoped),
        include_masked: bool = Query(False),
    ) -> dict[str, Any]:
        _, org_id = scope
        return world.get_credential(org_id, credential_id).detail(include_masked)

    @app.put("/credentials/{credential_id}")
    async def update_credential(
        credential_id: str,
        scope: tuple[User, str] = Depends(scoped),
        body: UpdateBody | None = Body(None),
    ) -> dict[str, Any]:
        _, org_id = scope
        data = body.model_dump() if body else {}
        return world.update_credential(org_id, credential_id, data).public()

    @app.delete("/credentials/{credential_id}", status_code=204)
    async def delete_credential(
        credential_id: str,
        scope: tuple[User, str] = Depends(scoped),
    ) -> Response:
        _, org_id = scope
        world.delete_credential(org_id, credential_id)
        return Response(status_code=204)

    @app.post("/credentials/{credential_id}/set-default")
    async def set_default(
        credential_id: str,
        scope: tuple[User, str] = Depends(scoped),
    ) -> dict[str, Any]:
        _, org_id = scope
        return world.set_default(org_id, credential_id).public()

    @app.post("/credentials/{credential_id}/test")
    async def test_stored(
        credential_id: str,
        scope: tuple[User, str] = Depends(scoped),
    ) -> dict[str, Any]:
        _, org_id = scope
        cred = world.get_credential(org_id, credential_id)
        if cred.integration_name != "xai":
            raise ApiError(400, f"Test calls are not supported for {cred.integration_name}")
        result = await _test_key(cred.api_key, cred.base_url)
        return {
            "credential_id": cred.credential_id,
            "is_valid": result["is_valid"],
            "message": result["message"],
            "tested_at": result["tested_at"],
        }

    async def _test_key(api_key: str, base_url: str | None) -> dict[str, Any]:
        layer_ref["layer"].stats.xai_calls += 1
        return await run_key_test(api_key, base_url, xai_upstream, world.xai)

    # -- integration catalog ----------------------------------------------------
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

    llm_names = [n for n, i in INTEGRATIONS.items() if i["integration_type"] == "llm"]

    @app.get("/integrations/llm-providers")
    async def llm_providers(
        scope: tuple[User, str] = Depends(scoped),
    ) -> list[dict[str, Any]]:
        return [provider_summary(n) for n in llm_names]

    @app.get("/integrations/llm-providers/{name}")
    async def llm_provider_detail(
        name: str,
        scope: tuple[User, str] = Depends(scoped),
    ) -> dict[str, Any]:
        if name not in llm_names:
            raise ApiError(404, "LLM provider not found")
        models = XAI_MODELS if name == "xai" else []
        return {
            **provider_summary(name),
            "auth_schemas": [XAI_AUTH_SCHEMA] if name == "xai" else [],
            "models": models,
            "features": ["chat", "vision", "tool_calling"] if name == "xai" else [],
            "metadata": {"byok": True, "cache_ttl_seconds": 600},
        }

    @app.get("/integrations/tools/{name}")
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

    # -- xAI: the inference stand-in and the Management API -------------------------
    add_standin(app, world.xai)
    add_management_api(app, world.xai, save=world.save)

    # -- /_emulator: outside the contract, for tests and benchmarks ---------------
    @app.get("/_emulator/stats")
    async def stats() -> dict[str, Any]:
        return layer_ref["layer"].stats.snapshot()

    @app.post("/_emulator/stats/reset")
    async def stats_reset() -> dict[str, Any]:
        layer_ref["layer"].stats.reset()
        return {"ok": True}

    @app.post("/_emulator/world")
    async def merge_world(doc: dict[str, Any] = Body(...)) -> dict[str, Any]:
        """Add users, orgs and credentials (the fixture format) while running."""
        world.merge_fixture(doc)
        return {"ok": True, "orgs": len(world.orgs), "credentials": len(world.credentials)}

    @app.post("/_emulator/faults")
    async def set_faults(body: FaultsBody) -> dict[str, Any]:
        layer = layer_ref["layer"]
        try:
            plan = FaultPlan(rates=body.faults, seed=body.seed, hold_s=body.hold_s)
        except ValueError as exc:
            raise ApiError(422, str(exc)) from None
        if body.org is None:
            layer.global_plan = plan if body.faults else None
        elif body.faults:
            layer.org_plans[body.org] = plan
        else:
            layer.org_plans.pop(body.org, None)
        return {"ok": True}

    def attach(layer: FaultLayer) -> None:
        layer_ref["layer"] = layer

    app.state.attach = attach
    return app


def build_asgi(
    world: World,
    *,
    latency_ms: float = 0.0,
    plan: FaultPlan | None = None,
    xai_upstream: str | None = None,
) -> FaultLayer:
    app = build_app(world, xai_upstream)
    layer = FaultLayer(app, latency_ms=latency_ms, plan=plan, scope_of=management_scope(world.xai))
    app.state.attach(layer)
    return layer
