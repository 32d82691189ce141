"""Options shared by the commands that talk to AWS, and building their gateway."""

from __future__ import annotations

from pathlib import Path

import click

from dmsctl.compiler.build import CompileResult, compile_tree
from dmsctl.deployer.errors import ConfigError
from dmsctl.deployer.gateway import Gateway


def aws_options(f):
    f = click.option("--endpoint-url", default=None, envvar="AWS_ENDPOINT_URL", show_envvar=True, metavar="URL",
                     help="Send AWS requests here (e.g. the sandbox: http://127.0.0.1:5000).")(f)
    f = click.option("--profile", default=None, envvar="AWS_PROFILE", show_envvar=True, metavar="NAME",
                     help="AWS profile (~/.aws/config) to use.")(f)
    f = click.option("--max-attempts", default=8, show_default=True, type=click.IntRange(1, 20),
                     envvar="DMSCTL_MAX_ATTEMPTS", help="Attempts per AWS call (adaptive retries; DMS throttles).")(f)
    return f


def gateway(region: str, *, read_only: bool, endpoint_url: str | None, profile: str | None,
            max_attempts: int) -> Gateway:
    return Gateway(region, read_only=read_only, endpoint_url=endpoint_url, profile=profile, max_attempts=max_attempts)


def compiled(config_dir: Path, env: str | None, lint: bool = True) -> CompileResult:
    """Compile, or raise ConfigError with the findings (never plan from broken config); the error boundary
    shows them in the command's --format."""
    from dmsctl.deployer.cli.compile_cmd import compile_cache, linter

    result = compile_tree(config_dir, env, linter(lint), cache=compile_cache())
    if not result.ok:
        raise ConfigError("the configuration has errors: nothing was planned", result.diagnostics)
    return result

