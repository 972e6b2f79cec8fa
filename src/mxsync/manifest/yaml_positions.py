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

from mxsync.manifest.problems import Problem, render_path

Path_ = tuple[str | int, ...]
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: 10x faster
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_STR = "tag:yaml.org,2002:str"


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
                severity: str = "error") -> Problem:
        line, column = self.at(path, key=key)
        return Problem(self.file, line, column, render_path(path), message, severity)  # type: ignore[arg-type]


@dataclass
class LoadedYaml:
    data: Any
    positions: Positions
    problems: list[Problem]


def load_yaml(text: str, file: str) -> LoadedYaml:
    positions = Positions(file)
    problems: list[Problem] = []
    try:
        data = _Builder(positions, problems).build(yaml.parse(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        return LoadedYaml(None, positions, [Problem(
            file, line, column, "(top)",
            f"YAML syntax error: {what}{context}; fix the indentation, quoting or brackets here",
        )])
    except yaml.YAMLError as exc:
        return LoadedYaml(None, positions, [Problem(file, 1, 1, "(top)", f"YAML error: {exc}")])
    return LoadedYaml(data, positions, problems)


class _Builder:
    """Plain data and positions straight from the parser's events.

    No node graph is kept: for a 5,000-org manifest PyYAML's graph of nodes and marks was
    most of the peak memory and a third of the load time."""

    def __init__(self, positions: Positions, problems: list[Problem]) -> None:
        self.positions = positions
        self.problems = problems
        self.resolver = yaml.resolver.Resolver()
        self.constructor = yaml.constructor.SafeConstructor()
        self.anchors: dict[str, Any] = {}

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
                data = self._node(event, events, ())
        return data

    def _problem(self, event: yaml.Event, path: Path_, message: str) -> None:
        mark = event.start_mark
        self.problems.append(Problem(self.positions.file, mark.line + 1, mark.column + 1,
                                     render_path(path), message))

    def _node(self, event: yaml.Event, events: Iterator[yaml.Event], path: Path_) -> Any:
        self.positions.values[path] = (event.start_mark.line + 1, event.start_mark.column + 1)
        if isinstance(event, yaml.AliasEvent):
            return self.anchors.get(event.anchor)
        if isinstance(event, yaml.ScalarEvent):
            value = self._scalar(event)
        elif isinstance(event, yaml.SequenceStartEvent):
            value = []
            for item in events:
                if isinstance(item, yaml.SequenceEndEvent):
                    break
                value.append(self._node(item, events, (*path, len(value))))
        else:
            value = self._mapping(events, path)
        if getattr(event, "anchor", None):
            self.anchors[event.anchor] = value
        return value

    def _mapping(self, events: Iterator[yaml.Event], path: Path_) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        for key_event in events:
            if isinstance(key_event, yaml.MappingEndEvent):
                return result
            if not isinstance(key_event, yaml.ScalarEvent):
                self._problem(key_event, path, "mapping keys must be plain strings")
                self._node(key_event, events, ("?",))  # consume the key's own events first
                self._node(next(events), events, ("?",))
                continue
            value_event = next(events)
            key = key_event.value
            child = (*path, key)
            line = key_event.start_mark.line + 1
            if key in first_seen:
                self._problem(key_event, child, (
                    f"duplicate key '{key}' (first at line {first_seen[key]}); YAML would keep only "
                    "the last one and silently lose the other: remove or rename one"))
                self._node(value_event, events, ("?",))  # consume it; keep the first
                continue
            first_seen[key] = line
            self.positions.keys[child] = (line, key_event.start_mark.column + 1)
            result[key] = self._node(value_event, events, child)
        return result

    def _scalar(self, event: yaml.ScalarEvent) -> Any:
        tag = event.tag if event.tag and event.tag != "!" else self.resolver.resolve(
            yaml.ScalarNode, event.value, event.implicit)
        if tag in (_TIMESTAMP, _STR) or not tag.startswith("tag:yaml.org,2002:"):
            return event.value
        try:
            return self.constructor.construct_object(yaml.ScalarNode(tag, event.value), deep=True)
        except yaml.YAMLError:
            return event.value
