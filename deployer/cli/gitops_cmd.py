"""The GitOps commands: `dmsctl codeowners`, `dmsctl bootstrap-template`, `dmsctl environments`."""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import click

from dmsctl.compiler import codeowners as co
from dmsctl.compiler.bootstrap import BootstrapError, bootstrap_body
from dmsctl.compiler.config import RawTree, read_tree, resolve
from dmsctl.compiler.diagnostics import format_text, has_errors
from dmsctl.compiler.render import RenderError
from dmsctl.deployer.cli.context import config_dir, env_option, repository_root
from dmsctl.deployer.errors import ConfigError


def _raw(ctx: click.Context) -> RawTree:
    raw = read_tree(config_dir(ctx))
    if raw.base is None or has_errors(raw.diagnostics):
        click.echo(format_text(list(raw.diagnostics)), err=True)
        raise ConfigError("the configuration has errors (see `dmsctl validate`)")
    return raw


@click.command()
@click.option("--check", is_flag=True, help="Exit 1 if the file is not what would be generated (CI).")
@click.option("--out", "out", default=None, type=click.Path(dir_okay=False), metavar="FILE",
              help=f"The CODEOWNERS file; its directory's parent is the repository root. "
                   f"Default: {co.PATH} next to the config tree.")
@click.pass_context
def codeowners(ctx: click.Context, check: bool, out: str | None) -> None:
    """Generate .github/CODEOWNERS: team files to their owners, the rest to platform_owners.

    Example: dmsctl codeowners --check
    """
    path = Path(out) if out else repository_root(ctx) / co.PATH
    out = str(path) if out else os.path.relpath(path)
    root = path.resolve().parent.parent
    tree_path = Path(os.path.relpath(config_dir(ctx).resolve(), root)).as_posix()
    text = co.codeowners(_raw(ctx), tree_path)
    current = path.read_text() if path.is_file() else None
    if check:
        if current == text:
            click.echo(f"{out} is up to date")
            ctx.exit(0)
        diff = difflib.unified_diff((current or "").splitlines(True), text.splitlines(True), out, "generated")
        click.echo("".join(diff), err=True)
        state = "missing" if current is None else "out of date"
        click.echo(f"error: {out} is {state}: run `dmsctl codeowners` and commit the result", err=True)
        ctx.exit(1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    click.echo(f"wrote {out}" if current != text else f"{out} is up to date")


@click.command("bootstrap-template")
@env_option
@click.pass_context
def bootstrap_template(ctx: click.Context, env: str | None) -> None:
    """Print the bootstrap stack (GitHub OIDC + plan and deploy roles) for an admin to deploy once.

    Example: dmsctl bootstrap-template --env prod > bootstrap-prod.yaml
    """
    raw = _raw(ctx)
    config, diags = resolve(raw, env or raw.default_environment() or "")
    if config is None or has_errors(diags):
        click.echo(format_text(diags), err=True)
        raise ConfigError("the configuration has errors (see `dmsctl validate`)")
    try:
        click.echo(bootstrap_body(config), nl=False)
    except (BootstrapError, RenderError) as exc:
        raise ConfigError(str(exc)) from None


@click.command()
@click.pass_context
def environments(ctx: click.Context) -> None:
    """Print base.yaml's environments as JSON (the CI matrix): name, account and region.

    Example: dmsctl environments
    """
    raw = _raw(ctx)
    data = raw.base.data if raw.base is not None else {}
    envs = data.get("environments", {}) if isinstance(data, dict) else {}
    click.echo(json.dumps([{"environment": name, "account_id": e["account_id"], "region": e["region"]}
                           for name, e in sorted(envs.items())]))

