"""Audit at scale: what it costs and what its progress says.

- The progress total counts every call the audit makes: the org list, the credential
  lists, the masked reads of adoptable credentials, the settings where read and a usage
  read per credential; the emulator counts the same calls.
- Settings are read only where a check needs them (the manifest sets models or the
  Assistant, or --check-assistant): an audit of orgs without settings reads none.

The world is one rate-limited token (a short window keeps it quick), so the limit sets
the pace as it does at a hundred orgs against the real 60 calls a minute.
"""

from __future__ import annotations

import itertools
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from hypothesis import given
from hypothesis import strategies as st

from mxsync.api import ModulexClient
from mxsync.audit import AuditOptions, per_credential_calls, settings_needed
from mxsync.live import OrgRequest, estimate_unlisted, follow_up_calls, reading_calls
from mxsync.secrets import Secret
from tests.cli_helpers import mxsync, write_manifest
from tests.conftest import fake_key

LIMIT = 5  # calls per window
WINDOW_S = 0.5
CREDENTIALS = [2, 0, 3, 1, 2, 3, 1, 0]  # per org: uneven, as in real estates
SETTINGS = "GET /organizations/settings"


# -- the counting, as pure functions ---------------------------------------------------------
def calls_per_org(credentials: int, options: AuditOptions, manages_settings: bool = False) -> int:
    """The cost model `mxsync audit --help` documents, written out here as the oracle: its
    credential list, its settings where read, a usage read per credential (unless
    --no-usage) and a key test per credential (--test-keys)."""
    return (1 + int(settings_needed(manages_settings, options))
            + credentials * per_credential_calls(options))


def _options(**kw: bool) -> AuditOptions:
    return AuditOptions(as_of=datetime(2026, 1, 1, tzinfo=UTC), **kw)  # type: ignore[arg-type]


def test_an_audit_with_usage_and_settings_counts_every_call() -> None:
    """1 org list + per org: its list, its settings where needed, a usage read a credential."""
    options = _options(read_usage=True, check_assistant=True)
    token = Secret("mx_live_count")
    requests = [OrgRequest(f"o{i}", token, "T", "", need_settings=settings_needed(False, options),
                           per_credential=per_credential_calls(options))
                for i in range(len(CREDENTIALS))]
    before = reading_calls(requests, knows=lambda t: False)
    after = sum(follow_up_calls(r, n) for r, n in zip(requests, CREDENTIALS, strict=True))
    assert before == {token: 1 + 2 * len(CREDENTIALS)}
    assert after == sum(CREDENTIALS)
    assert before[token] + after == 1 + sum(calls_per_org(n, options) for n in CREDENTIALS)
    # Without usage and without the Assistant's checks: the lists alone.
    lean = _options(read_usage=False)
    assert sum(calls_per_org(n, lean) for n in CREDENTIALS) == len(CREDENTIALS)
    assert calls_per_org(3, _options(test_keys=True)) == 1 + 3 * 2  # usage and a key test each
    assert calls_per_org(3, lean, manages_settings=True) == 2  # the manifest sets models


def test_a_known_token_costs_no_second_org_list() -> None:
    token = Secret("mx_live_known")
    requests = [OrgRequest("a", token, "T", ""), OrgRequest("b", token, "T", "", need_catalog=True)]
    assert reading_calls(requests, knows=lambda t: True) == {token: 3}
    assert reading_calls(requests, knows=lambda t: False) == {token: 4}


@given(st.lists(st.integers(0, 500), min_size=1, max_size=50), st.integers(0, 1000))
def test_the_estimate_of_unlisted_orgs_is_the_average_so_far(seen: list[int], unlisted: int
                                                             ) -> None:
    estimate = estimate_unlisted(seen, unlisted)
    assert min(seen) * unlisted <= estimate <= max(seen) * unlisted
    assert estimate_unlisted([], unlisted) == 0  # nothing seen: nothing guessed
    if len(set(seen)) == 1:
        assert estimate == seen[0] * unlisted


