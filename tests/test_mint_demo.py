"""`mxsync demo --minted` (#14): a minted key created and then rotated, with nothing secret shown."""

from __future__ import annotations

import re

import pytest

from tests.cli_helpers import mxsync


@pytest.mark.slow
def test_the_minted_demo_creates_then_rotates_a_key_and_shows_no_secret() -> None:
    run = mxsync("demo", "--minted", env={}, timeout=180)
    assert run.code == 0, run.both
    out = run.out
    assert out.index("+ create (minted) org-beta/xai/minted") < out.index("-/+ rotate")
    assert "propagated after" in out and "revoke" in out
    assert out.rstrip().endswith("fingerprint.") and "No changes." in out
    ids = re.findall(r"xAI key ([0-9a-f-]{36}) \(", out)
    assert len(ids) == 2 and ids[0] != ids[1]  # two mints: the create and the rotation
    assert "mgmt-demo-0123456789abcdef" not in run.both
    assert not re.search(r"xai-[A-Za-z0-9_]{20,}", run.both)
