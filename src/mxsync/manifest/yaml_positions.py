"""YAML to plain data, keeping where every key and value stood.

PyYAML's constructors drop positions and silently keep the last of two equal
keys. Building the data from the composed node graph ourselves keeps both the
positions (for `file:line:col` errors) and the duplicates (as errors). Scalars
with the timestamp tag stay the strings the user wrote, so `expires_at` is
checked as text and never silently converted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from mxsync.manifest.problems import Problem, Severity, render_path, shown

Path_ = tuple[str | int, ...]
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: 10x faster
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"

# Bounds that no real manifest comes near, so that a hostile file fails at once with a
# location instead of spinning or exhausting memory.
MAX_DEPTH = 32  # a manifest nests 7 levels; Python's recursion would give up near 500
ALIAS_BUDGET = 10_000  # values aliases may add beyond the file's own: a billion laughs adds 10^9
MAX_SCALAR = 65_536  # characters in one value; the longest real value is a URL or a label
MAX_INT_CHARS = 30  # an int beyond this is no count or limit (Python refuses 4,300+ digits)


class _Abort(Exception):
    """Stop building at once: going on would cost unbounded time or stack."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass
class Positions:
    """Where each value (and each mapping key) starts: 1-based line and column."""

    file: str
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def at(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        """The closest known position: the key itself, else the nearest enclosing value."""
        if key and path in self.keys:
            return self.keys[path]
        probe = path
        while probe:
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), (1, 1))

    def problem(self, path: Path_, message: str, *, key: bool = False,
                severity: Severity = "error") -> Problem:
        line, column = self.at(path, key=key)
        return Problem(self.file, line, column, render_path(path), message, severity)


@dataclass
class LoadedYaml:
    data: Any
    positions: Positions
    problems: list[Problem]
    # Paths whose value was already reported (and replaced), so the schema need not repeat it.
    reported: set[str] = field(default_factory=set)


def load_yaml(text: str, file: str) -> LoadedYaml:
    positions = Positions(file)
    problems: list[Problem] = []
    builder = _Builder(positions, problems)
    try:
        data = builder.build(yaml.parse(text, Loader=_Loader))
    except _Abort as exc:
        return LoadedYaml(None, positions, [*problems, exc.problem])
    except yaml.MarkedYAMLError as exc:
        return LoadedYaml(None, positions, [_syntax_problem(exc, text, file)])
    except yaml.YAMLError as exc:
        return LoadedYaml(None, positions, [Problem(file, 1, 1, "(top)", f"YAML error: {exc}")])
    return LoadedYaml(data, positions, problems, builder.reported)


_CLOSERS = {"[": "]", "{": "}"}


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str, file: str) -> Problem:
    """The parser's complaint as a sentence: where it noticed, and where the construct it
    was reading began (an unclosed bracket or quote is noticed far from where it opened)."""
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    what = exc.problem or "invalid YAML"
    lines = text.splitlines()
    here = lines[line - 1][column - 1:column] if 0 < line <= len(lines) else ""
    opened = exc.context_mark
    start = (opened.line + 1, opened.column + 1) if opened else None
    started = lines[start[0] - 1][start[1] - 1:start[1]] if start and 0 < start[0] <= len(lines) else ""
    if "maximum nesting depth" in what:  # libyaml's own bound, met before ours in flow style
        message = ("brackets nested too deeply (the YAML parser stops at 1,000 levels; a manifest "
                   "needs fewer than 10); check for a runaway bracket here")
    elif here == "\t" or "tab character" in what:
        message = ("YAML syntax error: a tab character here; YAML indents with spaces only, "
                   "so replace the tab with spaces")
    elif start and start != (line, column) and started in _CLOSERS:
        message = (f"YAML syntax error: the '{started}' opened at line {start[0]}, column {start[1]} "
                   f"({file}:{start[0]}:{start[1]}) is not closed where the parser expected ',' or "
                   f"'{_CLOSERS[started]}' (here); close it, or add the missing ','")
    elif start and start != (line, column) and started in ("'", '"'):
        message = (f"YAML syntax error: the quote {started} opened at line {start[0]}, column "
                   f"{start[1]} ({file}:{start[0]}:{start[1]}) is not closed; close it with {started}")
    else:
        context = f" ({exc.context}"
        context += f" that starts at line {start[0]}, column {start[1]})" if (
            start and start != (line, column)) else ")"
        message = (f"YAML syntax error: {what}{context if exc.context else ''}; "
                   "fix the indentation, quoting or brackets here")
    return Problem(file, line, column, "(top)", message)


