"""xAI's side of a key test: the built-in stand-in and the test semantics.

The service tests an xAI key with a 10-token chat completion against
`grok-4-fast` and calls it valid when xAI answers 200 with `id`, `choices` and
`model`. The stand-in answers that way for every well-formed key that the fixture
does not list as invalid; with `--xai-upstream` the call really goes out.
"""

from __future__ import annotations

import uuid
from typing import Any

from mxsync.emulator.store import DEFAULT_XAI_BASE_URL, XAI_KEY_RE, now_iso

TEST_MODEL = "grok-4-fast"


def standin_completion(api_key: str | None, invalid_keys: set[str], model: str) -> tuple[int, Any]:
    """What the stand-in's `POST /v1/chat/completions` answers."""
    if not api_key or not XAI_KEY_RE.match(api_key) or api_key in invalid_keys:
        return 401, {"error": {"message": "Incorrect API key provided", "type": "invalid_api_key"}}
    return 200, {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }


async def run_key_test(
    api_key: str, base_url: str | None, upstream: str | None, invalid_keys: set[str]
) -> dict[str, Any]:
    """Test one key the way the service does; the result never contains the key."""
    target = (base_url or upstream or DEFAULT_XAI_BASE_URL).rstrip("/")
    endpoint = f"{target}/chat/completions"
    body = {"model": TEST_MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "ping"}]}
    if upstream is None:
        status, answer = standin_completion(api_key, invalid_keys, TEST_MODEL)
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
    message = "Connection successful" if valid else f"xAI rejected the key (HTTP {status})"
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