def test_the_client_counts_an_estimate_in_what_is_left_and_says_so() -> None:
    client = ModulexClient("http://127.0.0.1:1")
    token = Secret("mx_live_est")
    client.expect(10, token)
    client.provisional(30, token)
    snap = client.snapshot()
    assert (snap.expected, snap.left, snap.estimated) == (40, 40, True)
    client.provisional(0, token)  # every org listed: the estimate is gone, the count exact
    snap = client.snapshot()
    assert (snap.expected, snap.estimated) == (10, False)


# -- over the emulator -----------------------------------------------------------------------
@dataclass
class World:
    url: str
    token: str
    orgs: list[str]

    def env(self, **extra: str) -> dict[str, str]:
        return {"MODULEX_BASE_URL": self.url, "MODULEX_API_KEY": self.token, **extra}


def limited_world(url: str, credentials: list[int]) -> World:
    """One rate-limited token, owner of an org per item, with that many hand-made keys."""
    tag = uuid.uuid4().hex[:10]
    ids = [f"org-as-{tag}-{i:02d}" for i in range(len(credentials))]
    token = f"mx_live_as_{uuid.uuid4().hex}"
    httpx.post(f"{url}/_emulator/world", json={
        "users": [{"token": token, "id": f"u-{tag}", "email": f"{tag}@example.com",
                   "memberships": {o: "owner" for o in ids},
                   "rate_limit_per_minute": LIMIT, "rate_limit_window_s": WINDOW_S}],
        "orgs": [{"id": o, "name": o, "credentials": [
            {"integration_name": "xai", "display_name": f"k{j}", "api_key": fake_key()}
            for j in range(n)]} for o, n in zip(ids, credentials, strict=True)]}
    ).raise_for_status()
    return World(url, token, ids)


def routes(url: str) -> dict[str, int]:
    return dict(httpx.get(f"{url}/_emulator/stats").json()["routes"])


def counted(url: str, before: dict[str, int]) -> dict[str, int]:
    now = routes(url)
    return {k: v - before.get(k, 0) for k, v in now.items() if v != before.get(k, 0)}


_CALLS = re.compile(r"(\d+) calls? done, (about )?(\d+) left")


def test_the_progress_total_is_the_calls_the_emulator_counts(emulator_url: str,
                                                             tmp_path: Path) -> None:
    """Without a terminal, a line every interval: once every org is listed, done + left is
    exactly what the emulator counts by the end, usage reads and masked reads included."""
    world = limited_world(emulator_url, CREDENTIALS)
    # An entry named after each org's first key: an adoptable credential, whose masked key
    # is read (one more call there).
    manifest = write_manifest(tmp_path / "m.yaml", [
        {"id": o, "xai": {"credentials": [{"name": "k0", "api_key_env": "K"}] if n else []}}
        for o, n in zip(world.orgs, CREDENTIALS, strict=True)])
    before = routes(emulator_url)
    run = mxsync("audit", "-f", manifest, "--format", "json",
                 env=world.env(K=fake_key(), MXSYNC_PROGRESS_INTERVAL_S="0.1"))
    calls = counted(emulator_url, before)
    assert run.code in (0, 1), run.both
    total = sum(calls.values())
    adoptable = sum(1 for n in CREDENTIALS if n)
    assert calls["GET /credentials/{credential_id}/usage"] == sum(CREDENTIALS)
    assert calls["GET /credentials/{credential_id}"] == adoptable
    assert SETTINGS not in calls
    assert total == 1 + len(CREDENTIALS) + adoptable + sum(CREDENTIALS)
    lines = [line for line in run.err.splitlines() if line.startswith("mxsync: ")]
    said = [(int(m[1]) + int(m[3]), bool(m[2])) for m in map(_CALLS.search, lines) if m]
    exact = [n for n, estimated in said if not estimated]
    checking = [line for line in lines if line.startswith("mxsync: checking: ")]
    assert checking, run.err  # the usage reads outlast an interval at this limit
    assert exact and all(n == total for n in exact[-len(checking):]), lines
    # While orgs are still being listed, their usage reads are counted at the average so far.
    assert any(estimated for _, estimated in said), lines
    assert max(n for n, _ in said) <= total + max(CREDENTIALS) * len(CREDENTIALS), lines