def _at(event: yaml.Event) -> tuple[int, int]:
    """1-based line and column where an event starts (libyaml always gives a mark)."""
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark else (1, 1)


class _Builder:
    """Plain data and positions straight from the parser's events.

    No node graph is kept: for a 5,000-org manifest PyYAML's graph of nodes and marks was
    most of the peak memory and a third of the load time. An alias shares the anchored
    value instead of copying it, but every later pass walks it once per alias, so what
    aliases add is counted (in values) against a budget."""

    def __init__(self, positions: Positions, problems: list[Problem]) -> None:
        self.positions = positions
        self.problems = problems
        self.resolver = yaml.resolver.Resolver()
        self.constructor = yaml.constructor.SafeConstructor()
        self.anchors: dict[str, tuple[Any, int]] = {}  # value and its size in values
        self.count = 0  # values built from the file's own text
        self.expanded = 0  # values added by aliases
        self.reported: set[str] = set()

    def build(self, events: Iterator[yaml.Event]) -> Any:
        data: Any = None
        documents = 0
        for event in events:
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    self._problem(event, (), "only one YAML document per file: remove the `---`")
                    return data
            elif isinstance(event, (yaml.ScalarEvent, yaml.MappingStartEvent,
                                    yaml.SequenceStartEvent, yaml.AliasEvent)):
                data = self._node(event, events, (), 0)
        return data

    def _located(self, event: yaml.Event, path: Path_, message: str) -> Problem:
        line, column = _at(event)
        return Problem(self.positions.file, line, column, render_path(path), message)

    def _problem(self, event: yaml.Event, path: Path_, message: str) -> None:
        self.problems.append(self._located(event, path, message))

    def _abort(self, event: yaml.Event, path: Path_, message: str) -> _Abort:
        return _Abort(self._located(event, path, message))

    def _node(self, event: yaml.Event, events: Iterator[yaml.Event], path: Path_, depth: int) -> Any:
        self.positions.values[path] = _at(event)
        if isinstance(event, yaml.AliasEvent):
            return self._alias(event, path)
        if depth > MAX_DEPTH:
            raise self._abort(event, path, (
                f"nested more than {MAX_DEPTH} levels deep; a manifest needs fewer than 10. "
                "Check for a runaway bracket or indentation here"))
        before = self.count + self.expanded
        self.count += 1
        if isinstance(event, yaml.ScalarEvent):
            value = self._scalar(event, path)
        elif isinstance(event, yaml.SequenceStartEvent):
            value = []
            for item in events:
                if isinstance(item, yaml.SequenceEndEvent):
                    break
                value.append(self._node(item, events, (*path, len(value)), depth + 1))
        else:
            value = self._mapping(events, path, depth)
        anchor = getattr(event, "anchor", None)
        if anchor:
            self.anchors[anchor] = (value, self.count + self.expanded - before)
        return value

    def _alias(self, event: yaml.AliasEvent, path: Path_) -> Any:
        if event.anchor not in self.anchors:
            self._problem(event, path, (
                f"the alias {shown(f'*{event.anchor}')} names no anchor defined above it; "
                "define the anchor (`&name`) on a value before using the alias (`*name`)"))
            self.reported.add(render_path(path))
            return None
        value, size = self.anchors[event.anchor]
        self.expanded += size
        if self.expanded > ALIAS_BUDGET + self.count:
            raise self._abort(event, path, (
                f"aliases expand to over {ALIAS_BUDGET:,} values more than the file itself holds "
                "(each alias repeats its anchor's whole value and nested ones multiply, as in a "
                "'billion laughs' file); write the values out, or use fewer nested aliases"))
        return value

    def _mapping(self, events: Iterator[yaml.Event], path: Path_, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        merges: list[tuple[Any, tuple[int, int]]] = []
        for key_event in events:
            if isinstance(key_event, yaml.MappingEndEvent):
                return self._merged(result, merges, path)
            if not isinstance(key_event, yaml.ScalarEvent):
                self._problem(key_event, path, "mapping keys must be plain strings")
                self._node(key_event, events, ("?",), depth + 1)  # consume the key's own events first
                self._node(next(events), events, ("?",), depth + 1)
                continue
            value_event = next(events)
            key = key_event.value
            if len(key) > MAX_SCALAR:
                raise self._abort(key_event, path, (
                    f"a mapping key of {len(key):,} characters; keys are short names"))
            child = (*path, key)
            line, column = _at(key_event)
            if key in first_seen:
                self._problem(key_event, child, (
                    f"duplicate key {shown(key)} (first at line {first_seen[key]}); YAML would keep only "
                    "the last one and silently lose the other: remove or rename one"))
                self._node(value_event, events, ("?",), depth + 1)  # consume it; keep the first
                continue
            first_seen[key] = line
            if key == "<<" and key_event.implicit[0]:  # a plain `<<`: YAML's merge key
                merges.append((self._node(value_event, events, child, depth + 1), _at(value_event)))
                continue
            self.positions.keys[child] = (line, column)
            result[key] = self._node(value_event, events, child, depth + 1)
        return result

    def _merged(self, result: dict[str, Any], merges: list[tuple[Any, tuple[int, int]]],
                path: Path_) -> dict[str, Any]:
        """YAML's merge key (`<<: *base` or `<<: [*a, *b]`): keys written in the mapping win,
        then the merged mappings in the order listed. A merged value is located at the `<<`,
        where the reader sees it come from."""
        for merged, where in merges:
            sources = merged if isinstance(merged, list) else [merged]
            if not all(isinstance(source, dict) for source in sources):
                line, column = where
                self.problems.append(Problem(self.positions.file, line, column, render_path((*path, "<<")), (
                    "`<<` merges mappings into this one: write `<<: *name` (or `<<: [*a, *b]`) "
                    "where each anchor is on a mapping")))
                continue
            for source in sources:
                for key, value in source.items():
                    if key not in result:
                        result[key] = value
                        self.positions.keys[(*path, key)] = where
                        self.positions.values[(*path, key)] = where
        return result

    def _scalar(self, event: yaml.ScalarEvent, path: Path_) -> Any:
        if len(event.value) > MAX_SCALAR:
            self._problem(event, path, (
                f"this value is {len(event.value):,} characters long; no manifest value needs "
                f"more than {MAX_SCALAR:,} (is a whole file pasted here?)"))
            self.reported.add(render_path(path))
            return ""
        tag = event.tag if event.tag and event.tag != "!" else self.resolver.resolve(
            yaml.ScalarNode, event.value, event.implicit)
        if tag in (_TIMESTAMP, _STR) or not tag.startswith("tag:yaml.org,2002:"):
            return event.value
        if tag == _INT and len(event.value) > MAX_INT_CHARS:
            self._problem(event, path, (
                f"a number of {len(event.value):,} characters; counts and limits in a manifest are "
                f"at most {MAX_INT_CHARS} digits"))
            self.reported.add(render_path(path))
            return 0
        try:
            return self.constructor.construct_object(yaml.ScalarNode(tag, event.value), deep=True)
        except (yaml.YAMLError, ValueError, OverflowError):
            return event.value
