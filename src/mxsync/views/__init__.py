"""One view per command: it takes the command's result and says it in the chosen format.

A command's flow returns data; its view decides what goes to stdout (the result, in text,
JSON, Markdown or JUnit) and what to stderr (notes and errors for a person). Each command
module here has one small class per format and a table from format name to class, so the
CLI picks a view once and never branches on the format itself (Terraform's command views
follow the same split). Renderers are imported inside the methods: `--help` stays quick.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import click

V = TypeVar("V", bound="View")


class View:
    def __init__(self, color: bool | None = None) -> None:
        self.color = color  # None: colour when the stream is a terminal (and NO_COLOR unset)

    def out(self, text: str, *, nl: bool = True) -> None:
        """The result, on stdout, never coloured (a program or a file may read it)."""
        click.echo(text, nl=nl)

    def colored(self, render: Callable[[bool], str], *, err: bool = False) -> None:
        """Text for a person, rendered in colour when the stream it goes to allows it."""
        import sys

        from mxsync.render.text import use_color

        color = use_color(self.color, sys.stderr if err else None)
        click.echo(render(color), color=color, err=err)

    def note(self, text: str) -> None:
        """A note or an error for a person, on stderr."""
        click.echo(text, err=True)


def pick(views: Mapping[str, type[V]], fmt: str, color: bool | None) -> V:
    """The view of `fmt` (every format a command offers has one: click checked the choice)."""
    return views[fmt](color)
