"""YAML to plain data, keeping where every key and value stood.

PyYAML's constructors drop positions and silently keep the last of two equal
keys. Building the data from the composed node graph ourselves keeps both the
positions (for `file:line:col` errors) and the duplicates (as errors). Scalars
with the timestamp tag stay the strings the user wrote, so `expires_at` is
checked as text and never silently converted.
"""

from __future__ import annotations

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
        node = yaml.compose(text, Loader=_Loader)
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
    if node is None:
        return LoadedYaml(None, positions, [])
    constructor = yaml.constructor.SafeConstructor()
    data = _build(node, (), positions, problems, constructor)
    return LoadedYaml(data, positions, problems)


def _build(node: yaml.Node, path: Path_, positions: Positions, problems: list[Problem],
           constructor: yaml.constructor.SafeConstructor) -> Any:
    positions.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                line, col = key_node.start_mark.line + 1, key_node.start_mark.column + 1
                problems.append(Problem(positions.file, line, col, render_path(path),
                                        "mapping keys must be plain strings"))
                continue
            key = key_node.value
            child = (*path, key)
            key_line = key_node.start_mark.line + 1
            if key in first_seen:
                problems.append(Problem(
                    positions.file, key_line, key_node.start_mark.column + 1, render_path(child),
                    f"duplicate key '{key}' (first at line {first_seen[key]}); YAML would keep only "
                    "the last one and silently lose the other: remove or rename one",
                ))
                continue
            first_seen[key] = key_line
            positions.keys[child] = (key_line, key_node.start_mark.column + 1)
            result[key] = _build(value_node, child, positions, problems, constructor)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, index), positions, problems, constructor)
                for index, item in enumerate(node.value)]
    if node.tag in (_TIMESTAMP, _STR) or not node.tag.startswith("tag:yaml.org,2002:"):
        return node.value
    try:
        return constructor.construct_object(node, deep=True)
    except yaml.YAMLError:
        return node.value
