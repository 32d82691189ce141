"""`dmsctl apply` and `dmsctl unlock`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from dmsctl.compiler import naming
from dmsctl.deployer.apply import Applier, Timeouts
from dmsctl.deployer.checks import Flags
from dmsctl.deployer.cli.aws_options import aws_options, compiled, gateway
from dmsctl.deployer.cli.context import config_dir, env_option, no_color_option, use_color
from dmsctl.deployer.cli.plan_cmd import render
from dmsctl.deployer.cli.report import reported
from dmsctl.deployer.errors import DmsctlError
from dmsctl.deployer.interrupt import Interrupt, handling_signals
from dmsctl.deployer.lock import Lock
from dmsctl.deployer.plan import plan_from_json
from dmsctl.deployer.progress import NullSink, PlainSink, Progress, RichSink


@click.command()
@env_option
@click.option("--plan", "plan_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Apply only if a fresh plan has this reviewed plan's checksum.")
@click.option("--allow-replace", is_flag=True, help="Acknowledge task replacements (every table reloads).")
@click.option("--allow-delete", is_flag=True, help="Acknowledge deleting stacks or tasks.")
@click.option("--allow-drift", is_flag=True, help="Acknowledge overwriting changes made outside dmsctl.")
@click.option("--allow-interrupt", is_flag=True,
              help="Acknowledge stopping a task while a table of it is loading (that load restarts from zero).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: print a machine-readable run record at the end instead of progress lines.")
@click.option("--timeout", default=3600, show_default=True, type=click.IntRange(60),
              help="Seconds to wait for one stack deploy or one batch of tasks to stop/start.")
@click.option("--parallel", default=10, show_default=True, type=click.IntRange(1, 32),
              help="Team stacks deployed at once.")
@no_color_option
@click.option("--lint/--no-lint", default=True, show_default=True, help="Run cfn-lint on the compiled templates.")
@aws_options
@click.pass_context
def apply(ctx, env, plan_file, allow_replace, allow_delete, allow_drift, allow_interrupt, yes, fmt, timeout, parallel,
          no_color, lint, endpoint_url, profile, max_attempts) -> None:
    """Plan afresh from live state, then stop -> deploy -> resume, step by step.

    With --plan, applies only when the fresh plan is the reviewed one (same checksum).

    Example: dmsctl apply --env staging --plan plan.json --yes
    """
    result = compiled(config_dir(ctx), env, lint)
    expected = None
    if plan_file:
        try:
            expected = plan_from_json(Path(plan_file).read_text())
        except (ValueError, KeyError, TypeError) as exc:
            raise DmsctlError(f"{plan_file}: not a usable plan file: {exc}") from None
    color = use_color(no_color)
    sink = NullSink() if fmt == "json" else (RichSink() if color else PlainSink(echo=click.echo))
    progress = Progress(sink=sink)
    gw = gateway(result.require_tree().region, read_only=False, endpoint_url=endpoint_url, profile=profile,
                 max_attempts=max_attempts)
    interrupt = Interrupt()
    gw.sleep = interrupt.wrap(gw.sleep)  # every wait of the run ends at once on SIGINT / SIGTERM
    flags = Flags(allow_replace, allow_delete, allow_drift, allow_interrupt)
    applier = Applier(gw, result, progress, flags=flags,
                      timeouts=Timeouts(task=timeout, stack=timeout, drop=timeout), parallelism=parallel,
                      interrupt=interrupt)

    def confirm(plan) -> bool:
        if yes or not sys.stdin.isatty():
            if not yes:
                raise DmsctlError("not a terminal and --yes not given: refusing to apply without confirmation")
            return True
        click.echo(render(plan, "text", color))
        with interrupt.raising():
            return click.confirm("Apply this plan?", default=False)

    error = ""
    try:
        with handling_signals(interrupt, lambda message: click.echo(message, err=True)):
            code = applier.run(expected=expected, confirm=confirm)
    except BaseException as exc:
        error = str(exc) if isinstance(exc, DmsctlError) else f"{type(exc).__name__}: {exc}".rstrip(": ")
        raise
    finally:
        if fmt == "json":  # one document, the error in it (the error boundary then adds none)
            click.echo(json.dumps({"run": applier.record.as_dict(), "error": error,
                                   "events": [e.__dict__ for e in progress.events]}, indent=2, sort_keys=True,
                                  ensure_ascii=False))
            reported(ctx)
    if fmt != "json":
        rec = applier.record
        if rec.stopped_seconds:
            stops = ", ".join(f"{k} {v:.0f} s" for k, v in sorted(rec.stopped_seconds.items()))
            click.echo(f"Tasks stopped by this run: {stops}")
        click.echo(f"Run {rec.run_id}: {rec.result}.")
    ctx.exit(code)


@click.command()
@env_option
@click.option("--id", "run_id", required=True, metavar="RUN_ID",
              help="The run id the lock names (see the apply error).")
@aws_options
@click.pass_context
def unlock(ctx, env, run_id, endpoint_url, profile, max_attempts) -> None:
    """Remove a deploy lock left behind by a run that died.

    Example: dmsctl unlock --env prod --id 20261201T101500Z-ab12cd
    """
    result = compiled(config_dir(ctx), env, lint=False)
    tree = result.require_tree()
    gw = gateway(tree.region, read_only=False, endpoint_url=endpoint_url, profile=profile, max_attempts=max_attempts)
    lock = Lock(gw, naming.lock_table(tree.resource_prefix), tree.env)
    holder = lock.current()
    if holder is None:
        click.echo(f"no lock is held for {tree.env}")
        return
    if not lock.force_release(run_id):
        raise DmsctlError(f"the {tree.env} lock is held by {holder.describe()}, not by run {run_id}: not removed")
    click.echo(f"removed the {tree.env} lock of run {run_id} ({holder.owner})")
