"""How a command's failure reaches the user: in the command's --format.

Every command with a `--format` option has its value remembered on the click context (`remember_format`,
applied when the command is loaded). When the command fails, the error boundary (main.py) calls `failure`:
with `--format json` the error (and the config's findings, if that is what failed) is one JSON document
on stdout; with `--format github` workflow commands on stdout; otherwise text on stderr. The exit code is
the error's, never 0.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from typing import Any

import click

from dmsctl.compiler.findings import Finding, as_json, escape_data, format_github, format_text, sort_findings

FORMAT_KEY = "dmsctl.format"  # ctx.meta: the running command's --format
REPORTED_KEY = "dmsctl.reported"  # ctx.meta: the command printed its JSON document (the error in it) on stdout


def remember_format(command: click.Command) -> None:
    """Make `command` (once) record its --format in ctx.meta, which every context of the run shares."""
    callback = command.callback
    if callback is None or getattr(callback, "remembers_format", False) \
            or not any(p.name == "fmt" for p in command.params):
        return

    @functools.wraps(callback)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        click.get_current_context().meta[FORMAT_KEY] = kwargs.get("fmt")
        return callback(*args, **kwargs)

    wrapped.remembers_format = True  # type: ignore[attr-defined]
    command.callback = wrapped


def reported(ctx: click.Context) -> None:
    """Say that the command printed its JSON document, the error in it: the boundary adds nothing to stdout."""
    ctx.meta[REPORTED_KEY] = True


def failure(ctx: click.Context, message: str, findings: Iterable[Finding] = (), *, label: str = "error",
            echo: Callable[..., None] = click.echo) -> None:
    """Print a failed command's error (and the findings behind it) in the command's format; as text, the line
    on stderr is `<label>: <message>` (just the label without a message)."""
    fmt = ctx.meta.get(FORMAT_KEY)
    found = sort_findings(findings)
    if ctx.meta.get(REPORTED_KEY):  # the JSON on stdout carries it: say it once more for a person, on stderr
        fmt = "text"
    if label != "error":
        message = f"{label}: {message}" if message else label
    if fmt == "json":
        echo(json.dumps({"error": message, "findings": [as_json(f) for f in found]}, indent=2, sort_keys=True,
                        ensure_ascii=False))
    elif fmt == "github":
        if found:
            echo(format_github(found))
        echo(f"::error title=dmsctl::{escape_data(message)}")
    else:
        if found:
            echo(format_text(found), err=True)
        if message:
            echo(message if label != "error" else f"error: {message}", err=True)
