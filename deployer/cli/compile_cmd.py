"""`dmsctl validate` and `dmsctl compile`."""

from __future__ import annotations

from pathlib import Path

import click

from compiler import output
from compiler.build import compile_tree, validate_all
from compiler.diagnostics import Diagnostic, format_json, format_text, has_errors
from compiler.limits import MAPPINGS_MAX, RESOURCES_MAX, TEMPLATE_INLINE_MAX, TEMPLATE_S3_MAX
from compiler.lint import Linter

LINT_CACHE = Path(".dmsctl-cache") / "cfn-lint"


def linter(enabled: bool) -> Linter | None:
    return Linter(cache_dir=LINT_CACHE) if enabled else None


def report(diags: list[Diagnostic], fmt: str) -> None:
    text = format_json(diags) if fmt == "json" else format_text(diags)
    click.echo(text, err=fmt != "json" and has_errors(diags))


env_option = click.option("--env", "env", default=None, help="Environment (default: base.yaml's default_environment).")
lint_option = click.option("--lint/--no-lint", default=True, show_default=True, help="Run cfn-lint on the templates.")


@click.command()
@env_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@lint_option
@click.pass_context
def validate(ctx: click.Context, env: str | None, fmt: str, lint: bool) -> None:
    """Check the config tree: every file, every environment (or one with --env). Exit 0 or 1."""
    config_dir = Path(ctx.obj["config_dir"])
    if env is None:
        diags = validate_all(config_dir, linter(lint))
    else:
        diags = list(compile_tree(config_dir, env, linter(lint)).diagnostics)
    report(diags, fmt)
    ctx.exit(1 if has_errors(diags) else 0)


@click.command("compile")
@env_option
@click.option("--out", "out_dir", default="build", show_default=True, type=click.Path(file_okay=False),
              help="Where to write templates, mappings and the manifest (under <out>/<env>/).")
@click.option("--stats", is_flag=True, help="Print the headroom left against AWS size limits.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@lint_option
@click.pass_context
def compile_(ctx: click.Context, env: str | None, out_dir: str, stats: bool, fmt: str, lint: bool) -> None:
    """Validate, then write CloudFormation templates and TableMappings for one environment."""
    result = compile_tree(Path(ctx.obj["config_dir"]), env, linter(lint))
    if not result.ok:
        report(list(result.diagnostics), fmt)
        ctx.exit(1)
    try:
        target = output.write(result, Path(out_dir))
    except (FileExistsError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    if fmt == "json":
        report(list(result.diagnostics), fmt)
    else:
        if result.diagnostics:
            click.echo(format_text(result.diagnostics))
        tree = result.tree
        tasks = len(tree.tasks())
        click.echo(f"compiled {tree.env} ({tree.account_id}, {tree.region}): {len(tree.stacks)} stacks, "
                   f"{tasks} tasks -> {target}")
    if stats:
        click.echo(stats_table(result))


def stats_table(result) -> str:
    rows = ["stack / task                              template   resources   mappings   headroom"]
    for s in result.stats:
        rows.append(f"{s.stack:<40} {s.template_bytes:>9,} {s.resources:>6}/{RESOURCES_MAX}"
                    f"   {'(via S3)' if s.template_bytes > TEMPLATE_INLINE_MAX else '        '}"
                    f"  {100 * (1 - s.template_bytes / TEMPLATE_S3_MAX):5.1f} %")
        for t in s.tasks:
            rows.append(f"  {t.task:<38} {t.tables:>6} tables   {t.mapping_bytes:>10,} B"
                        f"  {100 * t.mapping_headroom:5.1f} % of {MAPPINGS_MAX // 1024 // 1024} MB left")
    return "\n".join(rows)
