"""The one wording of a key test's result, for apply's steps and audit's findings alike.

A key test says one of five things (`keytest.Verdict`); each needs its own action, so the
words say which it was, and "invalid" is never said of a key that was merely busy or
unreachable. Apply and audit add only their own advice (what was kept, what to do).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mxsync.keytest import KeyTestResult

_REFUSED_WHY = {
    "no-credits": "its xAI team has no credits left or reached its monthly spending limit",
    "disabled": "the key or its xAI team is disabled or blocked",
    None: "the key is disabled or its xAI team has no credits",
}
_KEPT = "nothing was stored for this entry"
_APPLY_FIX = {
    "rejected": "put a working key there and apply again",
    "rate-limited": "apply again later (or pass --skip-tests)",
    "unreachable": "apply again later",
    "could-not-test": "apply again later (or pass --skip-tests)",
}
_APPLY_REFUSED_FIX = {
    "no-credits": "add credits or raise the limit in the xAI console, then apply again",
    "disabled": "enable it in the xAI console or use another key, then apply again",
    None: "check the key and the team's credits in the xAI console, then apply again",
}
_AUDIT_FIX = {
    "rejected": "rotate it: put a working key in the manifest's variable and apply",
    "refused": "fix it in the xAI console (credits, spending limit, or enable the key), or "
               "rotate to another key",
}


def key_test_words(p: dict[str, Any], key: str = "the key") -> str:
    """What the test found and what it means about the key, as one sentence that starts
    "key test ..." (`key` names the key: "the key in $XAI_KEY", "the stored key"; never the
    key itself). Apply and audit both say it so, each adding only its own advice."""
    verdict, status = p.get("verdict"), p.get("status_code")
    said = f" (xAI said: {p['reason']})" if p.get("reason") else ""
    if verdict == "valid":
        return f"key test passed: {key} works"
    if verdict == "rejected":
        return (f"key test failed: xAI answered {status or 'no status'}, rejected: {key} is "
                f"wrong, unknown or deleted{said}")
    if verdict == "refused":
        why = _REFUSED_WHY.get(p.get("refusal"), _REFUSED_WHY[None])
        return f"key test failed: xAI answered {status or 403}, refused: {key} is real but {why}{said}"
    if verdict == "rate-limited":
        return (f"key test could not be made now: xAI answered {status or 429}, rate-limited: "
                f"{key} is over its own xAI rate limit, which says nothing about the key{said}")
    if verdict == "unreachable":
        code = f" (HTTP {status})" if status else ""
        return (f"key test could not be made now: unreachable: xAI could not be reached{code} "
                f"to test {key}{said}")
    answered = f" answered {status}" if status else " failed"
    detail = f" ({p['reason']})" if p.get("reason") else ""
    return f"key test could not be made: ModuleX's key test{answered}{detail} for {key}"


def describe(result: KeyTestResult) -> str:
    """One sentence for a key test's result."""
    from mxsync.outcomes import key_test_params

    return key_test_words(key_test_params(result))


def apply_key_test_message(p: dict[str, Any]) -> str:
    """A failed key test before a create: what it was, that nothing was stored, what to do."""
    key = f"the key in {p['source']}" if p.get("source") else "the minted key"
    verdict = p.get("verdict")
    fix = (_APPLY_REFUSED_FIX.get(p.get("refusal"), _APPLY_REFUSED_FIX[None])
           if verdict == "refused" else _APPLY_FIX.get(str(verdict), "apply again later"))
    return f"{key_test_words(p, key)}; {_KEPT}; {fix}"


def audit_key_test_message(p: dict[str, Any]) -> str:
    """A stored key's test, as audit's advice."""
    fix = _AUDIT_FIX.get(str(p.get("verdict")), "this says nothing about the key; try again later")
    return f"{key_test_words(p, 'the stored key')}; {fix}"
