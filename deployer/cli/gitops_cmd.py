"""The GitOps commands: `dmsctl codeowners`, `dmsctl bootstrap-template`, `dmsctl environments`."""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import click

from dmsctl.compiler import codeowners as co
from dmsctl.compiler import naming
from dmsctl.compiler.bootstrap import BootstrapError, bootstrap_body
from dmsctl.compiler.config import RawTree, read_tree, resolve
from dmsctl.compiler.findings import has_errors
from dmsctl.compiler.render import RenderError
from dmsctl.deployer.cli.aws_options import aws_options, gateway
from dmsctl.deployer.cli.context import config_dir, env_option, repository_root
from dmsctl.deployer.errors import AwsError, ConfigError, DmsctlError
from dmsctl.deployer.prerequisites import role_exists


def _raw(ctx: click.Context) -> RawTree:
    raw = read_tree(config_dir(ctx))
    if raw.base is None or has_errors(raw.diagnostics):
        raise ConfigError("the configuration has errors (see `dmsctl validate`)", raw.diagnostics)
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


def _dms_roles_to_create(how: str, region: str, endpoint_url: str | None, profile: str | None,
                         max_attempts: int) -> dict[str, bool]:
    """Which DMS service roles the stack should create: `create` both, `existing` neither, `detect` those the
    account lacks (read-only iam:GetRole with the caller's credentials)."""
    if how != "detect":
        return {name: how == "create" for name in naming.DMS_SERVICE_ROLES}
    gw = gateway(region, read_only=True, endpoint_url=endpoint_url, profile=profile, max_attempts=max_attempts)
    create = {}
    for name in naming.DMS_SERVICE_ROLES:
        try:
            create[name] = not role_exists(gw, name)
        except AwsError as exc:
            raise DmsctlError(f"could not check whether the account has the IAM role {name} ({exc}). Use "
                             "credentials that may call iam:GetRole, or say it: --dms-service-roles create (the "
                             "account has neither role) or existing (it has both)") from None
        state = "absent: the stack creates it" if create[name] else "present: the stack leaves it alone"
        click.echo(f"{name}: {state}", err=True)
    return create


@click.command("bootstrap-template")
@env_option
@click.option("--dms-service-roles", "dms_roles", type=click.Choice(["detect", "create", "existing"]),
              default="detect", show_default=True,
              help="dms-vpc-role / dms-cloudwatch-logs-role: detect which the account lacks (iam:GetRole), or "
                   "say that it has neither (create) or both (existing). Sets the defaults of the parameters "
                   "CreateDmsVpcRole / CreateDmsCloudWatchLogsRole.")
@aws_options
@click.pass_context
def bootstrap_template(ctx: click.Context, env: str | None, dms_roles: str, endpoint_url: str | None,
                       profile: str | None, max_attempts: int) -> None:
    """Print the bootstrap stack (GitHub OIDC, plan and deploy roles, CloudFormation's role, the permissions
    boundary, the DMS service roles the account lacks) for an admin to deploy once.

    Example: dmsctl bootstrap-template --env prod > bootstrap-prod.json
    """
    raw = _raw(ctx)
    config, diags = resolve(raw, env or raw.default_environment() or "")
    if config is None or has_errors(diags):
        raise ConfigError("the configuration has errors (see `dmsctl validate`)", diags)
    try:
        body = bootstrap_body(config, {})  # a config gap is reported before any AWS call
        create = _dms_roles_to_create(dms_roles, config.env.region, endpoint_url, profile, max_attempts)
        body = bootstrap_body(config, create)
    except (BootstrapError, RenderError) as exc:
        raise ConfigError(str(exc)) from None
    click.echo(body, nl=False)


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

