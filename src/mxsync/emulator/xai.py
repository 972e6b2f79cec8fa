"""xAI's side of a key test: the built-in inference stand-in and the test semantics.

The service tests an xAI key with a 10-token chat completion against
`grok-4-fast` and calls it valid when xAI answers 200 with `id`, `choices` and
`model`. The stand-in answers as the real `api.x.ai` does: 400 for a malformed, unknown-to-the-fixture
invalid, deleted, expired or not yet propagated key; 403 for a disabled key, a
blocked team or a key whose ACLs lack the endpoint; the no-credits text with 429
(or 403: fixture `xai.unfunded_status`) for a team out of credits; 404 for a model
that does not exist or that the key may not use; 429 for a key over its own limit;
200 otherwise (server-sent events for `stream: true`). `GET /v1/models` lists what
the key may use. With `--xai-upstream` the key test really goes out.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from mxsync.emulator.store import DEFAULT_XAI_BASE_URL, XAI_KEY_RE, now_iso
from mxsync.emulator.xai_world import (
    CODE_EXHAUSTED,
    CODE_INVALID,
    CODE_NOT_FOUND,
    CODE_PERMISSION,
    ApiKey,
    XaiError,
    XaiWorld,
    iso,
    xai_redacted,
)

TEST_MODEL = "grok-4-fast"
STANDIN_TEAM = "team-standin"  # the team a key that no fixture mentions is said to belong to
STANDIN_USER = "u-standin"
# `created` of each model in `GET /v1/models` (fixed, so two listings agree).
MODEL_CREATED = 1_735_689_600  # 2025-01-01T00:00:00Z


def unfunded_text(team_id: str) -> str:
    return (
        f"Your team {team_id} has either used all available credits or reached its monthly "
        "spending limit. To continue making API requests, please purchase more credits or "
        "raise your spending limit."
    )


def check_key(world: XaiWorld, api_key: str | None, now: float) -> ApiKey | None:
    """Whether xAI knows `api_key` at all; raises the 400 the real service sends if not.

    Returns the minted key behind it, or None for a key the fixture vouches for.
    """
    key = api_key or ""
    invalid = XaiError(
        400, CODE_INVALID,
        f"Incorrect API key provided: {xai_redacted(key)}. You can obtain an API key from "
        "https://console.x.ai.",
    )
    if not XAI_KEY_RE.match(key) or key in world.invalid_keys or key in world.deleted_secrets:
        raise invalid
    minted = world.by_secret.get(key)
    if minted is not None and (now < minted.propagated_at or minted.expired(now)):
        raise invalid
    return minted


def team_of(minted: ApiKey | None) -> str:
    return minted.team_id if minted else STANDIN_TEAM


def check_enabled(world: XaiWorld, api_key: str, minted: ApiKey | None) -> None:
    """403 for a disabled key or a blocked team: true of every route, free ones too."""
    team = world.teams.get(minted.team_id) if minted else None
    if (minted is not None and minted.disabled) or api_key in world.disabled_keys:
        raise XaiError(403, CODE_PERMISSION,
                       f"The API key {xai_redacted(api_key)} is disabled. Enable it or create a "
                       "new one at https://console.x.ai.")
    if team is not None and team.blocked:
        raise XaiError(403, CODE_PERMISSION, f"Team {team.id} is blocked. Contact xAI support.")


def model_not_found(model: str, minted: ApiKey | None) -> XaiError:
    """xAI's 404, the same for a model that does not exist and one the key may not use."""
    return XaiError(404, CODE_NOT_FOUND,
                    f"The model {model} does not exist or your team {team_of(minted)} does not "
                    "have access to it. Please ensure you're using the correct API key. If you "
                    "believe this is an error, please contact support.")


