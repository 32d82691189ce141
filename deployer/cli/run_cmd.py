"""`dmsctl run`, `dmsctl checkpoints`, `dmsctl metrics`: scheduled runs from the command line."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import asdict

import click

from dmsctl.deployer import runs
from dmsctl.deployer.cli.aws_options import aws_options, compiled, gateway
from dmsctl.deployer.cli.context import config_dir, env_option, no_color_option, use_color
from dmsctl.deployer.cli.report import reported
from dmsctl.deployer.errors import DmsctlError
from dmsctl.deployer.interrupt import Interrupt, Interrupted, handling_signals
from dmsctl.deployer.progress import NullSink, PlainSink, Progress, RichSink


def _options(f):
    f = env_option(f)
    f = click.argument("ref", metavar="TEAM/TASK")(f)
    return f


def _format_option(f):
    return click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
                        help="text: a table; json: the records as JSON.")(f)


def _resolve(ctx: click.Context, env: str | None, ref: str):
    """Compile the config (no cfn-lint: nothing is deployed) and find TEAM/TASK in it."""
    result = compiled(config_dir(ctx), env, lint=False)
    return result, runs.RunTarget.from_compiled(result, ref)


def _table(headers: list[str], rows: list[list[str]], right: Collection[int] = ()) -> str:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells) -> str:
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()
    return "\n".join(line(r) for r in [headers, *rows])


# -- dmsctl run -------------------------------------------------------------------------------------------
RUN_WIND_DOWN = "stopping the wait; a task already started keeps running, nothing new is started"


@click.command("run")
@_options
@click.option("--at", "at", default=None, metavar="TIME",
              help="The run time T, ISO-8601 UTC (e.g. 2026-11-01T02:00:00Z). Default: now.")
@click.option("--timeout", default=86400, show_default=True, type=click.IntRange(60),
              help="Seconds to wait for the task to finish its load or CDC window.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: print the run's result at the end instead of progress lines.")
@no_color_option
@aws_options
@click.pass_context
def run(ctx, ref, env, at, timeout, fmt, no_color, endpoint_url, profile, max_attempts) -> None:
    """Run a scheduled task once, now or at --at: an export into a new dated folder, or one CDC window
    from the last checkpoint. Exit 0 on success, 1 otherwise (with the reason).

    Example: dmsctl run food/recipes-export --env staging --at 2026-11-01T02:00:00Z
    """
    when = runs.parse_time(at) if at else runs.utc_now()
    result, target = _resolve(ctx, env, ref)
    gw = gateway(result.require_tree().region, read_only=False, endpoint_url=endpoint_url, profile=profile,
                 max_attempts=max_attempts)
    color = use_color(no_color)
    sink = NullSink() if fmt == "json" else (RichSink() if color else PlainSink(echo=click.echo))
    progress = Progress(sink=sink)
    interrupt = Interrupt()
    gw.sleep = interrupt.wrap(gw.sleep)  # SIGINT / SIGTERM end the wait at once
    outcome: runs.RunResult | None = None
    error: DmsctlError | None = None
    try:
        with handling_signals(interrupt, lambda message: click.echo(message, err=True), RUN_WIND_DOWN):
            outcome = runs.run_task(gw, target, when, progress, runs.RunTimeouts(task=timeout))
    except runs.RunFailed as exc:
        outcome, error = exc.result, exc
    except DmsctlError as exc:
        error = exc
    finally:
        progress.close()
    if interrupt.is_set and interrupt.signum is not None:
        started = any(e.kind == "start" for e in progress.events)
        error = Interrupted(interrupt.signum)
        error.args = (f"run of {target.task_id} {error}: " + (
            "the task was started and keeps running (DMS finishes the load or window); this run's result, and "
            "for an incremental run its checkpoint, are not recorded: the next run starts from the last "
            "recorded checkpoint (changes may be written twice, never skipped)" if started else
            "the task was not started; nothing was changed"),)
    if fmt == "json":  # one document, the error in it (the error boundary then adds none)
        click.echo(json.dumps({"run": outcome.as_dict() if outcome else None, "error": str(error) if error else "",
                               "events": [e.__dict__ for e in progress.events]}, indent=2, sort_keys=True,
                              ensure_ascii=False))
        reported(ctx)
    elif outcome is not None:
        click.echo(_summary(outcome, target))
    if error is not None:
        raise error
    ctx.exit(0)


def _summary(r: runs.RunResult, target: runs.RunTarget) -> str:
    if r.kind == "export":
        head = f"Run {r.run_id} of {r.task}: {r.status}. Export of {r.at} into {r.folder}"
        rows = [[t.name, t.state, str(t.full_load_rows)] for t in r.tables]
        if rows:
            rows.append(["total", "", str(r.totals["full_load_rows"])])
        body = _table(["TABLE", "STATE", "ROWS"], rows, right={2}) if rows else "(no table statistics)"
        return f"{head}\n{body}"
    window = f"{r.window_start or 'full load'} -> {r.window_end}"
    head = f"Run {r.run_id} of {r.task}: {r.status}. Window {window} ({r.start_type})"
    rows = [[t.name, str(t.full_load_rows), str(t.inserts), str(t.updates), str(t.deletes)] for t in r.tables]
    if rows:
        rows.append(["total", *(str(r.totals[k]) for k in ("full_load_rows", "inserts", "updates", "deletes"))])
    body = _table(["TABLE", "FULL LOAD", "INSERTS", "UPDATES", "DELETES"], rows, right={1, 2, 3, 4}) \
        if rows else "(no table statistics)"
    moved = (f"checkpoint {r.checkpoint_before or '(none)'} -> {r.checkpoint_after}" if r.ok
             else f"checkpoint unchanged: {r.checkpoint_before or '(none)'}")
    return f"{head}\n{body}\n{moved}"


# -- dmsctl checkpoints / metrics ----------------------------------------------------------------------------
def _read_gateway(result, endpoint_url, profile, max_attempts):
    # Read-only: these commands only Get and Query the state table.
    return gateway(result.require_tree().region, read_only=True, endpoint_url=endpoint_url, profile=profile,
                   max_attempts=max_attempts)


@click.command("checkpoints")
@_options
@_format_option
@aws_options
@click.pass_context
def checkpoints(ctx, ref, env, fmt, endpoint_url, profile, max_attempts) -> None:
    """The task's checkpoints: the latest, then one per successful run, newest first.

    Example: dmsctl checkpoints growth/users-incremental --env prod
    """
    result, target = _resolve(ctx, env, ref)
    gw = _read_gateway(result, endpoint_url, profile, max_attempts)
    log = runs.read_checkpoints(gw, target.state_table, target.task_id)
    if fmt == "json":
        click.echo(json.dumps({"task": target.task_id, "latest": asdict(log.latest) if log.latest else None,
                               "history": [asdict(c) for c in log.history]}, indent=2, sort_keys=True))
        return
    if log.latest is None and not log.history:
        click.echo(f"No checkpoint recorded for {target.task_id} yet (no incremental run has succeeded).")
        return
    rows = [[kind, c.window_start or "-", c.window_end, c.run, c.updated_at, c.checkpoint]
            for kind, c in ([("latest", log.latest)] if log.latest else []) + [("run", c) for c in log.history]]
    click.echo(f"Checkpoints of {target.task_id} (newest first)")
    click.echo(_table(["", "WINDOW START", "WINDOW END", "RUN", "UPDATED AT", "CHECKPOINT"], rows))


@click.command("metrics")
@_options
@_format_option
@aws_options
@click.pass_context
def metrics(ctx, ref, env, fmt, endpoint_url, profile, max_attempts) -> None:
    """Inserts, updates and deletes per table of each successful incremental run, newest first.

    Example: dmsctl metrics growth/users-incremental --env prod --format json
    """
    result, target = _resolve(ctx, env, ref)
    gw = _read_gateway(result, endpoint_url, profile, max_attempts)
    all_runs = runs.read_metrics(gw, target.state_table, target.task_id)
    kinds = ("inserts", "updates", "deletes", "full_load_rows")
    if fmt == "json":
        click.echo(json.dumps({"task": target.task_id, "runs": [
            {"run": m.run, "window_start": m.window_start, "window_end": m.window_end,
             "tables": [asdict(t) for t in m.tables], "totals": {k: m.total(k) for k in kinds}}
            for m in all_runs]}, indent=2, sort_keys=True))
        return
    if not all_runs:
        click.echo(f"No metrics recorded for {target.task_id} yet (no incremental run has succeeded).")
        return
    rows = []
    for m in all_runs:
        first = [m.run, m.window_start or "full load", m.window_end]
        for i, t in enumerate(m.tables):
            rows.append([*(first if i == 0 else ["", "", ""]), t.name, str(t.inserts), str(t.updates),
                         str(t.deletes)])
        rows.append(["", "", "", "total", *(str(m.total(k)) for k in kinds[:3])])
    click.echo(f"Metrics of {target.task_id} (per run, newest first)")
    click.echo(_table(["RUN", "WINDOW START", "WINDOW END", "TABLE", "INSERTS", "UPDATES", "DELETES"], rows,
                      right={4, 5, 6}))

