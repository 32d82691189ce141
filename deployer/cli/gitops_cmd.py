"""The GitOps commands: `dmsctl codeowners`, `dmsctl bootstrap-template`, `dmsctl environments`."""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import click

from compiler import codeowners as co
from compiler.bootstrap import BootstrapError, bootstrap_body
from compiler.config import RawTree, read_tree, resolve
from compiler.diagnostics import format_text, has_errors
from compiler.render import RenderError
from deployer.errors import ConfigError


def _raw(config_dir: str) -> RawTree:
    raw = read_tree(Path(config_dir))
    if raw.base is None or has_errors(raw.diagnostics):
        click.echo(format_text(list(raw.diagnostics)), err=True)
        raise ConfigError("the configuration has errors (see `dmsctl validate`)")
    return raw


@click.command()
@click.option("--check", is_flag=True, help="Exit 1 if the file is not what would be generated (CI).")
@click.option("--out", "out", default=co.PATH, show_default=True, type=click.Path(dir_okay=False),
              help="The CODEOWNERS file; its directory's parent is the repository root.")
@click.pass_context
def codeowners(ctx: click.Context, check: bool, out: str) -> None:
    """Generate .github/CODEOWNERS: team files to their owners, the rest to platform_owners."""
    path = Path(out)
    root = path.resolve().parent.parent
    config_dir = Path(os.path.relpath(Path(ctx.obj["config_dir"]).resolve(), root)).as_posix()
    text = co.codeowners(_raw(ctx.obj["config_dir"]), config_dir)
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
@click.option("--env", "env", default=None, help="Environment (default: base.yaml's default_environment).")
@click.pass_context
def bootstrap_template(ctx: click.Context, env: str | None) -> None:
    """Print the bootstrap stack (GitHub OIDC + plan and deploy roles) for an admin to deploy once."""
    raw = _raw(ctx.obj["config_dir"])
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
    """Print base.yaml's environments as JSON (the CI matrix): name, account and region."""
    envs = _raw(ctx.obj["config_dir"]).base.data["environments"]
    click.echo(json.dumps([{"environment": name, "account_id": e["account_id"], "region": e["region"]}
                           for name, e in sorted(envs.items())]))


def register(cli: click.Group) -> None:
    for command in (codeowners, bootstrap_template, environments):
        cli.add_command(command)
