"""The process the Rego engine runs in, and the parent's side of talking to it.

regopy (rego-cpp) has two habits mxsync must not inherit: a `with input as {...}` over a
rule that reads `input` kills its process with a segmentation fault, and a policy that
does not parse makes it print a report on stdout before it raises. So it never runs in
mxsync's own process: `python -m mxsync.policy.worker` reads one request (JSON) on stdin,
points its own stdout and stderr at a scratch file before it loads the engine, and writes
its answer (JSON) on a copy of the real stdout. A death of the worker is a `WorkerCrashed`
the caller turns into an error that names the policy; nothing the engine prints reaches
mxsync's streams.

Request: {"modules": [[name, source], ...], "input": DOC or null,
          "groups": [{"modules": [index, ...], "queries": [QUERY, ...]}, ...]}
Each group is evaluated in a fresh interpreter holding only its modules.
Answer:  {"groups": [{"results": {QUERY: VALUE}, "undefined": [QUERY, ...]}
                     | {"error": {"file": F, "line": L, "message": M}}, ...]}
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

WORKER_TIMEOUT_S = 300.0


class WorkerCrashed(Exception):
    """The worker died (a signal, or no answer); `detail` says how."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class EngineError:
    """What the engine said was wrong, placed in a file and line when it said where."""

    message: str
    file: str | None = None
    line: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "message": self.message}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EngineError:
        line = data.get("line")
        return cls(message=str(data.get("message") or "the policy engine failed"),
                   file=data.get("file") if isinstance(data.get("file"), str) else None,
                   line=line if isinstance(line, int) else None)


def run(request: dict[str, Any], timeout_s: float = WORKER_TIMEOUT_S) -> list[dict[str, Any]]:
    """One request to a fresh worker; its answer's groups, or `WorkerCrashed`."""
    try:
        done = subprocess.run([sys.executable, "-m", "mxsync.policy.worker"],
                              input=json.dumps(request).encode(), capture_output=True,
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise WorkerCrashed(f"the policy engine gave no answer within {timeout_s:g} s") from None
    if done.returncode < 0:
        import signal

        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        raise WorkerCrashed(f"the policy engine crashed ({name})")
    try:
        answer = json.loads(done.stdout)
        groups = answer["groups"]
        if not isinstance(groups, list):
            raise TypeError
        return groups
    except (ValueError, KeyError, TypeError):
        raise WorkerCrashed(f"the policy engine gave no answer (exit code {done.returncode})") from None


# -- the worker's side ------------------------------------------------------------------------
# rego-cpp names a place as "(error N:NAME|OFFSET|LENGTH" and a message as "(errormsg N:TEXT)",
# each text prefixed by its length.
_LOCATED = re.compile(r"\(error (\d+):")
_MESSAGE = re.compile(r"\(errormsg (\d+):")


def _sized(text: str, match: re.Match[str]) -> str:
    return text[match.end():match.end() + int(match[1])]


def engine_error(text: str, sources: dict[str, str]) -> EngineError:
    """The first error of a rego-cpp error report, with its file and line when it has them."""
    message_at = _MESSAGE.search(text)
    message = _sized(text, message_at) if message_at else "the policy engine failed"
    place = _LOCATED.search(text)
    if place:
        name = _sized(text, place)
        rest = text[place.end() + int(place[1]):].split("\n", 1)[0]
        offset = re.match(r"\|(\d+)\|", rest)
        if name in sources:
            line = sources[name][:int(offset[1])].count("\n") + 1 if offset else None
            return EngineError(message, name, line)
    return EngineError(message)


def _printed_place(report: str, sources: dict[str, str]) -> EngineError | None:
    """The report a failed parse printed: "-- FILE:LINE:COL" after the message."""
    for match in re.finditer(r"^-- (.+?):(\d+):\d+$", report, re.MULTILINE):
        if match[1] in sources:
            before = report[:match.start()].rstrip("\n").splitlines()
            message = before[-1].strip() if before else "the policy does not parse"
            return EngineError(message, match[1], int(match[2]))
    return None


def _evaluate(modules: list[tuple[str, str]], document: Any, queries: list[str],
              scratch: Any) -> dict[str, Any]:
    import regopy
    from regopy.rego_shared import (
        RegoError,
        rego_node_json,
        rego_output_node,
        rego_output_ok,
        rego_output_string,
        rego_query,
    )

    sources = dict(modules)
    engine = regopy.Interpreter()
    for name, source in modules:
        start = scratch.tell()
        try:
            engine.add_module(name, source)
        except RegoError as exc:
            sys.stdout.flush()
            scratch.seek(start)
            printed = _printed_place(scratch.read(), sources)
            scratch.seek(0, os.SEEK_END)
            error = printed or engine_error(str(exc), sources)
            if error.file is None:
                error = EngineError(error.message, name)
            return {"error": error.to_json()}
    if document is not None:
        # A built Input, not set_input_term: rego-cpp reads a JSON text about half as fast.
        engine.set_input(document)
    results: dict[str, Any] = {}
    undefined: list[str] = []
    for query in queries:
        output = rego_query(engine._impl, query)
        text = rego_output_string(output)
        if not rego_output_ok(output) and text.strip() == "<error>":
            text = rego_node_json(rego_output_node(output))
            node = regopy.Node(rego_output_node(output))
            if len(node):
                text = rego_node_json(node.at(0)._impl)
        if text.strip() == "undefined":
            undefined.append(query)
            continue
        if text.lstrip().startswith("(error") or text.lstrip().startswith("(rego-errorseq"):
            return {"error": engine_error(text, sources).to_json()}
        try:
            value = json.loads(text)
        except ValueError:
            return {"error": EngineError(f"the policy engine answered {text[:200]!r}").to_json()}
        expressions = value.get("expressions") if isinstance(value, dict) else None
        results[query] = expressions[0] if expressions else None
    return {"results": results, "undefined": undefined}


def main() -> int:
    """Serve one request: read stdin, answer on the real stdout, keep the engine's noise."""
    request = json.loads(sys.stdin.buffer.read())
    answer_fd = os.dup(1)
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as scratch:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(scratch.fileno(), 1)
        os.dup2(scratch.fileno(), 2)
        modules = [(str(name), str(source)) for name, source in request["modules"]]
        document = None
        if request.get("input") is not None:
            import regopy

            document = regopy.Input(request["input"])
        groups = []
        for group in request["groups"]:
            chosen = [modules[i] for i in group["modules"]]
            groups.append(_evaluate(chosen, document, list(group["queries"]), scratch))
    with os.fdopen(answer_fd, "w", encoding="utf-8") as out:
        json.dump({"groups": groups}, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
