"""The client's calls for the newer contract rows: usage, org settings, model visibility,
composer model. What they send, and that a wrong shape is named, not a KeyError."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mxsync.api import MalformedAnswer, ModulexClient
from mxsync.secrets import Secret
from tests.hostile.client import CANARY_TOKEN, outcome, with_client
from tests.hostile.server import HostileServer, canned, json_reply

TOKEN = Secret(CANARY_TOKEN)
USAGE = {"credential_id": "c/1", "total_calls": 10, "successful_calls": 2, "failed_calls": 8,
         "success_rate": 0.2, "action_breakdown": {}, "start_date": None, "end_date": None}
SETTINGS = {"llm_model_visibility": {"xai": [{"id": "grok-4-fast", "display_name": "Grok 4 Fast"}]},
            "composer_llm": {"integration_name": "xai", "provider_id": "xai",
                             "model_id": "grok-4-fast", "credential_id": "c-1"}}


def test_usage_is_read_with_its_dates_and_a_quoted_id() -> None:
    with HostileServer(canned([json_reply(USAGE)])) as server:
        usage = with_client(server.url, lambda c: c.credential_usage(
            TOKEN, "org-a", "c/1", start_date="2026-01-01"))
    assert usage["failed_calls"] == 8
    seen = server.seen[0]
    assert seen.path == "/credentials/c%2F1/usage" and seen.query == {"start_date": "2026-01-01"}
    assert seen.headers["x-organization-id"] == "org-a"


@pytest.mark.parametrize(("call", "body", "what"), [
    ("usage", {**USAGE, "total_calls": "many"}, "'total_calls' is a string, expected a count"),
    ("usage", {**USAGE, "failed_calls": -1}, "'failed_calls' is a number, expected a count"),
    ("settings", {"llm_model_visibility": []}, "'llm_model_visibility' is a list, expected an object"),
    ("settings", {"llm_model_visibility": {"xai": "all"}}, "'xai' is a string, expected a list"),
    ("settings", {"composer_llm": "grok"}, "'composer_llm' is a string, expected an object"),
])
def test_a_wrong_shape_is_named(call: str, body: Any, what: str) -> None:
    calls = {"usage": lambda c: c.credential_usage(TOKEN, "org-a", "c-1"),
             "settings": lambda c: c.org_settings(TOKEN, "org-a")}
    with HostileServer(canned([json_reply(body)])) as server:
        error = outcome(server.url, calls[call])
    assert isinstance(error, MalformedAnswer) and what in str(error)


def test_settings_are_read_and_written() -> None:
    replies = [json_reply(SETTINGS), json_reply({"llm_model_visibility": {}}),
               json_reply(SETTINGS["composer_llm"])]

    async def go(client: ModulexClient) -> Any:
        return (await client.org_settings(TOKEN, "org-a"),
                await client.put_model_visibility(TOKEN, "org-a", "xai", []),
                await client.put_composer_llm(TOKEN, "org-a", integration_name="xai",
                                              provider_id="xai", model_id="grok-4-fast"))

    with HostileServer(canned(replies)) as server:
        settings, _, composer = with_client(server.url, go)
    assert settings == SETTINGS and composer["model_id"] == "grok-4-fast"
    put_visibility, put_composer = server.seen[1], server.seen[2]
    assert (put_visibility.method, put_visibility.path) == (
        "PUT", "/organizations/settings/llm-model-visibility")
    assert json.loads(put_visibility.body) == {"integration_name": "xai", "models": []}
    assert json.loads(put_composer.body) == {"integration_name": "xai", "provider_id": "xai",
                                             "model_id": "grok-4-fast"}
