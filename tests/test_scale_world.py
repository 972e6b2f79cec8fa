"""Issue #24.9: the generated world of hand-made keys, at 6 orgs, end to end through the CLI:
import, a plan of only adopts, apply that renames and re-creates nothing, a no-change plan,
each step's calls counted at the emulator against its floor (benchmarks/scale_run.py runs
the same steps at 120 and 1,000 orgs under the rate limit)."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import httpx
from benchmarks.scale_run import TARGET, Session, adoption_steps
from benchmarks.scale_world import EXPIRED_AT, LONG_NAME, UNICODE_NAME, generate


def test_the_world_has_every_feature_of_the_issue_at_any_size() -> None:
    world = generate(6)
    orgs = world.fixture["orgs"]
    creds = [c for o in orgs for c in o["credentials"]]
    assert len(orgs) == 6 and len(creds) == world.credentials >= 12
    names = [Counter(c["display_name"] for c in o["credentials"]) for o in orgs]
    assert any(n["test"] == 2 for n in names)
    assert any(n["Prod"] and n["prod"] for n in names)
    assert any(n[UNICODE_NAME] for n in names) and any(n[" "] for n in names)
    assert any(n[LONG_NAME] for n in names) and len(LONG_NAME) == 300
    assert sum(c.get("expires_at") == EXPIRED_AT for c in creds) == 2
    assert max(Counter(c["api_key"] for c in creds).values()) == 2  # two share one key
    assert sum(not any(c["is_default"] for c in o["credentials"]) for o in orgs) == 1
    assert all(sum(c["is_default"] for c in o["credentials"]) <= 1 for o in orgs)
    assert all(c["api_key"].startswith("xai-") for c in creds)
    # The same seed gives the same world; another seed another.
    assert generate(6).fixture == world.fixture
    assert generate(6, seed=25).fixture != world.fixture
    big = generate(120)
    assert (big.credentials, big.counts["expired"], big.counts["shared_key"],
            big.counts["no_default"]) == (232, 35, 11, 16)


def test_imported_world_adopts_everything_at_its_floor(emulator_url: str, tmp_path: Path) -> None:
    world = generate(6, prefix=f"s{uuid.uuid4().hex[:8]}-")
    httpx.post(f"{emulator_url}/_emulator/world", json=world.fixture,
               timeout=30).raise_for_status()
    session = Session(world, emulator_url, tmp_path)
    assert adoption_steps(session) is not None
    assert session.failures == []  # only adopts; nothing renamed, created or left unadopted
    steps = {s.name: s for s in session.steps}
    n, c = len(world.orgs), world.credentials
    assert steps["import --all-orgs"].calls == 1 + 2 * n
    assert steps["plan of the imported manifest"].calls == 1 + n + c
    assert steps["no-change plan"].calls == 1 + n
    assert steps["no-change plan"].ratio <= TARGET
    applied = steps["apply (the adoptions)"].routes
    # One write per adoption and no other; each credential read at most twice (the plan's
    # masked read and the executor's check right before writing: the floor is once).
    assert applied.get("PUT /credentials/{credential_id}") == c
    assert applied.get("GET /credentials/{credential_id}", 0) <= 2 * c
    assert set(applied) <= {"GET /auth/me/organizations", "GET /credentials",
                            "GET /credentials/{credential_id}", "PUT /credentials/{credential_id}"}
