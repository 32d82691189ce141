"""Scheduled runs performed from the command line (`dmsctl run`), the same sequences the compiled
state machines perform (docs/WORKFLOWS.md), and reading back their checkpoints and metrics.

    target = RunTarget.from_compiled(compile_result, "food/orders-export")
    result = run_task(gw, target, at=parse_time("2026-11-01T02:00:00Z"), progress=progress)

Every AWS call goes through the Gateway. The run time T is always an explicit input. A run never
takes the deploy lock, but refuses to start while an apply holds it. Errors: `RunRefused` (nothing
was changed), `RunFailed` (with `.result`: how far it got), `UnknownTask`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from dmsctl.compiler.model import Schedule
from dmsctl.deployer.gateway import Gateway
from dmsctl.deployer.progress import Progress
from dmsctl.deployer.runs.export import run_export
from dmsctl.deployer.runs.incremental import run_incremental
from dmsctl.deployer.runs.model import (
    DEFAULT_TIMEOUTS,
    RunError,
    RunFailed,
    RunRefused,
    RunResult,
    RunTarget,
    RunTimeouts,
    TableCount,
    UnknownTask,
    find_task,
    iso,
    parse_time,
    utc_now,
)
from dmsctl.deployer.runs.state import (
    Checkpoint,
    CheckpointLog,
    RunMetrics,
    TableMetrics,
    ensure_no_deploy,
    read_checkpoints,
    read_metrics,
)

__all__ = [
    "Checkpoint", "CheckpointLog", "RunError", "RunFailed", "RunMetrics", "RunRefused", "RunResult", "RunTarget",
    "RunTimeouts", "Schedule", "TableCount", "TableMetrics", "UnknownTask", "ensure_no_deploy", "find_task", "iso",
    "parse_time", "read_checkpoints", "read_metrics", "run_export", "run_incremental", "run_task", "utc_now",
]


def run_task(gw: Gateway, target: RunTarget, at: datetime, progress: Progress | None = None,
             timeouts: RunTimeouts = DEFAULT_TIMEOUTS, run_id: str | None = None, check_lock: bool = True,
             now: Callable[[], float] = time.time) -> RunResult:
    """One run of a scheduled task at time `at`: an export (full-load) or an incremental window (cdc,
    full-load-and-cdc). `now` (wall clock, epoch seconds) only decides whether a deploy lock expired."""
    if target.schedule is None:
        raise RunRefused(f"task {target.ref} has no schedule: `dmsctl run` runs scheduled tasks only. Add "
                         f"`schedule:` (expression, and output for a full-load export) to {target.task.name} in "
                         f"teams/{target.task.team}.yaml and apply; tasks without one are started by dmsctl apply")
    if check_lock:
        ensure_no_deploy(gw, target.state_table, target.env, now)
    if target.kind == "export":
        return run_export(gw, target, at, progress, timeouts, run_id)
    return run_incremental(gw, target, at, progress, timeouts, run_id)
