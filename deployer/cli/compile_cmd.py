"""`dmsctl validate` and `dmsctl compile`."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import click

from dmsctl.compiler import output
from dmsctl.compiler.build import compile_tree, validate_all
from dmsctl.compiler.cache import CompileCache
from dmsctl.compiler.findings import FORMATTERS, Finding, format_json, has_errors
from dmsctl.compiler.limits import MAPPINGS_MAX, RESOURCES_MAX, TEMPLATE_INLINE_MAX, TEMPLATE_S3_MAX
from dmsctl.compiler.lint import Linter
from dmsctl.deployer.cli.context import config_dir, env_option
from dmsctl.deployer.errors import DmsctlError


def cache_root() -> Path:
    """DMSCTL_CACHE_DIR, else the user's cache folder (XDG): dmsctl's caches, one folder each."""
    explicit = os.environ.get("DMSCTL_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dmsctl"


def lint_cache() -> Path:
    """cfn-lint results by template hash."""
    return cache_root() / "cfn-lint"


def linter(enabled: bool) -> Linter | None:
    return Linter(cache_dir=lint_cache()) if enabled else None


def compile_cache() -> CompileCache | None:
    """Parsed files and rendered team stacks by content (compiler/cache.py); DMSCTL_COMPILE_CACHE=off
    compiles everything from scratch."""
    if os.environ.get("DMSCTL_COMPILE_CACHE", "").strip().lower() in ("off", "0", "false", "no"):
        return None
    return CompileCache(cache_root() / "compile")


def report(findings: list[Finding], fmt: str) -> None:
    """The findings in `fmt`: text (on stderr when there are errors), json or github (always on stdout)."""
    click.echo(FORMATTERS[fmt](findings), err=fmt == "text" and has_errors(findings))


format_option = click.option(
    "--format", "fmt", type=click.Choice(sorted(FORMATTERS)), default="text", show_default=True,
    help="text: file:line:col lines; json: the findings as JSON; github: GitHub workflow annotations.")


lint_option = click.option("--lint/--no-lint", default=True, show_default=True,
                           help="Run cfn-lint on the compiled templates (results cached by template hash).")


@click.command()
@env_option
@format_option
@lint_option
@click.pass_context
def validate(ctx: click.Context, env: str | None, fmt: str, lint: bool) -> None:
    """Check the config tree: every file, every environment (or one with --env). Exit 0 or 1.

    Example: dmsctl validate --env staging --no-lint
    """
    tree = config_dir(ctx)
    if env is None:
        diags = validate_all(tree, linter(lint), compile_cache())
    else:
        diags = list(compile_tree(tree, env, linter(lint), cache=compile_cache()).diagnostics)
    report(diags, fmt)
    ctx.exit(1 if has_errors(diags) else 0)


@click.command("compile")
@env_option
@click.option("--out", "out_dir", default="build", show_default=True, type=click.Path(file_okay=False),
              help="Where to write templates, mappings and the manifest (under <out>/<env>/).")
@click.option("--stats", is_flag=True, help="Print the headroom left against AWS size limits.")
@format_option
@lint_option
@click.pass_context
def compile_(ctx: click.Context, env: str | None, out_dir: str, stats: bool, fmt: str, lint: bool) -> None:
    """Validate, then write CloudFormation templates and TableMappings for one environment.

    Example: dmsctl compile --env prod --out build/ --stats
    """
    result = compile_tree(config_dir(ctx), env, linter(lint), cache=compile_cache())
    if not result.ok:
        report(list(result.diagnostics), fmt)
        ctx.exit(1)
    try:
        target = output.write(result, Path(out_dir))
    except (FileExistsError, OSError) as exc:
        raise DmsctlError(str(exc)) from None
    tree = result.require_tree()
    if fmt == "json":  # one document: the findings, what was written and, with --stats, the sizes
        doc = json.loads(format_json(result.diagnostics))
        doc["compiled"] = {"env": tree.env, "account_id": tree.account_id, "region": tree.region,
                           "stacks": len(tree.stacks), "tasks": len(tree.tasks()), "out": str(target)}
        if stats:
            doc["stats"] = [asdict(s) for s in result.stats]
        click.echo(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False))
        return
    if result.diagnostics:
        report(list(result.diagnostics), fmt)
    click.echo(f"compiled {tree.env} ({tree.account_id}, {tree.region}): {len(tree.stacks)} stacks, "
               f"{len(tree.tasks())} tasks -> {target}")
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
