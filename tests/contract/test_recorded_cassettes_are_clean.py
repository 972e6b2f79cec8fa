"""No cassette holds a token, a key, a masked key fragment or a real org id."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from vcr.request import Request

from tests.contract.scrub import KEY, MASKED, ORG, TOKEN, Scrubber

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes"
KEY_PATTERN = re.compile(r"xai-[A-Za-z0-9\-_]{20,}")
TOKEN_PATTERN = re.compile(r"mx_(live|test)_[A-Za-z0-9\-_]+")
MASKED_PATTERN = re.compile(r"xai-[A-Za-z0-9\-_]*\.\.\.")


def org_values(node: Any, key: str = "") -> list[str]:
    """Every value that names an org: organization_id fields and organizations[].id."""
    found: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "organization_id" and isinstance(v, str):
                found.append(v)
            if k == "organizations" and isinstance(v, list):
                found += [o.get("id") for o in v if isinstance(o, dict)]
            found += org_values(v, k)
    elif isinstance(node, list):
        for item in node:
            found += org_values(item, key)
    return found


def test_every_cassette_is_scrubbed() -> None:
    cassettes = sorted(CASSETTES.glob("*.yaml"))
    assert len(cassettes) >= 7
    for path in cassettes:
        text = path.read_text()
        for pattern in (KEY_PATTERN, TOKEN_PATTERN, MASKED_PATTERN):
            assert not pattern.search(text), f"{path.name}: {pattern.pattern} found"
        for interaction in yaml.safe_load(text)["interactions"]:
            request, response = interaction["request"], interaction["response"]
            headers = {k.lower(): v for k, v in request["headers"].items()}
            assert headers.get("authorization", [f"Bearer {TOKEN}"]) == [f"Bearer {TOKEN}"]
            for org in headers.get("x-organization-id", []):
                assert org.startswith("<ORG"), f"{path.name}: org id {org!r} in a header"
            assert "/_emulator/" not in request["uri"]
            for raw in (request.get("body"), response["body"].get("string")):
                if not raw:
                    continue
                try:
                    body = json.loads(raw)
                except ValueError:
                    continue
                for org in org_values(body):
                    assert org is None or org.startswith("<ORG"), f"{path.name}: org {org!r}"
                if isinstance(body, dict) and "auth_data" in body:
                    assert body["auth_data"]["api_key"] == KEY


def test_scrubber_removes_canaries() -> None:
    key, token, org = "xai-CANARYkey000000000000000000", "mx_live_CANARYtoken", "org-CANARY-1234"
    scrubber = Scrubber({org: ORG})
    body = json.dumps({"integration_name": "xai", "auth_data": {"api_key": key}})
    request = Request("POST", f"http://h/credentials?org={org}", body,
                      {"Authorization": f"Bearer {token}", "X-Organization-ID": org})
    scrubbed = scrubber.request(request)
    response = scrubber.response({"status": {"code": 200, "message": "OK"},
                                  "headers": {"set-cookie": ["s=CANARY"]},
                                  "body": {"string": json.dumps({
                                      "organization_id": org, "auth_data_masked": "xai-CANA...0000",
                                      "note": f"{key} {token}", "created_by_email": "me@corp"})}})
    everything = str(scrubbed.headers) + scrubbed.uri + str(scrubbed.body) + str(response)
    assert "CANARY" not in everything and "me@corp" not in everything
    assert json.loads(response["body"]["string"])["auth_data_masked"] == MASKED
    assert scrubber.request(Request("POST", "http://h/_emulator/faults", "", {})) is None
