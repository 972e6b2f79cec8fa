"""Issue #24 at scale: import, plan, apply, audit and pull-request plans of the generated world,
each step's calls against its floor, and its wall time at the real 60 calls a minute.

    python -m benchmarks.scale_run                  # 120 orgs, 60 calls per 10 s: ~12 minutes
    python -m benchmarks.scale_run --orgs 1000 --rate 600 --window-s 10   # ~25 minutes

The world is `benchmarks.scale_world` (the issue's 120 orgs of hand-made keys, or any N).
mxsync runs as a user would, a fresh process per step, against `mxsync emulator` with the
service's per-token limit in a compressed window (`--rate-limit R --rate-window-s W`): the
wall time scales back to 60 calls a minute by R / W (x6 for 60 per 10 s). Calls are counted
at the emulator (`/_emulator/stats`, API routes only, 429s included) around each step; the
checks between steps read the world with a second, unlimited token and are not counted.

Floors, from the contract (N orgs, C credentials the manifest adopts):
- `import --all-orgs`: 1 + 2N. The token's org list once; per org its credential list and
  its settings (import writes `models` and `assistant` as the org has them).
- `plan` of the imported manifest: 1 + N + C. The lists, and each adopt's masked key read
  once (the only way to see that the key set for an entry is the one stored).
- `apply` of it: 1 + N + 2C. The plan's reads, then one PUT per adoption (marking it).
- no-change `plan`: 1 + N.
- `audit --no-usage`: 1 + 2N. The lists and each org's settings: the check for an Assistant
  pinned to a credential that is gone needs every org's settings, whatever the manifest sets.
- `audit`: 1 + 2N + C. And one usage read per credential (`--usage`, the default).
- `plan --target ORG` / `--changed-since REF` of a one-org change: 2 (org list, its list).
- `import --all-orgs --adopt`, every key set: 1 + 2N + 2C (import's reads, one masked read
  and one PUT per adoption).
Target (#24.9): every step within 1.05 x its floor calls.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from benchmarks.ratelimit import write_section  # noqa: E402
from benchmarks.scale_world import World, generate  # noqa: E402

KEYS_ENV = "XAI_KEYS"  # the one key document every entry reads its key from (#24.5)
OWNER = "platform"


def markers(n: int) -> tuple[str, str]:
    """Where the section of an N-org run sits in RESULTS.md: each N replaces its own."""
    return f"<!-- scale-{n}:start -->", f"<!-- scale-{n}:end -->"


TARGET = 1.05


def api_calls(url: str) -> dict[str, int]:
    """Calls answered so far, by route, without the emulator's own control routes."""
    stats = httpx.get(f"{url}/_emulator/stats", timeout=30).json()
    routes = {r: int(c) for r, c in stats["routes"].items()
              if "/_emulator" not in r and "/system/health" not in r}
    routes["429"] = int(stats["statuses"].get("429", 0))
    return routes


@dataclass
class Step:
    name: str
    floor: int
    calls: int
    wall_s: float
    code: int
    routes: dict[str, int]
    rate_limited: int

    @property
    def ratio(self) -> float:
        return self.calls / self.floor if self.floor else float("nan")


@dataclass
class Emulator:
    url: str
    proc: subprocess.Popen[str]

    @classmethod
    def start(cls, fixture: Path, rate: int, window_s: float, latency_ms: float) -> Emulator:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mxsync", "emulator", "--port", "0", "--fixture", str(fixture),
             "--latency-ms", f"{latency_ms:g}", "--rate-limit", str(rate),
             "--rate-window-s", f"{window_s:g}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        url = proc.stdout.readline().strip() if proc.stdout else ""
        if not url.startswith("http"):
            proc.kill()
            raise RuntimeError("the emulator did not start")
        return cls(url, proc)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@dataclass
