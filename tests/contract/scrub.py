"""Scrubbing of cassettes before anything is written, and before replayed requests are
matched: tokens, keys, masked key fragments, org ids, user ids and e-mails."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

ORG = "<ORG>"
KEY = "<XAI_KEY>"
TOKEN = "<TOKEN>"
MASKED = "<MASKED>"
USER = "<USER>"
EMAIL = "user@example.com"
# Anything that looks like a key or token, and any masked key (`xai-ab12...wxyz`).
_SECRETS = re.compile(r"xai-[A-Za-z0-9\-_]{20,}|mx_(?:live|test)_[A-Za-z0-9\-_]+")
_MASKED = re.compile(r"xai-[A-Za-z0-9\-_]*\.\.\.[A-Za-z0-9\-_]*")
KEEP_RESPONSE_HEADERS = {"content-type", "retry-after"}


class Scrubber:
    """Knows this run's org ids (to replace them) and scrubs both directions."""

    def __init__(self, orgs: dict[str, str]) -> None:
        self.orgs = {real: placeholder for real, placeholder in orgs.items() if real != placeholder}

    def text(self, text: str) -> str:
        text = _MASKED.sub(MASKED, text)
        text = _SECRETS.sub(lambda m: TOKEN if m.group().startswith("mx_") else KEY, text)
        for real, placeholder in self.orgs.items():
            text = text.replace(real, placeholder)
        return text

    def value(self, node: Any, key: str = "") -> Any:
        if isinstance(node, dict):
            return {k: self.value(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [self.value(v, key) for v in node]
        if not isinstance(node, str):
            return node
        if key == "api_key":
            return KEY
        if key == "auth_data_masked":
            return MASKED
        if key in ("created_by", "user_id"):
            return USER
        if "email" in key:
            return EMAIL
        return self.text(node)

    def body(self, raw: bytes | str | None) -> bytes | str | None:
        if not raw:
            return raw
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        try:
            data = json.loads(text)
        except ValueError:
            scrubbed = self.text(text)
        else:
            scrubbed = json.dumps(self.value(data), sort_keys=True)
        return scrubbed.encode("utf-8") if isinstance(raw, bytes) else scrubbed

    def request(self, request: Any) -> Any:
        if "/_emulator/" in request.uri:
            return None  # the emulator's control calls are not part of the contract
        request = copy.deepcopy(request)
        if "Authorization" in request.headers or "authorization" in request.headers:
            for name in ("Authorization", "authorization"):
                request.headers.pop(name, None)
            request.headers["Authorization"] = f"Bearer {TOKEN}"
        for name in list(request.headers):
            if name.lower() == "x-organization-id":
                request.headers[name] = self.text(request.headers[name])
        request.uri = self.text(request.uri)
        request.body = self.body(request.body)
        return request

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        response = copy.deepcopy(response)
        response["headers"] = {k: v for k, v in response["headers"].items()
                               if k.lower() in KEEP_RESPONSE_HEADERS}
        body = response.get("body", {})
        if "string" in body:
            body["string"] = self.body(body["string"])
        return response
