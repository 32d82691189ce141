"""`dmsctl plan`: strictly read-only. Exit 0 no changes, 2 changes and go, 1 no-go or error."""

from __future__ import annotations

from pathlib import Path

import click

from deployer.checks import Flags
from deployer.cli.aws_options import aws_options, compiled, gateway, use_color
from deployer.planner import make_plan


def render(plan, fmt: str, color: bool) -> str:
    from deployer.render import render_json, render_markdown, render_text

    if fmt == "json":
        return render_json(plan)
    if fmt == "markdown":
        return render_markdown(plan)
    return render_text(plan, color=color)


@click.command()
@click.option("--env", "env", default=None, help="Environment (default: base.yaml's default_environment).")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True)
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None, help="Also write the plan as JSON here.")
@click.option("--markdown-out", type=click.Path(dir_okay=False), default=None, help="Also write the Markdown here.")
@click.option("--allow-replace", is_flag=True, help="Acknowledge task replacements (every table reloads).")
@click.option("--allow-delete", is_flag=True, help="Acknowledge deleting stacks or tasks.")
@click.option("--allow-drift", is_flag=True, help="Acknowledge overwriting changes made outside dmsctl.")
@click.option("--no-color", is_flag=True, help="No ANSI colour (also: NO_COLOR).")
@click.option("--lint/--no-lint", default=True, show_default=True)
@aws_options
@click.pass_context
def plan(ctx, env, fmt, out, markdown_out, allow_replace, allow_delete, allow_drift, no_color, lint, endpoint_url,
         profile, max_attempts) -> None:
    """Show what apply would do, and whether it is safe (go/no-go). Never changes AWS."""
    result = compiled(ctx.obj["config_dir"], env, lint)
    gw = gateway(result.tree.region, read_only=True, endpoint_url=endpoint_url, profile=profile,
                 max_attempts=max_attempts)
    planned = make_plan(result, gw, Flags(allow_replace, allow_delete, allow_drift))
    click.echo(render(planned.plan, fmt, use_color(no_color)), nl=False)
    if out:
        Path(out).write_text(render(planned.plan, "json", False))
    if markdown_out:
        Path(markdown_out).write_text(render(planned.plan, "markdown", False))
    ctx.exit(planned.plan.exit_code())
