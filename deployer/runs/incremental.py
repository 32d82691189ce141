"""Incremental run at time T (docs/WORKFLOWS.md "Incremental run"): one CDC window ending at T.

The window starts where the last successful run stopped (the `latest` checkpoint; the first run of
a cdc task at `cdc_start_time` - on a PostgreSQL source, which has no custom CDC start time, at the
task's native start point -, the first run of a full-load-and-cdc task with its full load). Only
a run that reaches T writes metrics and moves the checkpoint: after a failure the next run starts
from the same place, so no change is ever skipped (some may be written twice).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from dmsctl.deployer.errors import DmsctlError
from dmsctl.deployer.gateway import Gateway
from dmsctl.deployer.handover import POSTGRES_ENGINES
from dmsctl.deployer.progress import Progress
from dmsctl.deployer.runs import dms, state
from dmsctl.deployer.runs.common import Emitter, new_run_id
from dmsctl.deployer.runs.model import (
    DEFAULT_TIMEOUTS,
    RunFailed,
    RunRefused,
    RunResult,
    RunTarget,
    RunTimeouts,
    iso,
    parse_time,
    server_time,
    utc_now,
)

REACHED = "STOPPED_AT_SERVER_TIME"


def run_incremental(gw: Gateway, target: RunTarget, at: datetime, progress: Progress | None = None,
                    timeouts: RunTimeouts = DEFAULT_TIMEOUTS, run_id: str | None = None) -> RunResult:
    run_id = run_id or new_run_id(at)
    tid, table = target.task_id, target.state_table
    out = Emitter(progress, tid)
    window_end = iso(at)

    before = state.latest_checkpoint(gw, table, tid)
    row = dms.startable_task(gw, tid, target.ref)
    if before is not None and _after(before.window_end, at) is False:
        raise RunRefused(f"task {tid} already ran up to {before.window_end} (run {before.run}): a run's time must "
                         f"be later than that, {window_end} is not. Nothing was changed")
    migration_type = row.get("MigrationType") or target.task.migration_type
    positions: dict = {"CdcStopPosition": server_time(at)}
    if migration_type == "cdc":
        start_type = "start-replication"
        if before is not None:
            positions["CdcStartPosition"] = before.checkpoint
            window_start: str | None = before.window_end
        elif target.task.source_engine in POSTGRES_ENGINES:
            # PostgreSQL as a source doesn't support a custom CDC start time (DMS User Guide; the sandbox's
            # A37): the first window starts at the task's native start point, where it starts reading (with
            # the endpoint's slot_name, that replication slot), not at cdc_start_time.
            window_start = None
        elif target.cdc_start_time:
            first = parse_time(target.cdc_start_time, "cdc_start_time")
            positions["CdcStartTime"] = first
            window_start = iso(first)
        else:
            raise RunRefused(f"task {tid} has no checkpoint yet and no cdc_start_time: set cdc_start_time on "
                             f"{target.ref} (where its first window starts) and apply")
    elif migration_type == "full-load-and-cdc":
        start_type = "resume-processing" if "ReplicationTaskStartDate" in row else "start-replication"
        window_start = before.window_end if before is not None else None
    else:
        raise RunRefused(f"task {tid} is {migration_type}: it runs as an export, not incrementally")
    if window_start is not None and _after(window_start, at) is False:
        raise RunRefused(f"task {tid}: the window would start at {window_start}, not before the run time "
                         f"{window_end}. Nothing was changed")

    result = RunResult(run_id, tid, "incremental", "failed", window_end, start_type=start_type,
                       window_start=window_start, window_end=window_end,
                       checkpoint_before=before.checkpoint if before else None)
    since = (f"from {window_start}" if window_start else "with a full load" if migration_type != "cdc"
             else "from the task's native start point (PostgreSQL: no custom CDC start time)")
    out.emit("step", f"incremental run {run_id} of {tid}: {since} to {window_end}")
    try:
        reason = dms.ensure_connections(gw, row, timeouts.connection)
        if reason:
            raise RunFailed(f"{reason}; task {tid} was not started")
        out.emit("start", f"starting task {tid} ({start_type}, stop at {positions['CdcStopPosition']})")
        dms.start(gw, row, start_type, **positions)
        final = dms.wait_stopped(gw, tid, timeouts.task, lambda s: out.emit("wait", f"task {tid} is {s}"))
        reason = final.get("StopReason") or ""
        if final.get("Status") != "stopped" or REACHED not in reason:
            why = final.get("LastFailureMessage") or reason or final.get("Status")
            raise RunFailed(f"task {tid} {final.get('Status')} before reaching {window_end}: {why}. The checkpoint "
                            f"was not moved: the next run covers this window again")
        counts = dms.table_counts(gw, final)
        result = replace(result, tables=counts)
        checkpoint = final.get("RecoveryCheckpoint")
        if not checkpoint:
            raise RunFailed(f"task {tid} stopped at {window_end} but reported no RecoveryCheckpoint: the checkpoint "
                            "was not moved, the next run covers this window again")
        state.write_metrics(gw, table, tid, run_id, window_start, window_end, counts)
        state.write_checkpoint(gw, table, tid, state.Checkpoint(checkpoint, window_end, run_id, iso(utc_now()),
                                                                window_start),
                               before.checkpoint if before else None)
    except DmsctlError as exc:
        result = replace(result, message=str(exc))
        out.emit("error", str(exc))
        raise RunFailed(str(exc), result) from None
    result = replace(result, status="succeeded", checkpoint_after=checkpoint)
    out.emit("done", f"task {tid} reached {window_end}: {result.totals['inserts']} inserts, "
                     f"{result.totals['updates']} updates, {result.totals['deletes']} deletes in "
                     f"{len(counts)} table(s); checkpoint moved")
    return result


def _after(stamp: str, at: datetime) -> bool | None:
    """Whether `at` is later than the stored time `stamp` (None: not a time, let DMS judge the position)."""
    try:
        return at > parse_time(stamp, "window_end")
    except DmsctlError:
        return None
