"""Options shared by the commands that talk to AWS, and building their gateway."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from compiler.build import CompileResult, compile_tree
from compiler.diagnostics import format_text
from deployer.errors import ConfigError
from deployer.gateway import Gateway


def aws_options(f):
    f = click.option("--endpoint-url", default=None, envvar="AWS_ENDPOINT_URL",
                     help="Send AWS requests here (e.g. the sandbox: http://127.0.0.1:5000).")(f)
    f = click.option("--profile", default=None, envvar="AWS_PROFILE", help="AWS profile to use.")(f)
    f = click.option("--max-attempts", default=8, show_default=True, type=click.IntRange(1, 20),
                     help="Attempts per AWS call (adaptive retries; DMS throttles).")(f)
    return f


def gateway(region: str, *, read_only: bool, endpoint_url: str | None, profile: str | None,
            max_attempts: int) -> Gateway:
    return Gateway(region, read_only=read_only, endpoint_url=endpoint_url, profile=profile, max_attempts=max_attempts)


def compiled(config_dir: str, env: str | None, lint: bool = True) -> CompileResult:
    """Compile or raise ConfigError after printing the diagnostics (never plan from broken config)."""
    from deployer.cli.compile_cmd import linter

    result = compile_tree(Path(config_dir), env, linter(lint))
    if not result.ok:
        click.echo(format_text(result.diagnostics), err=True)
        raise ConfigError("the configuration has errors: nothing was planned")
    return result


def use_color(no_color: bool) -> bool:
    return not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()