class Session:
    """One world on one emulator, and the steps run against it."""

    world: World
    url: str
    folder: Path
    steps: list[Step] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # correctness the issue demands
    verbose: bool = False  # a line on stderr per step, for a run of many minutes
    # Waited before each step, uncounted: the token's window empties, as between runs hours
    # apart, so that no step pays for the calls of the one before it.
    settle_s: float = 0.0

    def env(self, keys: str | None = None) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("MODULEX_", "XAI_", "MXSYNC_"))
                and k != "PYTHONDONTWRITEBYTECODE"}  # as a pip install runs: from .pyc
        env = {**base, "MODULEX_API_KEY": self.world.token, "MODULEX_BASE_URL": self.url,
               "NO_COLOR": "1"}
        if keys is not None:
            env[KEYS_ENV] = keys
        return env

    def run(self, name: str, floor: int, args: list[str], *, keys: str | None = None,
            expect: frozenset[int] | set[int] = frozenset({0}),
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        time.sleep(self.settle_s)
        before = api_calls(self.url)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "mxsync", *args], env=self.env(keys),
                              capture_output=True, text=True, cwd=cwd, timeout=7200,
                              stdin=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        after = api_calls(self.url)
        routes = {r: after[r] - before.get(r, 0) for r in after
                  if r != "429" and after[r] != before.get(r, 0)}
        step = Step(name, floor, sum(routes.values()), wall, done.returncode, routes,
                    after["429"] - before["429"])
        self.steps.append(step)
        if self.verbose:
            print(f"{name}: {step.calls:,} calls (floor {floor:,}), {wall:.1f} s, "
                  f"exit {done.returncode}", file=sys.stderr, flush=True)
        if done.returncode not in expect:
            self.failures.append(f"{name}: exit {done.returncode}, expected {sorted(expect)}: "
                                 f"{(done.stderr or done.stdout)[-1500:]}")
        return done

    def live(self) -> dict[str, dict[str, tuple[str, bool]]]:
        """Every org's credentials: id -> (display name, marked as managed), read with the
        observer token (not counted against any step)."""
        from mxsync import ownership

        out: dict[str, dict[str, tuple[str, bool]]] = {}
        with httpx.Client(base_url=self.url, timeout=30,
                          headers={"Authorization": f"Bearer {self.world.observer}"}) as c:
            for org in self.world.orgs:
                r = c.get("/credentials", params={"integration_name": "xai", "limit": 500},
                          headers={"X-Organization-ID": org})
                r.raise_for_status()
                out[org] = {x["credential_id"]: (x["display_name"],
                                                 ownership.has_marker(x["credentials_metadata"]))
                            for x in r.json()["credentials"]}
        return out


def key_document(manifest: dict[str, Any], world: World) -> str:
    """The one secret: a dotenv line per entry, its field set to the key of the credential
    its adopt_id names."""
    lines = []
    for org in manifest["orgs"]:
        for entry in (org.get("xai") or {}).get("credentials") or ():
            lines.append(f"{entry['api_key_field']}={world.key_of[entry['adopt_id']]}")
    return "\n".join(lines) + "\n"


def entries_of(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for o in manifest["orgs"] for e in (o.get("xai") or {}).get("credentials") or ()]


def names_and_ids(live: dict[str, dict[str, tuple[str, bool]]]) -> dict[str, dict[str, str]]:
    return {o: {i: name for i, (name, _) in creds.items()} for o, creds in live.items()}


def manifest_steps(s: Session) -> None:
    """import, the plan of the imported manifest (only adopts), apply, a no-change plan,
    audit (with and without usage), and the two pull-request plans of a one-org change."""
    adopted = adoption_steps(s)
    if adopted is None:
        return
    path, manifest, keys = adopted
    n = len(s.world.orgs)
    c = len(entries_of(manifest))
    s.run("audit", 1 + 2 * n + c, ["audit", "-f", str(path), "--format", "json"], keys=keys,
          expect={0, 1})  # 1: error-level findings (expired keys, orgs without a default)
    s.run("audit --no-usage", 1 + 2 * n, ["audit", "-f", str(path), "--no-usage", "--format", "json"],
          keys=keys, expect={0, 1})
    pull_request_steps(s, path, manifest, keys)