def check_usable(world: XaiWorld, api_key: str, minted: ApiKey | None, endpoint: str, model: str) -> None:
    """The 403s, 404s and 429s of a key xAI knows: disabled, blocked, out of credits, an
    endpoint or model its ACLs do not grant, too busy."""
    check_enabled(world, api_key, minted)
    team = world.teams.get(minted.team_id) if minted else None
    if (team is not None and team.unfunded) or api_key in world.unfunded_keys:
        status = world.unfunded_status
        raise XaiError(status, CODE_EXHAUSTED if status == 429 else CODE_PERMISSION,
                       unfunded_text(team_of(minted)))
    if minted is not None and not minted.allows_endpoint(endpoint):
        raise XaiError(403, CODE_PERMISSION,
                       f"The API key {xai_redacted(api_key)} is not permitted to use the {endpoint} "
                       "endpoint (see its ACLs).")
    if model not in world.usable_models(minted):
        raise model_not_found(model, minted)
    if api_key in world.rate_limited_keys:
        raise XaiError(429, CODE_EXHAUSTED,
                       f"The API key {xai_redacted(api_key)} has exceeded its rate limit. "
                       "Please slow down.")


def standin_completion(world: XaiWorld, api_key: str | None, model: str, now: float) -> tuple[int, Any]:
    """What the stand-in's `POST /v1/chat/completions` answers."""
    try:
        minted = check_key(world, api_key, now)
        check_usable(world, api_key or "", minted, "chat", model)
    except XaiError as exc:
        return exc.status, exc.body()
    return 200, {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(now),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }


def completion_events(answer: dict[str, Any]) -> Iterator[bytes]:
    """A completion as server-sent events, the way `stream: true` gets it: a chunk with the
    role and text, a last chunk with `finish_reason` and the usage, then `[DONE]`."""
    head = {"id": answer["id"], "object": "chat.completion.chunk", "created": answer["created"],
            "model": answer["model"]}
    message = answer["choices"][0]["message"]
    chunks = [
        {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": message["content"]},
                              "finish_reason": None}]},
        {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
         "usage": answer["usage"]},
    ]
    for chunk in chunks:
        yield b"data: " + json.dumps(chunk).encode() + b"\n\n"
    yield b"data: [DONE]\n\n"


