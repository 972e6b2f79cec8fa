"""A plan whose token is rate limited, end to end: more orgs than the limit allows in one
window still plans with exit 0 and (almost) no 429s; on a terminal the progress line counts
calls and says when the limit sets the pace; --debug says when and why mxsync waits.
Short windows (the emulator's per-user `rate_limit_window_s`) keep it quick; the timed
version against the real 60 s window is benchmarks/ratelimit.py."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.cli_helpers import mxsync, write_manifest

LIMIT = 5  # calls per window
WINDOW_S = 1.0
ORGS = 12  # N > R: 13 calls need three windows


@dataclass
class LimitedWorld:
    url: str
    token: str
    orgs: list[str]
    manifest: str

    def env(self) -> dict[str, str]:
        return {"MODULEX_BASE_URL": self.url, "MODULEX_API_KEY": self.token}


def limited_world(url: str, tmp_path: Path, orgs: int = ORGS) -> LimitedWorld:
    """One token, owner of `orgs` empty orgs, limited to LIMIT calls per WINDOW_S."""
    tag = uuid.uuid4().hex[:10]
    ids = [f"org-rl-{tag}-{i:02d}" for i in range(orgs)]
    token = f"mx_live_rl_{uuid.uuid4().hex}"
    httpx.post(f"{url}/_emulator/world", json={
        "users": [{"token": token, "id": f"u-{tag}", "email": f"{tag}@example.com",
                   "memberships": {o: "owner" for o in ids},
                   "rate_limit_per_minute": LIMIT, "rate_limit_window_s": WINDOW_S}],
        "orgs": [{"id": o, "name": o} for o in ids]}).raise_for_status()
    manifest = write_manifest(tmp_path / "m.yaml", [{"id": o} for o in ids])
    return LimitedWorld(url, token, ids, manifest)


def statuses(url: str) -> dict[str, int]:
    return dict(httpx.get(f"{url}/_emulator/stats").json()["statuses"])


def test_a_plan_over_the_limit_finishes_with_few_429s(emulator_url: str, tmp_path: Path) -> None:
    world = limited_world(emulator_url, tmp_path)
    before = statuses(emulator_url)
    run = mxsync("plan", "-f", world.manifest, env=world.env())
    after = statuses(emulator_url)
    assert run.code == 0, run.both
    answered = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    assert answered.get("200", 0) == ORGS + 1  # every org read once, and the org list
    assert answered.get("429", 0) <= 1  # paced by the headers, not by being refused


def test_debug_says_when_and_why_it_waits(emulator_url: str, tmp_path: Path) -> None:
    world = limited_world(emulator_url, tmp_path)
    run = mxsync("--debug", "plan", "-f", world.manifest, env=world.env())
    assert run.code == 0, run.both
    waits = [line for line in run.err.splitlines() if "waiting" in line]
    assert waits, run.err
    assert any("calls a minute is spent until the window resets" in w or "429" in w
               for w in waits)
    assert world.token not in run.both


def _on_a_terminal(args: list[str], env: dict[str, str], timeout_s: float = 60) -> tuple[int, str]:
    """Run mxsync with stderr on a pseudo-terminal; return its exit code and what it drew."""
    master, slave = pty.openpty()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MODULEX_", "XAI_"))}
    proc = subprocess.Popen([sys.executable, "-m", "mxsync", *args], env={**base, **env},
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    drawn = b""
    while True:
        ready, _, _ = select.select([master], [], [], timeout_s)
        if not ready:
            proc.kill()
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the other side closed: the process is done
            break
        if not chunk:
            break
        drawn += chunk
    os.close(master)
    return proc.wait(timeout=timeout_s), drawn.decode("utf-8", "replace")


def test_the_progress_line_counts_calls_and_says_the_limit_sets_the_pace(
        emulator_url: str, tmp_path: Path) -> None:
    world = limited_world(emulator_url, tmp_path)
    code, drawn = _on_a_terminal(["plan", "-f", world.manifest], world.env())
    assert code == 0, drawn
    frames = [f.replace("\x1b[K", "") for f in drawn.replace("\n", "\r").split("\r") if f]
    reading = [f for f in frames if f.startswith("Reading the live state:")]
    assert reading[-1].startswith(f"Reading the live state: {ORGS}/{ORGS} orgs; ")
    assert f"{ORGS + 1} calls done, 0 left" in reading[-1]
    assert any(" left" in f and ("to go at the rate limit" in f or "for the rate limit" in f)
               for f in reading), reading
    assert world.token not in drawn


def test_progress_line_phases() -> None:
    """Throttled redraws while reading; a newline when reading ends; afterwards a line only
    while announced calls remain (an audit's usage reads), never for unannounced ones (an
    apply's steps, whose own lines must not be interleaved)."""
    import io

    from mxsync.api import CallProgress
    from mxsync.render.progress import ReadingProgress

    now = [0.0]
    out = io.StringIO()
    line = ReadingProgress(out, clock=lambda: now[0])
    line.calls(CallProgress(done=1, expected=11, eta_s=None))
    line.calls(CallProgress(done=2, expected=11, eta_s=None))  # within 0.1 s: not drawn
    now[0] = 1.0
    line.calls(CallProgress(done=3, expected=11, eta_s=95.0))
    line.calls(CallProgress(done=3, expected=11, eta_s=95.0, waiting_s=12.4))  # always drawn
    now[0] = 2.0
    line(10, 10)
    frames = out.getvalue().split("\r")[1:]
    assert frames == [
        "Reading the live state: 1 call done, 10 left\x1b[K",
        "Reading the live state: 3 calls done, 8 left, about 1 min 35 s to go at the rate "
        "limit\x1b[K",
        "Reading the live state: 3 calls done, 8 left, waiting 12 s for the rate limit\x1b[K",
        # a second later, the wait is counted down
        "Reading the live state: 10/10 orgs; 3 calls done, 8 left, waiting 11 s for the rate "
        "limit\x1b[K\n",
    ]
    out.truncate(0)
    out.seek(0)
    now[0] = 3.0
    line.calls(CallProgress(done=12, expected=11, eta_s=None))  # not announced: nothing
    assert out.getvalue() == ""
    line.calls(CallProgress(done=12, expected=15, eta_s=None))
    now[0] = 4.0
    line.calls(CallProgress(done=15, expected=15, eta_s=None))
    assert out.getvalue() == ("\rChecking: 12 calls done, 3 left\x1b[K"
                              "\rChecking: 15 calls done, 0 left\x1b[K\n")


def test_a_rate_limit_wait_on_a_terminal_counts_down_until_a_call_answers() -> None:
    """`waiting 61 s for the rate limit` is redrawn as time passes (the ticker calls `tick`
    each second), not frozen until the next call; an answer ends the countdown."""
    import io

    from mxsync.api import CallProgress
    from mxsync.render.progress import ReadingProgress

    now = [0.0]
    out = io.StringIO()
    line = ReadingProgress(out, clock=lambda: now[0], tick_s=None)
    line(0, 40)
    line.calls(CallProgress(done=60, expected=200, eta_s=150.0, waiting_s=61.0))
    for now[0] in (1.0, 2.0, 30.0, 60.4):
        line.tick()
    frames = [f.replace("\x1b[K", "") for f in out.getvalue().split("\r") if f]
    waits = [f.split("waiting ")[1].split(" for")[0] for f in frames if "waiting" in f]
    assert waits == ["61 s", "60 s", "59 s", "31 s", "1 s"], frames
    now[0] = 61.0
    line.calls(CallProgress(done=61, expected=200, eta_s=140.0))  # the window reset
    drawn = out.getvalue()
    now[0] = 62.0
    line.tick()  # nothing to count down any more: no redraw
    assert out.getvalue() == drawn and "waiting" not in drawn.split("\r")[-1]
    assert out.getvalue().split("\r")[-1].startswith("Reading the live state: 0/40 orgs; 61 calls")


def test_a_rate_limit_wait_in_a_log_says_how_long_is_left() -> None:
    """Without a terminal, the periodic line says how much of the wait is left at the moment
    it is printed, not the whole wait as it was when it began."""
    from mxsync.api import CallProgress
    from mxsync.render.progress import ReadingLog

    now = [100.0]
    log = ReadingLog(clock=lambda: now[0], heartbeat=False)
    log(3, 120)
    log.calls(CallProgress(done=64, expected=453, eta_s=400.0, waiting_s=58.0))
    now[0] = 120.0
    assert log.text() == ("reading the live state: 3/120 orgs; 64 calls done, 389 left, "
                          "waiting 38 s for the rate limit")
    now[0] = 150.0
    assert log.text() is not None and "waiting 8 s for the rate limit" in log.text()  # type: ignore[operator]


def test_an_overtaken_answer_does_not_raise_the_estimate() -> None:
    """Two calls in flight under a limit of 5: the server counts A (4 left) then B (3 left),
    but B's answer arrives first. Believing A's late '4' would let 4 more calls go where the
    server has room for 3: a 429. Within one window the estimate may only fall."""
    import asyncio

    from mxsync.ratelimit import TokenLimiter

    wall = 1_000_000.0
    reset = {"x-ratelimit-limit": "5", "x-ratelimit-reset": str(int(wall) + 60)}

    def release(limiter: TokenLimiter, permit: object) -> None:
        try:  # a limiter whose acquire hands out a permit wants it back
            limiter.release(permit, True)  # type: ignore[call-arg, arg-type]
        except TypeError:
            limiter.release(True)  # type: ignore[call-arg, arg-type]

    async def scenario() -> int:
        limiter = TokenLimiter("t", clock=lambda: 0.0, wall=lambda: wall)
        probe = await limiter.acquire()  # the first call learns the window alone
        limiter.observe({**reset, "x-ratelimit-remaining": "5"})
        release(limiter, probe)
        a = await limiter.acquire()
        b = await limiter.acquire()
        limiter.observe({**reset, "x-ratelimit-remaining": "3"})  # B's answer first
        release(limiter, b)
        limiter.observe({**reset, "x-ratelimit-remaining": "4"})  # then A's, overtaken
        release(limiter, a)
        sent = 0
        while True:  # how many more go now, without waiting for the window?
            try:
                await asyncio.wait_for(limiter.acquire(), timeout=0.05)
            except TimeoutError:
                return sent
            sent += 1

    assert asyncio.run(scenario()) <= 3