def adoption_steps(s: Session) -> tuple[Path, dict[str, Any], str] | None:
    """import (no keys yet), then with every key set: the plan of the imported manifest,
    which must be only adopts; apply, which must rename and re-create nothing; a no-change
    plan. Gives the manifest, as written and as data, and the key document."""
    world, n = s.world, len(s.world.orgs)
    path = s.folder / "mxsync.yaml"
    s.run("import --all-orgs", 1 + 2 * n,
          ["import", "--all-orgs", "--owner", OWNER, "-o", str(path), "--force",
           "--key-document-env", KEYS_ENV])
    if not path.exists():
        s.failures.append("import wrote no manifest")
        return None
    manifest = yaml.safe_load(path.read_text())
    entries = entries_of(manifest)
    c = len(entries)
    if c != world.credentials:
        s.failures.append(f"import: {c} entries for {world.credentials} live credentials")
    if len({e["adopt_id"] for e in entries}) != c:
        s.failures.append("import: two entries name the same live credential")
    keys = key_document(manifest, world)
    before = s.live()

    plan = s.run("plan of the imported manifest", 1 + n + c,
                 ["plan", "-f", str(path), "--json"], keys=keys)
    try:
        actions = [a for r in json.loads(plan.stdout)["resource_changes"]
                   for a in r["mxsync_actions"]]
    except (ValueError, KeyError):
        actions = []
    wrong = {a: actions.count(a) for a in set(actions) if a != "adopt"}
    if wrong or actions.count("adopt") != c:
        s.failures.append(f"plan of the imported manifest: {actions.count('adopt')} adopts of "
                          f"{c}, and {wrong or 'nothing else'}")

    s.run("apply (the adoptions)", 1 + n + 2 * c,
          ["apply", "-f", str(path), "--auto-approve"], keys=keys)
    after = s.live()
    if names_and_ids(after) != names_and_ids(before):
        s.failures.append("apply changed live ids or display names: "
                          + describe_difference(names_and_ids(before), names_and_ids(after)))
    unmarked = [(o, i) for o, creds in after.items() for i, (_, m) in creds.items() if not m]
    if unmarked:
        s.failures.append(f"apply left {len(unmarked)} credentials unadopted, e.g. {unmarked[:3]}")

    s.run("no-change plan", 1 + n, ["plan", "-f", str(path), "--detailed-exitcode"], keys=keys)
    return path, manifest, keys


def pull_request_steps(s: Session, path: Path, manifest: dict[str, Any], keys: str) -> None:
    """A one-org change (a label on one entry) in a git repository, planned with --target
    and with --changed-since the base commit."""
    repo = s.folder / "repo"
    repo.mkdir(exist_ok=True)
    work = repo / "mxsync.yaml"
    work.write_text(path.read_text())
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    for args in (["init", "-q"], ["add", "mxsync.yaml"], ["commit", "-q", "-m", "base"]):
        subprocess.run([*git, *args], cwd=repo, check=True, capture_output=True)
    org = next(o for o in manifest["orgs"] if (o.get("xai") or {}).get("credentials"))
    org["xai"]["credentials"][0].setdefault("metadata", {})["team"] = "platform"
    work.write_text(yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True))
    s.run("plan --target ORG (one-org change)", 2,
          ["plan", "-f", "mxsync.yaml", "--target", org["id"], "--detailed-exitcode"],
          keys=keys, expect={2}, cwd=repo)
    s.run("plan --changed-since REF (one-org change)", 2,
          ["plan", "-f", "mxsync.yaml", "--changed-since", "HEAD", "--detailed-exitcode"],
          keys=keys, expect={2}, cwd=repo)


def adopt_step(s: Session, keys: str) -> None:
    """`import --all-orgs --adopt` on a fresh world, every key set in one document."""
    n, c = len(s.world.orgs), s.world.credentials
    before = s.live()
    s.run("import --all-orgs --adopt", 1 + 2 * n + 2 * c,
          ["import", "--all-orgs", "--adopt", "--owner", OWNER, "--key-document-env", KEYS_ENV,
           "-o", str(s.folder / "adopted.yaml"), "--force"], keys=keys)
    after = s.live()
    if names_and_ids(after) != names_and_ids(before):
        s.failures.append("import --adopt changed live ids or display names: "
                          + describe_difference(names_and_ids(before), names_and_ids(after)))
    unmarked = sum(1 for creds in after.values() for _, m in creds.values() if not m)
    if unmarked:
        s.failures.append(f"import --adopt left {unmarked} of {c} credentials unadopted")


