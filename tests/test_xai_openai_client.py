"""The emulator's xAI stand-in as the `openai` Python client meets it: a client no one
here wrote, pointed at `{emulator}/v1` as users point it at `https://api.x.ai/v1`.

Models (list and retrieve, narrowed by a minted key's ACLs), chat completions (plain and
streamed as server-sent events), and xAI's error statuses arriving as the client's own
error classes: 400 BadRequestError, 403 PermissionDeniedError, 404 NotFoundError, 429
RateLimitError.
"""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.conftest import fake_key
from tests.xai_helpers import new_team

UNFUNDED_TEXT = "has either used all available credits or reached its monthly spending limit"


def client(emulator_url: str, key: str) -> openai.OpenAI:
    # No retries: each call here must meet the stand-in exactly once.
    return openai.OpenAI(api_key=key, base_url=f"{emulator_url}/v1", max_retries=0, timeout=10)


def xai_lists(emulator_url: str, **lists: list[str]) -> None:
    httpx.post(f"{emulator_url}/_emulator/world", json={"xai": lists}).raise_for_status()


def said(error: openai.APIStatusError) -> str:
    """xAI's text, from the `{code, error}` body on the wire (the client unwraps `error`)."""
    wire = error.response.json()
    assert set(wire) == {"code", "error"} and wire["code"], wire
    assert error.body == wire["error"]
    return str(wire["error"])


def chat(c: openai.OpenAI, model: str = "grok-4-fast", **extra: Any) -> Any:
    return c.chat.completions.create(model=model, max_tokens=10,
                                     messages=[{"role": "user", "content": "ping"}], **extra)


def test_models_list_and_retrieve(emulator_url: str) -> None:
    c = client(emulator_url, fake_key())
    listed = [m.id for m in c.models.list()]
    assert listed == ["grok-4-0709", "grok-code-fast-1", "grok-4-fast"]
    model = c.models.retrieve("grok-4-fast")
    assert (model.id, model.object, model.owned_by) == ("grok-4-fast", "model", "xai")
    assert isinstance(model.created, int)


def test_a_minted_key_sees_only_the_models_its_acls_grant(emulator_url: str) -> None:
    team = new_team(emulator_url)
    secret = team.mint(acls=["api-key:model:grok-4-fast", "api-key:endpoint:chat"])["apiKey"]
    c = client(emulator_url, secret)
    assert [m.id for m in c.models.list()] == ["grok-4-fast"]
    with pytest.raises(openai.NotFoundError) as caught:
        c.models.retrieve("grok-4-0709")
    assert "does not exist or your team" in said(caught.value)
    with pytest.raises(openai.NotFoundError):
        chat(c, model="grok-4-0709")
    assert chat(c).choices[0].message.content == "ok"


def test_chat_completion(emulator_url: str) -> None:
    answer = chat(client(emulator_url, fake_key()))
    assert answer.object == "chat.completion" and answer.model == "grok-4-fast"
    assert answer.id and isinstance(answer.created, int) and answer.created > 0
    choice = answer.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert answer.usage is not None and answer.usage.total_tokens > 0


def test_streaming_is_server_sent_events(emulator_url: str) -> None:
    chunks = list(chat(client(emulator_url, fake_key()), stream=True))
    assert len(chunks) >= 2
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "ok"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert len({c.id for c in chunks}) == 1


def test_streaming_on_the_wire_ends_with_done(emulator_url: str) -> None:
    r = httpx.post(f"{emulator_url}/v1/chat/completions",
                   headers={"Authorization": f"Bearer {fake_key()}"},
                   json={"model": "grok-4-fast", "stream": True, "messages": []})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = [line for line in r.text.split("\n\n") if line]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"


def test_an_invalid_key_is_a_bad_request(emulator_url: str) -> None:
    revoked = fake_key("revoked")
    xai_lists(emulator_url, invalid_keys=[revoked])
    for key in (revoked, "sk-not-an-xai-key"):
        with pytest.raises(openai.BadRequestError) as caught:
            client(emulator_url, key).models.list()
        assert caught.value.status_code == 400
        assert "Incorrect API key provided" in said(caught.value) and key not in said(caught.value)
    with pytest.raises(openai.BadRequestError):
        chat(client(emulator_url, revoked))


def test_a_disabled_key_is_permission_denied(emulator_url: str) -> None:
    disabled = fake_key("disabled")
    xai_lists(emulator_url, disabled_keys=[disabled])
    with pytest.raises(openai.PermissionDeniedError) as caught:
        chat(client(emulator_url, disabled))
    assert caught.value.status_code == 403 and "is disabled" in said(caught.value)


def test_an_unknown_model_is_not_found(emulator_url: str) -> None:
    c = client(emulator_url, fake_key())
    for call in (lambda: c.models.retrieve("grok-99"), lambda: chat(c, model="grok-99")):
        with pytest.raises(openai.NotFoundError) as caught:
            call()
        assert caught.value.status_code == 404
        assert "The model grok-99 does not exist or your team" in said(caught.value)


def test_a_busy_key_and_an_unfunded_team_are_429s(emulator_url: str) -> None:
    """Both arrive as RateLimitError; only the text tells that retrying cannot help."""
    busy, unfunded = fake_key("busy"), fake_key("unfunded")
    xai_lists(emulator_url, rate_limited_keys=[busy], unfunded_keys=[unfunded])
    with pytest.raises(openai.RateLimitError) as slow:
        chat(client(emulator_url, busy))
    with pytest.raises(openai.RateLimitError) as broke:
        chat(client(emulator_url, unfunded))
    assert "exceeded its rate limit" in said(slow.value)
    assert UNFUNDED_TEXT in said(broke.value)
    # Listing models costs nothing: it still works for the unfunded team.
    assert [m.id for m in client(emulator_url, unfunded).models.list()]
