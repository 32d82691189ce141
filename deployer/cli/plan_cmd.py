"""`dmsctl plan`: strictly read-only. Exit 0 no changes, 2 changes and go, 1 no-go or error."""

from __future__ import annotations

from pathlib import Path

import click

from dmsctl.deployer.acknowledgements import plan_acknowledged
from dmsctl.deployer.checks import Flags
from dmsctl.deployer.cli.aws_options import aws_options, compiled, gateway
from dmsctl.deployer.cli.context import config_dir, env_option, no_color_option, use_color


def render(plan, fmt: str, color: bool) -> str:
    from dmsctl.deployer.render import render_json, render_markdown, render_text

    if fmt == "json":
        return render_json(plan)
    if fmt == "markdown":
        return render_markdown(plan)
    return render_text(plan, color=color)


@click.command()
@env_option
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True,
              help="text for a terminal, markdown for a pull request comment, json for tools.")
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None, help="Also write the plan as JSON here.")
@click.option("--markdown-out", type=click.Path(dir_okay=False), default=None, help="Also write the Markdown here.")
@click.option("--allow-replace", is_flag=True, help="Acknowledge task replacements (every table reloads).")
@click.option("--allow-delete", is_flag=True, help="Acknowledge deleting stacks or tasks.")
@click.option("--allow-drift", is_flag=True, help="Acknowledge overwriting changes made outside dmsctl.")
@click.option("--allow-interrupt", is_flag=True,
              help="Acknowledge stopping a task while a table of it is loading (that load restarts from zero).")
@no_color_option
@click.option("--lint/--no-lint", default=True, show_default=True, help="Run cfn-lint on the compiled templates.")
@aws_options
@click.pass_context
def plan(ctx, env, fmt, out, markdown_out, allow_replace, allow_delete, allow_drift, allow_interrupt, no_color, lint,
         endpoint_url, profile, max_attempts) -> None:
    """Show what apply would do, and whether it is safe (go/no-go). Never changes AWS.

    Exit 0: no changes; 2: changes, safe to apply; 1: no-go or an error.

    Example: dmsctl plan --env staging --format markdown --out plan.json
    """
    result = compiled(config_dir(ctx), env, lint)
    gw = gateway(result.require_tree().region, read_only=True, endpoint_url=endpoint_url, profile=profile,
                 max_attempts=max_attempts)
    planned = plan_acknowledged(result, gw, Flags(allow_replace, allow_delete, allow_drift, allow_interrupt))
    click.echo(render(planned.plan, fmt, use_color(no_color)), nl=False)
    if out:
        Path(out).write_text(render(planned.plan, "json", False))
    if markdown_out:
        Path(markdown_out).write_text(render(planned.plan, "markdown", False))
    ctx.exit(planned.plan.exit_code())