def test_orgs_without_settings_cost_no_settings_call(emulator_url: str, tmp_path: Path) -> None:
    """The Assistant's checks need the org's settings: read where the manifest sets models or
    the Assistant, everywhere with --check-assistant, nowhere else (and stderr says so)."""
    world = limited_world(emulator_url, [1, 1, 1])
    plain = write_manifest(tmp_path / "plain.yaml",
                           [{"id": o, "xai": {"credentials": []}} for o in world.orgs])
    before = routes(emulator_url)
    run = mxsync("audit", "-f", plain, "--format", "json", "--no-usage", env=world.env())
    calls = counted(emulator_url, before)
    assert run.code in (0, 1), run.both
    assert SETTINGS not in calls and calls["GET /credentials"] == 3
    assert "assistant-dangling" not in run.out  # not among the checks that ran
    assert "did not run in 3 orgs" in run.err and "--check-assistant" in run.err

    one_sets_models = write_manifest(tmp_path / "models.yaml", [
        {"id": o, "xai": {"credentials": [], **({"models": ["grok-4-fast"]} if i == 0 else {})}}
        for i, o in enumerate(world.orgs)])
    before = routes(emulator_url)
    run = mxsync("audit", "-f", one_sets_models, "--format", "json", "--no-usage",
                 env=world.env())
    assert counted(emulator_url, before).get(SETTINGS) == 1, run.both
    assert "did not run in 2 orgs" in run.err

    for args in (["-f", plain], ["--org", world.orgs[0], "--org", world.orgs[1]]):
        before = routes(emulator_url)
        run = mxsync("audit", *args, "--format", "json", "--no-usage", "--check-assistant",
                     env=world.env())
        expected = 3 if args[0] == "-f" else 2
        assert counted(emulator_url, before).get(SETTINGS) == expected, run.both
        assert "assistant-dangling" in run.out and "did not run" not in run.err

    before = routes(emulator_url)
    run = mxsync("audit", "--org", world.orgs[0], "--no-usage", env=world.env())
    assert SETTINGS not in counted(emulator_url, before), run.both


def test_a_rate_limit_wait_counts_down_on_a_terminal(emulator_url: str, tmp_path: Path) -> None:
    """Seven calls at three a 3 s window: the calls wait for the window twice, and the line
    on the terminal counts each wait down instead of freezing on its first figure."""
    from tests.test_ratelimit_e2e import _on_a_terminal

    tag = uuid.uuid4().hex[:10]
    ids = [f"org-cd-{tag}-{i}" for i in range(6)]
    token = f"mx_live_cd_{uuid.uuid4().hex}"
    httpx.post(f"{emulator_url}/_emulator/world", json={
        "users": [{"token": token, "id": f"u-{tag}", "email": f"{tag}@example.com",
                   "memberships": {o: "owner" for o in ids},
                   "rate_limit_per_minute": 3, "rate_limit_window_s": 3.0}],
        "orgs": [{"id": o, "name": o} for o in ids]}).raise_for_status()
    manifest = write_manifest(tmp_path / "m.yaml", [{"id": o} for o in ids])
    code, drawn = _on_a_terminal(["audit", "-f", manifest, "--no-usage"],
                                 {"MODULEX_BASE_URL": emulator_url, "MODULEX_API_KEY": token})
    assert code in (0, 1), drawn
    waits = [int(m) for m in re.findall(r"waiting (\d+) s for the rate limit", drawn)]
    assert any(later < earlier for earlier, later in itertools.pairwise(waits)), drawn
    assert token not in drawn
