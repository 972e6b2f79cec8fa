"""How fast `redact` is with many registered secrets (thousands of keys in a big manifest).

    python -m benchmarks.redaction

Prints, per number of registered keys, the time to register them all, the first
scan after registering (which builds the run regex), and the mean time to
redact a 2 KB error text and a 1 MB report that hold no secret and one that
does, and a plan JSON document of 5,000 orgs (about 4 MB, what `plan --json` and
the saved plan file put through the writer). Redaction runs on every error
message, every debug log line and every byte printed or written, so a scan must
stay far below a round trip (milliseconds)
even at N = 20,000.
"""

from __future__ import annotations

import base64
import json
import random
import string
import time

from mxsync.secrets import isolated_registry, redact, register

ALPHABET = string.ascii_letters + string.digits + "_"


def _key(rng: random.Random) -> str:
    return "xai-" + "".join(rng.choice(ALPHABET) for _ in range(80))


def _mean_s(text: str, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        redact(text)
    return (time.perf_counter() - start) / repeat


def main() -> None:
    rng = random.Random(7)
    line = "ModuleX API POST /credentials for org org-a answered 422: mx_live_... xai-ab12...wxyz "
    small = (line * 30)[:2000]
    big = (line * 13000)[:1_000_000]
    plan = json.dumps({"changes": [
        {"org": f"org-{i:05d}", "action": "update", "credential": f"cred-{i}",
         "before": {"display_name": f"team {i}", "labels": {"team": "payments", "env": "prod"}},
         "after": {"display_name": f"team {i}", "labels": {"team": "payments", "env": "staging"}},
         "fingerprint": f"sha256:{i:016x}"} for i in range(5000)]}, indent=2)
    print(f"plan JSON of 5,000 orgs: {len(plan) / 1e6:.1f} MB")
    print(f"{'keys':>7} {'register':>10} {'1st scan':>10} {'2 KB':>9} {'2 KB+key':>9} "
          f"{'1 MB':>8} {'plan':>8}")
    for n in (100, 1_000, 5_000, 20_000):
        keys = [_key(rng) for _ in range(n)]
        with isolated_registry():
            start = time.perf_counter()
            for key in keys:
                register(key)
            registering = time.perf_counter() - start
            first = _mean_s(small, 1)
            leaky = small[:1800] + keys[n // 2][:150]
            if keys[n // 2][:20] in redact(leaky):
                raise SystemExit("a key prefix survived redaction")
            for echoed in (keys[n // 3].upper(), base64.b64encode(keys[n // 3].encode()).decode()):
                if echoed[8:24] in redact(f"echo: {echoed}"):
                    raise SystemExit("an echoed form of a key survived redaction")
            print(f"{n:>7} {registering * 1e3:>8.1f}ms {first * 1e3:>8.2f}ms "
                  f"{_mean_s(small, 200) * 1e6:>7.0f}us "
                  f"{_mean_s(leaky, 200) * 1e6:>7.0f}us "
                  f"{_mean_s(big, 3) * 1e3:>6.1f}ms {_mean_s(plan, 2) * 1e3:>6.0f}ms")


if __name__ == "__main__":
    main()