def describe_difference(before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]) -> str:
    out = []
    for org in before:
        b, a = before[org], after.get(org, {})
        out += [f"{org}: {b[i]!r} gone" for i in b if i not in a]
        out += [f"{org}: {a[i]!r} new" for i in a if i not in b]
        out += [f"{org}: {b[i]!r} -> {a[i]!r}" for i in b if i in a and a[i] != b[i]]
    return "; ".join(out[:10]) + (f" (and {len(out) - 10} more)" if len(out) > 10 else "")


def run_world(world: World, folder: Path, *, rate: int, window_s: float, latency_ms: float,
              start: Callable[..., Emulator] = Emulator.start) -> tuple[list[Step], list[str]]:
    """Every step on `world`: the manifest steps on one emulator, `import --adopt` on a
    second, fresh one (the same fixture), so it adopts what the first run adopted by apply."""
    fixture = world.write(folder / "fixture.json")
    settle = window_s + 0.5 if rate else 0.0
    first = start(fixture, rate, window_s, latency_ms)
    try:
        s = Session(world, first.url, folder, verbose=True, settle_s=settle)
        manifest_steps(s)
    finally:
        first.stop()
    path = folder / "mxsync.yaml"
    if path.exists():
        second = start(fixture, rate, window_s, latency_ms)
        try:
            s2 = Session(world, second.url, folder, verbose=True, settle_s=settle)
            # The first import's manifest names each field: the same world, the same names.
            original = yaml.safe_load(path.read_text())
            adopt_step(s2, key_document(original, world))
        finally:
            second.stop()
        s.steps += s2.steps
        s.failures += s2.failures
    return s.steps, s.failures


