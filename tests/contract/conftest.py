"""Replay by default; `MXSYNC_RECORD=1` records, against a fresh emulator or a real service.

    MXSYNC_RECORD=1 python -m pytest tests/contract                      # fresh emulator
    MXSYNC_RECORD=1 MODULEX_BASE_URL=https://api.modulex.dev \\
        MODULEX_API_KEY=mx_live_... MXSYNC_TEST_ORG=org-... python -m pytest tests/contract
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import vcr

from mxsync.api import ModulexClient, RetryPolicy
from mxsync.secrets import Secret
from tests.conftest import fake_key
from tests.contract.scrub import ORG, Scrubber

RECORD = os.environ.get("MXSYNC_RECORD") == "1"
REAL_URL = os.environ.get("MODULEX_BASE_URL") if RECORD else None
REAL_TOKEN = os.environ.get("MODULEX_API_KEY", "")
REAL_ORG = os.environ.get("MXSYNC_TEST_ORG", "")
CASSETTES = Path(__file__).resolve().parents[1] / "cassettes"
FOREIGN = "<ORG-FOREIGN>"
# xAI answers 401 to this, and the emulator is told to.
REJECTED_KEY = "xai-" + "0" * 40


@dataclass
class Contract:
    url: str
    token: Secret
    org: str
    foreign_org: str
    recording: bool
    on_emulator: bool

    def client(self, **kwargs: object) -> ModulexClient:
        return ModulexClient(self.url, **kwargs)  # type: ignore[arg-type]

    def quick_client(self) -> ModulexClient:
        """No retries: to see an error answer exactly as the service gave it."""
        return ModulexClient(self.url, retry=RetryPolicy(attempts=1))

    def key(self) -> Secret:
        return Secret(fake_key("contract"))

    def faults(self, faults: dict[str, float], seed: int) -> None:
        """Only while recording on the emulator; a replay needs nothing set."""
        if self.recording and self.on_emulator:
            httpx.post(f"{self.url}/_emulator/faults",
                       json={"org": self.org, "faults": faults, "seed": seed}).raise_for_status()


@pytest.fixture
def contract(request: pytest.FixtureRequest) -> Iterator[Contract]:
    emulator_only = request.node.get_closest_marker("emulator_only") is not None
    recording = RECORD and not (REAL_URL and emulator_only)
    if recording and REAL_URL:
        if not (REAL_TOKEN and REAL_ORG):
            pytest.fail("recording against a real service needs MODULEX_API_KEY and MXSYNC_TEST_ORG")
        env = Contract(REAL_URL, Secret(REAL_TOKEN), REAL_ORG, f"org-foreign-{uuid.uuid4().hex}",
                       recording=True, on_emulator=False)
    elif recording:
        url = request.getfixturevalue("emulator_url")
        org, token = f"org-contract-{uuid.uuid4().hex[:12]}", f"mx_live_contract_{uuid.uuid4().hex}"
        httpx.post(f"{url}/_emulator/world", json={
            "users": [{"token": token, "id": "u-contract", "email": "contract@example.com",
                       "memberships": {org: "owner"}}],
            "orgs": [{"id": org}], "xai": {"invalid_keys": [REJECTED_KEY]}}).raise_for_status()
        env = Contract(url, Secret(token), org, f"org-foreign-{uuid.uuid4().hex}",
                       recording=True, on_emulator=True)
    else:  # replay: nothing is contacted; the placeholders are the ids
        env = Contract("http://127.0.0.1:9", Secret("mx_live_replay"), ORG, FOREIGN,
                       recording=False, on_emulator=False)
    scrubber = Scrubber({env.org: ORG, env.foreign_org: FOREIGN})
    recorder = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if recording else "none",
        match_on=["method", "path", "query", "body"],
        before_record_request=scrubber.request,
        before_record_response=scrubber.response,
        decode_compressed_response=True,
    )
    cassette = CASSETTES / f"{request.node.name}.yaml"
    if recording:
        cassette.unlink(missing_ok=True)  # "all" would keep the old interactions beside the new
    with recorder.use_cassette(str(cassette)):
        yield env
