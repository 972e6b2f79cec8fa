"""Minted-key rotations under faults and kills (#14): whatever goes wrong, re-running apply
converges to exactly one live xAI key per minted entry, held by the org's default
credential, with no orphan left at xAI."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mxsync.emulator.faults import FAULT_KINDS
from tests.conftest import OrgFactory, start_emulator, stop_emulator
from tests.mint_helpers import MintWorld, mint_world, stats

pytestmark = pytest.mark.slow  # `pytest -m "not slow"` is the quick tier

# Each fault at a rate that makes a rotation meet it more than once, so retries, lost
# answers and replays all happen; `timeout` holds an answer past the client's timeout.
RATE = 0.5
TIMEOUT_S = 0.75
HOLD_S = 1.5


@pytest.fixture
def world(new_org: OrgFactory, emulator_url: str, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> MintWorld:
    return mint_world(new_org, emulator_url, tmp_path, monkeypatch)


@pytest.mark.parametrize("side", ["xai-management", "modulex"])
@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_a_rotation_under_faults_converges_to_one_live_key(world: MintWorld, emulator_url: str,
                                                           kind: str, side: str) -> None:
    world.apply()
    world.assert_converged()
    world.write(qpm=900)  # a rotation that stays planned until it is done
    before = stats(emulator_url)["faults"].get(kind, 0)
    target = world.team if side == "xai-management" else world.org
    target.faults({kind: RATE}, seed=sum(map(ord, kind + side)), hold_s=HOLD_S)
    world.converge(timeout_s=TIMEOUT_S)
    assert stats(emulator_url)["faults"].get(kind, 0) > before, "the fault never fired"
    world.assert_converged(qpm=900)


def test_a_sigkill_at_random_points_of_a_rotation_is_healed_by_the_next_apply(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An emulator of its own with latency on every call, so that a rotation takes a few
    # seconds and kills at random points land between different steps.
    emu = start_emulator("--latency-ms", "80", rate_limit=0)
    try:
        world = mint_world(OrgFactory(emu.url), emu.url, tmp_path, monkeypatch, propagation_s=0.5)
        world.apply()
        world.assert_converged()
        rng = random.Random(14)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("MODULEX_", "XAI_"))},
               **world.env}
        interrupted = 0
        for _ in range(6):
            process = subprocess.Popen(
                [sys.executable, "-m", "mxsync", "apply", "-f", str(world.manifest),
                 "--auto-approve", "--replace", f"{world.org.id}/xai/minted"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # The rotation has begun once the new key exists at xAI: kill at a random point
            # after that (waiting for the event, not a fixed time, so a slow machine that is
            # still starting Python does not make every kill land before the rotation).
            deadline = time.monotonic() + 60
            while (len(world.team_keys()) < 2 and process.poll() is None
                   and time.monotonic() < deadline):
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 2.0))  # the random point of the kill
            process.send_signal(signal.SIGKILL)
            process.wait()
            if len(world.team_keys()) != 1 or len(world.org.xai()) != 1:
                interrupted += 1  # the kill left a key or a credential for the next apply
            world.converge()
            world.assert_converged()
        assert interrupted, "no kill landed inside a rotation; the test proved nothing"
    finally:
        stop_emulator(emu)
