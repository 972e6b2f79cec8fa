"""Shared test fixtures: one real emulator per session, and a fresh org per test."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import settings

# The suite starts `python -m mxsync` hundreds of times. A shell that sets
# PYTHONDONTWRITEBYTECODE makes each of them compile every module from source again
# (about a third of a second each); an installed mxsync runs from .pyc files, and so do
# the tests' subprocesses.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

# No test asserts a time: hypothesis's per-example deadline is one, and it failed a
# rendering test whose first example paid for the lazy imports on a busy CI machine.
settings.register_profile("mxsync", deadline=None)
settings.load_profile("mxsync")


@dataclass
class EmulatorProcess:
    url: str
    process: subprocess.Popen[str]


def start_emulator(*args: str, rate_limit: int | None) -> EmulatorProcess:
    """Start `mxsync emulator --port 0 --rate-limit N ...` and wait for the URL line it
    prints when ready. The emulator limits every token to 60 calls a minute, as the
    service does; each caller says what it needs: 0 for no limit (tests that are not
    about rate limits and must stay quick), None for the emulator's own default."""
    limit = [] if rate_limit is None else ["--rate-limit", str(rate_limit)]
    process = subprocess.Popen(
        [sys.executable, "-m", "mxsync", "emulator", "--port", "0", *limit, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("http://"):
        process.kill()
        raise RuntimeError(f"emulator did not start: {line!r} {process.stderr.read()}")
    return EmulatorProcess(url=line, process=process)


def stop_emulator(emu: EmulatorProcess) -> str:
    emu.process.terminate()
    try:
        _, err = emu.process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        emu.process.kill()
        _, err = emu.process.communicate()
    return err


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorProcess]:
    emu = start_emulator(rate_limit=0)  # many tests share each token's org: no service limit
    yield emu
    stop_emulator(emu)


@pytest.fixture(scope="session")
def emulator_url(emulator: EmulatorProcess) -> str:
    return emulator.url


def fake_key(label: str = "") -> str:
    """A fake key of the xAI shape, unique per call."""
    return f"xai-test{label}{uuid.uuid4().hex}"


@dataclass
class TestOrg:
    """An org of this test alone, with an owner token."""

    __test__ = False
    id: str
    token: str
    url: str

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "X-Organization-ID": self.id}

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers(), **kwargs)

    def xai(self) -> list[dict[str, Any]]:
        with self.client() as c:
            r = c.get("/credentials", params={"integration_name": "xai", "limit": 500})
            r.raise_for_status()
            return r.json()["credentials"]

    def faults(self, faults: dict[str, float], seed: int = 0, hold_s: float = 30.0,
               routes: list[str] | None = None) -> None:
        r = httpx.post(f"{self.url}/_emulator/faults",
                       json={"org": self.id, "faults": faults, "seed": seed, "hold_s": hold_s,
                             "routes": routes})
        r.raise_for_status()


class OrgFactory:
    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(
        self,
        credentials: list[dict[str, Any]] | None = None,
        role: str = "owner",
        extra_memberships: dict[str, str] | None = None,
        invalid_keys: list[str] | None = None,
        user_fields: dict[str, Any] | None = None,
        org_fields: dict[str, Any] | None = None,
    ) -> TestOrg:
        """`user_fields` (e.g. `rate_limit_per_minute`) go on the org's owner token,
        `org_fields` (e.g. `settings`) on the org, as in a fixture file."""
        org_id = f"org-{uuid.uuid4().hex[:12]}"
        token = f"mx_live_test_{uuid.uuid4().hex}"
        doc = {
            "users": [{
                "token": token,
                "id": f"u-{org_id}",
                "email": f"{org_id}@example.com",
                "memberships": {org_id: role, **(extra_memberships or {})},
                **(user_fields or {}),
            }],
            "orgs": [{"id": org_id, "name": org_id, "credentials": credentials or [],
                      **(org_fields or {})}],
            "xai": {"invalid_keys": invalid_keys or []},
        }
        httpx.post(f"{self.url}/_emulator/world", json=doc).raise_for_status()
        return TestOrg(id=org_id, token=token, url=self.url)


@pytest.fixture
def new_org(emulator_url: str) -> OrgFactory:
    return OrgFactory(emulator_url)


@pytest.fixture(autouse=True)
def _no_ambient_modulex_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up a real token or URL from the developer's shell."""
    for name in list(os.environ):
        if name.startswith(("MODULEX_", "XAI_KEY")):
            monkeypatch.delenv(name, raising=False)
