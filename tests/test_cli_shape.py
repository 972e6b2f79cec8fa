"""The command line stays options -> flow -> view: every exit status is a named one (so
`--detailed-exitcode`'s 2 can only mean "changes"), and every format a command offers has
its view (a format click accepts but no view renders would crash at the end of a run)."""

from __future__ import annotations

import ast
import inspect

import click
import pytest

from mxsync import cli
from mxsync.exit_codes import ExitCode


def test_every_exit_status_in_the_cli_is_named() -> None:
    tree = ast.parse(inspect.getsource(cli))
    literal_exits = [node.lineno for node in ast.walk(tree)
                     if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                     and node.func.attr == "exit" and node.args
                     and isinstance(node.args[0], ast.Constant)]
    assert literal_exits == [], f"cli.py exits with a bare number on lines {literal_exits}"
    assert [int(c) for c in ExitCode] == [0, 1, 2, 130, 141, 143]


@pytest.mark.parametrize(("command", "views"), [
    ("validate", "mxsync.views.validate"), ("plan", "mxsync.views.plan"),
    ("show", "mxsync.views.plan"), ("apply", "mxsync.views.apply"),
    ("audit", "mxsync.views.audit"), ("catalog", "mxsync.views.catalog"),
])
def test_every_format_a_command_offers_has_a_view(command: str, views: str) -> None:
    import importlib

    cmd = cli.cli.commands[command]
    choices = next(p.type.choices for p in cmd.params
                   if p.name == "fmt" and isinstance(p.type, click.Choice))
    assert set(choices) == set(importlib.import_module(views).VIEWS)
