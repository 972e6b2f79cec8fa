"""How long the example policies (examples/policies) take to judge a 1,000-org plan.

    python -m benchmarks.policy [--orgs 1000] [--repeat 3] [--bad-every 100]

The plan has 4 changes per org (a pasted-key create, an update, a delete, a minted
create), built with mxsync's own plan model and turned into the document `mxsync show
--format json` prints. One org in --bad-every breaks every rule of the examples (a
pasted key in a `prod-` org, untested, through a gateway base URL, an unlabelled delete,
a new default); the others break none. --bad-every 1 is the worst case: every org denied. The time is the
whole `evaluate`: starting the worker process, loading regopy, compiling the policies,
evaluating them all together and each file alone (for the file names), and the answer.
Target (#23): under 1 s at 1,000 orgs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from mxsync.plan import Change, OrgPlan, Plan, Reason
from mxsync.policy.discovery import read_policies
from mxsync.policy.evaluate import evaluate
from mxsync.render.json import plan_to_json
from mxsync.secrets import KeySource

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "policies"


def big_plan(orgs: int, bad_every: int = 100) -> Plan:
    plans = []
    for i in range(orgs):
        bad = i % bad_every == 0
        org = f"prod-{i:05d}" if bad else f"org-{i:05d}"
        base = "https://gateway.example/v1" if bad else "https://api.x.ai/v1"
        changes = (
            Change("create", org, "pasted", Reason("absent"), key=KeySource(env=f"XAI_KEY_{i}"),
                   fingerprint="sha256:00", base_url=base, make_default=bad, test=not bad,
                   after={"display_name": "pasted", "is_default": bad, "base_url": base,
                          "labels": {"team": "ml"}, "api_key": "(sensitive)"}),
            Change("update", org, "kept", Reason("labels-differ"), credential_id=f"c-{i}-k",
                   before={"display_name": "kept", "labels": {"a": "1"}, "base_url": None},
                   after={"labels": {"a": "2"}}),
            Change("delete", org, "old", Reason("pruned"), credential_id=f"c-{i}-o",
                   before={"display_name": "old", "is_default": False,
                           "labels": {} if bad else {"allow-delete": "true"}}),
            Change("create", org, "minted", Reason("absent"), mint={"team_id": "t"},
                   after={"display_name": "minted", "is_default": False, "base_url": None,
                          "labels": {}, "api_key": "(minted at xAI)"}),
        )
        plans.append(OrgPlan(org=org, token_env="MODULEX_API_KEY", changes=changes))
    return Plan(owner="bench", orgs=tuple(plans))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orgs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bad-every", type=int, default=100)
    args = parser.parse_args()
    document = plan_to_json(big_plan(args.orgs, args.bad_every))
    size = len(json.dumps(document))
    policies = read_policies([str(EXAMPLES)])
    times, result = [], None
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = evaluate(policies, ("main",), document)
        times.append(time.perf_counter() - start)
    assert result is not None
    print(f"orgs={args.orgs} bad_every={args.bad_every} resource_changes={len(document['resource_changes'])} "
          f"input={size / 1e6:.1f} MB policies={len(policies)} "
          f"denies={len(result.denies)} warnings={len(result.warnings)}")
    print(f"evaluate: median {statistics.median(times):.3f} s, min {min(times):.3f} s, "
          f"max {max(times):.3f} s over {args.repeat} runs (target < 1 s)")


if __name__ == "__main__":
    main()