def model_object(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": MODEL_CREATED, "owned_by": "xai"}


def standin_models(world: XaiWorld, api_key: str | None, model: str | None,
                   now: float) -> tuple[int, Any]:
    """`GET /v1/models` (model None) and `GET /v1/models/{model}`: what the key may use,
    OpenAI-compatible; xAI's 404 for any other model. Costs no tokens, so credits and the
    key's own rate limit do not matter here."""
    try:
        minted = check_key(world, api_key, now)
        check_enabled(world, api_key or "", minted)
        usable = world.usable_models(minted)
        if model is None:
            return 200, {"object": "list", "data": [model_object(m) for m in usable]}
        if model not in usable:
            raise model_not_found(model, minted)
    except XaiError as exc:
        return exc.status, exc.body()
    return 200, model_object(model)


def standin_key_info(world: XaiWorld, api_key: str | None, now: float) -> tuple[int, Any]:
    """`GET /v1/api-key`: what xAI knows of a key, at no token cost; 400 for an invalid key."""
    try:
        minted = check_key(world, api_key, now)
    except XaiError as exc:
        return exc.status, exc.body()
    key = api_key or ""
    if minted is not None:
        team = world.teams.get(minted.team_id)
        return 200, {
            "redacted_api_key": f"xai-...{key[-4:]}",
            "api_key_id": minted.api_key_id,
            "team_id": minted.team_id,
            "user_id": minted.user_id,
            "name": minted.name,
            "acls": list(minted.acls),
            "api_key_blocked": False,
            "api_key_disabled": minted.disabled,
            "team_blocked": bool(team and team.blocked),
            "create_time": iso(minted.created),
            "modify_time": iso(minted.modified),
            "modified_by": minted.modified_by or minted.user_id,
        }
    stamp = now_iso()
    return 200, {
        "redacted_api_key": f"xai-...{key[-4:]}",
        # A stable id per key, so two calls agree; derived, never the key itself.
        "api_key_id": hashlib.sha256(key.encode()).hexdigest()[:32],
        "team_id": STANDIN_TEAM,
        "user_id": STANDIN_USER,
        "name": "stand-in key",
        "acls": ["api-key:model:*", "api-key:endpoint:*"],
        "api_key_blocked": False,
        "api_key_disabled": key in world.disabled_keys,
        "team_blocked": False,
        "create_time": stamp,
        "modify_time": stamp,
        "modified_by": STANDIN_USER,
    }


def add_standin(app: FastAPI | APIRouter, world: XaiWorld) -> None:
    """Add the stand-in's routes (`/v1/...`) at the root of the emulator's app."""

    def bearer(request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        return auth[7:].strip() if auth.lower().startswith("bearer ") else None

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        key, now = bearer(request), time.time()
        try:
            body = await request.json()
        except ValueError:
            body = None
        model = body.get("model") if isinstance(body, dict) else None
        try:
            check_key(world, key, now)  # a bad key is told so before a bad body
            if not isinstance(body, dict):
                raise XaiError(400, CODE_INVALID, "The request body must be a JSON object")
            if not isinstance(model, str) or not model:
                raise XaiError(400, CODE_INVALID, "model is required")
        except XaiError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)
        status, answer = standin_completion(world, key, model, now)
        if status == 200 and body.get("stream") is True:
            return StreamingResponse(completion_events(answer), media_type="text/event-stream")
        return JSONResponse(answer, status_code=status)

    @app.get("/v1/models")
    async def models(request: Request) -> JSONResponse:
        status, answer = standin_models(world, bearer(request), None, time.time())
        return JSONResponse(answer, status_code=status)

    @app.get("/v1/models/{model_id:path}")
    async def model(request: Request, model_id: str) -> JSONResponse:
        status, answer = standin_models(world, bearer(request), model_id, time.time())
        return JSONResponse(answer, status_code=status)

    @app.get("/v1/api-key")
    async def api_key_info(request: Request) -> JSONResponse:
        status, answer = standin_key_info(world, bearer(request), time.time())
        return JSONResponse(answer, status_code=status)


def _reason(answer: Any, api_key: str) -> str:
    """xAI's error text from either shape it (or an OpenAI-style gateway) uses, never the key."""
    text = ""
    if isinstance(answer, dict):
        error = answer.get("error")
        if isinstance(error, dict):
            error = error.get("message")
        text = str(error or answer.get("code") or answer.get("detail") or "")
    if api_key:
        text = text.replace(api_key, "***")
    return text[:300]


async def run_key_test(
    api_key: str, base_url: str | None, upstream: str | None, world: XaiWorld
) -> dict[str, Any]:
    """Test one key the way the service does; the result never contains the key."""
    target = (base_url or upstream or DEFAULT_XAI_BASE_URL).rstrip("/")
    endpoint = f"{target}/chat/completions"
    body = {"model": TEST_MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "ping"}]}
    if upstream is None:
        status, answer = standin_completion(world, api_key, TEST_MODEL, time.time())
    else:
        import httpx

        try:
            async with httpx.AsyncClient(timeout=10.0) as client:
                response = await client.post(
                    endpoint, json=body, headers={"Authorization": f"Bearer {api_key}"}
                )
            status = response.status_code
            try:
                answer = response.json()
            except ValueError:
                answer = None
        except httpx.HTTPError as exc:
            status, answer = 0, {"error": type(exc).__name__}
    valid = (
        status == 200
        and isinstance(answer, dict)
        and all(k in answer for k in ("id", "choices", "model"))
    )
    if valid:
        message = "Connection successful"
    else:
        reason = _reason(answer, api_key)
        message = f"xAI API test failed (HTTP {status})" + (f": {reason}" if reason else "")
    return {
        "is_valid": valid,
        "message": message,
        "tested_at": now_iso(),
        "test_method": "api_call",
        "integration_name": "xai",
        "auth_type": "api_key",
        "test_endpoint": endpoint,
        "status_code": status,
        "cost_level": "minimal",
    }