# -- the report ------------------------------------------------------------------------------
def clock(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def rate_floor_s(calls: int, per_window: int = 60, window_s: float = 60.0) -> float:
    """The earliest the last of `calls` calls can go out at a limit (the real one by
    default: 60 a minute), one token, its window empty at the start."""
    return math.floor(max(calls - 1, 0) / per_window) * window_s


def real_estimate_s(step: Step, rate: int, window_s: float) -> float:
    """The step at the real limit if what it spent above its compressed rate floor (start-up,
    CPU, waking after each window's whole-second reset) stays the same in seconds: a
    second reading of the wall, since most of that excess does not grow with the window."""
    excess = max(0.0, step.wall_s - rate_floor_s(step.floor, rate, window_s))
    return rate_floor_s(step.floor) + excess


def section(world: World, steps: list[Step], failures: list[str], rate: int, window_s: float,
            machine: str) -> str:
    scale = rate / window_s  # real seconds per measured second, at 60 calls a minute
    n, c = len(world.orgs), world.credentials
    k = world.counts
    start, end = markers(n)
    lines = [start, f"## Issue #24 at scale: {n:,} orgs of hand-made keys "
             f"({datetime.now(UTC):%Y-%m-%d})", "",
             f"`python -m benchmarks.scale_run --orgs {n} --rate {rate} --window-s {window_s:g}`. "
             f"Machine: {machine}.", "",
             f"World (`benchmarks/scale_world.py`, seed 24): {n:,} orgs, {c:,} credentials, "
             f"{k['expired']} expired, {k['shared_key']} holding one key, {k['no_default']} orgs "
             f"without a default; `test` twice in {k['test_twice']} orgs, `Prod`/`prod` in "
             f"{k['prod_case']}, `Ünïcødé kéy` in {k['unicode']}, a blank name in {k['blank']}, "
             f"a 300-character name in {k['long']}. One admin token at {rate} calls per "
             f"{window_s:g} s (the service's 60 a minute, {scale:g}x faster); wall times are "
             f"scaled back by {scale:g}. Every key comes from one dotenv document (`{KEYS_ENV}`). "
             "Each step starts with the token's window empty (the run waits one window between "
             "steps, not counted), as for runs hours apart.",
             "",
             "| step | calls | floor | calls/floor | 429s | exit | wall measured | "
             f"its rate floor ({rate}/{window_s:g} s) | wall x{scale:g} (60/min) | "
             "60/min floor + measured excess | rate floor at 60/min |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for st in steps:
        mark = "" if st.ratio <= TARGET else " **over**"
        lines.append(f"| `{st.name}` | {st.calls:,} | {st.floor:,} | {st.ratio:.2f}{mark} | "
                     f"{st.rate_limited} | {st.code} | {st.wall_s:.1f} s | "
                     f"{rate_floor_s(st.floor, rate, window_s):.0f} s | "
                     f"{clock(st.wall_s * scale)} | {clock(real_estimate_s(st, rate, window_s))} | "
                     f"{clock(rate_floor_s(st.floor))} |")
    lines += ["", "Calls by route, per step:", ""]
    for st in steps:
        lines.append(f"- `{st.name}`: " + ", ".join(f"{r} {v:,}" for r, v in
                                                  sorted(st.routes.items())))
    over = [st for st in steps if st.ratio > TARGET]
    lines += ["", "Target (every step within 1.05 x its floor calls): "
              + ("**met**" if not over else
                 "**missed** by " + ", ".join(f"`{st.name}` ({st.ratio:.2f}x)" for st in over)),
              "Correctness (the imported manifest plans only adopts; apply and `import --adopt` "
              "rename nothing and re-create nothing; every credential adopted): "
              + ("**held**" if not failures else "**failed**: " + " / ".join(failures)),
              "", FLOORS.strip(), end]
    return "\n".join(lines) + "\n"


FLOORS = """
How the floors are derived (N orgs, C credentials the manifest adopts; the contract's
routes): the token's org list once (`GET /auth/me/organizations`); one `GET /credentials`
per org (pages of 500); `import` also reads each org's settings once (it writes `models` and
`assistant` as the org has them); adopting reads each credential's masked key once (`GET
/credentials/{id}?include_masked=true`, the only way to see the key set for an entry is the
one stored) and marks it once (`PUT`); `audit` reads each org's settings once (its check
for an Assistant pinned to a credential that is gone needs them in every org, whatever the
manifest sets) and, with usage, each credential's usage once. So: import 1 + 2N; plan of
the imported manifest 1 + N + C; its apply 1 + N + 2C; no-change plan 1 + N; `audit
--no-usage` 1 + 2N; `audit` 1 + 2N + C; a one-org `--target` or
`--changed-since` plan 2; `import --adopt` 1 + 2N + 2C.

Wall times: "its rate floor" is when the floor's last call may go out at the compressed limit,
floor((calls - 1) / R) x W with the window empty at the start; "rate floor at 60/min" the same
at the real limit. The issue asks for the wall scaled back by the compression ("wall xk"), but
that also multiplies what does not grow with the window: start-up (~1 s on this shared
machine), CPU, and the wake-up after each window (mxsync learns the window's end from
`X-RateLimit-Reset`, in whole seconds, and wakes 0.25 s after it: up to ~1.25 s a window).
"60/min floor + measured excess" keeps that excess in seconds instead; the truth at the real
limit lies between the two, near the second (the issue measured the 120-org no-change plan at
2 min 02 s against a 2 min floor). Where the measured wall is far above its compressed rate
floor the run was bound by CPU, not by the limit, and neither scaled column says much.
"""


def main() -> None:
    from benchmarks.run import machine

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orgs", type=int, default=120)
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--rate", type=int, default=60, help="calls per window per token")
    parser.add_argument("--window-s", type=float, default=10.0, help="the compressed window")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"),
                        help="write the section here ('-' for stdout only)")
    args = parser.parse_args()
    world = generate(args.orgs, args.seed)
    folder = Path(tempfile.mkdtemp(prefix="mxsync-bench-scale-"))
    steps, failures = run_world(world, folder, rate=args.rate, window_s=args.window_s,
                                latency_ms=args.latency_ms)
    text = section(world, steps, failures, args.rate, args.window_s, machine())
    if args.out != "-":
        write_section(Path(args.out), text, *markers(args.orgs))
    print(text)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
