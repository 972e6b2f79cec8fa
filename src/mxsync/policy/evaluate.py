"""Judge one JSON document with the policies: all files of the run together, then each
file alone to say which file a message comes from.

The engine runs in a worker process (mxsync.policy.worker). When it dies, each file is
tried alone in its own worker so the error can name the policy that kills it."""

from __future__ import annotations

from typing import Any

from mxsync.errors import MxsyncError
from mxsync.policy import conventions
from mxsync.policy.discovery import PolicyFile
from mxsync.policy.model import PolicyMessage, PolicyResult
from mxsync.policy.worker import EngineError, WorkerCrashed, run

CRASH_HINT = ("rego-cpp (regopy) dies on some constructs, e.g. `with input as {...}` over a "
              "rule that reads input; rewrite that rule, or move tests to *_test.yaml case files")


def engine_failure(error: EngineError, fallback: str) -> MxsyncError:
    """A policy that does not parse or fails while evaluating: FILE:LINE: what."""
    where = error.file or fallback
    if error.line is not None:
        where = f"{where}:{error.line}"
    return MxsyncError(f"policy {where}: {error.message}",
                       hint="fix the policy (the engine gave no line)" if error.line is None
                       else "fix the policy at that line")


def _request(policies: list[PolicyFile], document: Any, queries: list[str]) -> dict[str, Any]:
    groups = [{"modules": list(range(len(policies))), "queries": queries}]
    if len(policies) > 1:
        groups += [{"modules": [i], "queries": queries} for i in range(len(policies))]
    return {"modules": [[p.path, p.source] for p in policies], "input": document,
            "groups": groups}


def _who_crashes(policies: list[PolicyFile], document: Any, queries: list[str]) -> list[str]:
    """The files that kill the engine alone; all of them when none does alone."""
    if len(policies) == 1:
        return [policies[0].path]
    culprits = []
    for policy in policies:
        try:
            run({"modules": [[policy.path, policy.source]], "input": document,
                 "groups": [{"modules": [0], "queries": queries}]})
        except WorkerCrashed:
            culprits.append(policy.path)
    return culprits or [p.path for p in policies]


def evaluate(policies: list[PolicyFile], namespaces: tuple[str, ...], document: Any) -> PolicyResult:
    """The deny/violation/warn messages of `namespaces` for `document`, each with its file."""
    policies = [p for p in policies if not p.is_test]
    queries = conventions.queries(namespaces)
    try:
        groups = run(_request(policies, document, queries))
    except WorkerCrashed as crash:
        names = ", ".join(_who_crashes(policies, document, queries))
        raise MxsyncError(f"{crash.detail} while evaluating policy {names}; nothing was judged",
                          hint=CRASH_HINT) from None
    together = groups[0]
    if "error" in together:
        error = EngineError.from_json(together["error"])
        if error.file is None:  # a failure while evaluating: find the file it is in
            for policy, alone in zip(policies, groups[1:], strict=False):
                if "error" in alone and EngineError.from_json(alone["error"]).message == error.message:
                    error = EngineError(error.message, policy.path, error.line)
                    break
        raise engine_failure(error, ", ".join(p.path for p in policies))
    said_by: dict[tuple[str, str], list[str]] = {}
    for policy, alone in zip(policies, groups[1:], strict=False):
        for query_text, value in (alone.get("results") or {}).items():
            for msg, _ in conventions.messages_of(value):
                said_by.setdefault((query_text, msg), []).append(policy.path)
    messages: list[PolicyMessage] = []
    for namespace in namespaces:
        for rule, kind in conventions.RULES.items():
            query_text = conventions.query(namespace, rule)
            value = together["results"].get(query_text)
            if value is None:
                continue
            for msg, details in conventions.messages_of(value):
                files = said_by.get((query_text, msg)) or [p.path for p in policies]
                messages.append(PolicyMessage(kind, namespace, rule, msg, tuple(files), details))
    return PolicyResult(files=tuple(p.path for p in policies), namespaces=namespaces,
                        messages=tuple(sorted(messages, key=lambda m: (m.kind != "deny", m.file,
                                                                       m.rule, m.msg))))
