"""xAI's Management API, served by the emulator under `/xai-management`.

The routes and shapes of xAI's Management API (team API keys); the rules live in
`XaiWorld`, this module only translates HTTP. Bodies and query strings are read
by hand rather than through pydantic so that every bad request gets xAI's own
`400 {"code", "error"}`, never FastAPI's 422.

Faults and latency reach these routes through the emulator's fault layer like
any ModuleX route. Its per-org plans (`POST /_emulator/faults {"org": ...}`) are
keyed here by **xAI team id**: `management_scope` names the team a request
concerns (from the path, or from the key's team for `/auth/api-keys/{id}`
routes, also once the key is deleted), so a test that owns a team can fault that
team's calls alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from mxsync.emulator.xai_world import CODE_INVALID, XaiError, XaiWorld

PREFIX = "/xai-management"
Handler = Callable[[Request], Awaitable[Any]]


def add_management_api(app: FastAPI | APIRouter, world: XaiWorld,
                       save: Callable[[], None] = lambda: None) -> None:
    """Add the Management API's routes under `PREFIX`; `save` persists a change.

    Added route by route rather than as an included router, so that each one is a
    plain route of the app and the fault layer's per-route counts name it.
    """

    def answer(handler: Handler) -> Callable[[Request], Awaitable[JSONResponse]]:
        async def endpoint(request: Request) -> JSONResponse:
            try:
                return JSONResponse(await handler(request))
            except XaiError as exc:
                return JSONResponse(exc.body(), status_code=exc.status)

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        return endpoint

    async def json_body(request: Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            raise XaiError(400, CODE_INVALID, "The request body is not valid JSON") from None

    def caller(request: Request) -> Any:
        return world.authenticate(request.headers.get("authorization"))

    async def create_key(request: Request) -> Any:
        key = world.create(caller(request), request.path_params["team_id"], await json_body(request))
        save()
        return key.public(with_secret=True)

    async def list_keys(request: Request) -> Any:
        page, token = world.page(
            caller(request), request.path_params["team_id"],
            request.query_params.get("pageSize"), request.query_params.get("paginationToken"),
        )
        body: dict[str, Any] = {"apiKeys": [k.public() for k in page]}
        if token:
            body["paginationToken"] = token
        return body

    async def update_key(request: Request) -> Any:
        who = caller(request)
        key = world.update(who, request.path_params["api_key_id"], await json_body(request))
        save()
        return key.public()

    async def delete_key(request: Request) -> Any:
        world.delete(caller(request), request.path_params["api_key_id"])
        save()
        return {}

    async def propagation(request: Request) -> Any:
        return {"propagated": world.propagated(caller(request), request.path_params["api_key_id"])}

    async def team_models(request: Request) -> Any:
        team = world.team_for(caller(request), request.path_params["team_id"])
        return {"models": [{"id": m} for m in team.models]}

    async def validate(request: Request) -> Any:
        """xAI's published example: `{apiKeyId, teamId, scope: "SCOPE_TEAM", scopeId, name}`.
        `valid` and `teamIds` are this emulator's older answer, kept beside it while
        mxsync's client still reads `teamIds` (they also name every team of a key that
        manages several)."""
        key = caller(request)
        team = key.teams[0] if key.teams else ""
        return {"apiKeyId": key.key_id, "teamId": team, "scope": "SCOPE_TEAM", "scopeId": team,
                "name": key.name, "valid": True, "teamIds": list(key.teams)}

    async def team_endpoints(request: Request) -> Any:
        """The endpoint names an ACL may grant (`api-key:endpoint:<name>`); assumed shape
        `{endpoints: [{name}]}`."""
        team = world.team_for(caller(request), request.path_params["team_id"])
        return {"endpoints": [{"name": e} for e in team.endpoints]}

    async def rotate_key(request: Request) -> Any:
        """Assumed: public endpoint registries list `POST /auth/api-keys/{id}/rotate`; the
        answer here is the key object with its new `apiKey`, as on create."""
        key = world.rotate(caller(request), request.path_params["api_key_id"])
        save()
        return key.public(with_secret=True)

    routes: list[tuple[str, str, Handler]] = [
        ("POST", "/auth/teams/{team_id}/api-keys", create_key),
        ("GET", "/auth/teams/{team_id}/api-keys", list_keys),
        ("PUT", "/auth/api-keys/{api_key_id}", update_key),
        ("DELETE", "/auth/api-keys/{api_key_id}", delete_key),
        ("GET", "/auth/api-keys/{api_key_id}/propagation", propagation),
        ("GET", "/auth/teams/{team_id}/models", team_models),
        ("GET", "/auth/teams/{team_id}/endpoints", team_endpoints),
        ("POST", "/auth/api-keys/{api_key_id}/rotate", rotate_key),
        ("GET", "/auth/management-keys/validation", validate),
    ]
    for method, path, handler in routes:
        app.add_api_route(PREFIX + path, answer(handler), methods=[method], include_in_schema=False)


def management_scope(world: XaiWorld) -> Callable[[dict[str, Any]], str | None]:
    """For the fault layer: the xAI team a Management API request concerns, else None."""

    def scope_of(scope: dict[str, Any]) -> str | None:
        path: str = scope.get("path", "")
        if not path.startswith(PREFIX + "/"):
            return None
        parts = path[len(PREFIX):].strip("/").split("/")
        if parts[:2] == ["auth", "teams"] and len(parts) >= 3:
            return parts[2]
        if parts[:2] == ["auth", "api-keys"] and len(parts) >= 3:
            return world.team_of_key(parts[2])
        return None

    return scope_of
