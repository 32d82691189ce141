"""Apply on the sandbox: tasks stopped vs tasks changed, task-seconds stopped, the physical replication
outage next to its floor, and the wall time and AWS calls of k independent team changes next to one,
with CloudFormation taking realistic time.

Physical outage (per stopped task, sim seconds): from its StopReplicationTask request to the moment
the sandbox has it running again, that is its next StartReplicationTask request + the simulated start
time (`task_start_seconds`: the sandbox's task goes starting -> running exactly then). Both requests
come from the sandbox's own request log (timestamped on its clock), so nothing is taken from dmsctl.
Floor: what the outage cannot be below, as simulated: DMS stop + CloudFormation update + DMS start
(`task_stop_seconds` + `cfn_latency_seconds` + `task_start_seconds`).

Method: the sandbox runs in its own process with a scaled real-time clock (`clock_factor` sim
seconds per real second); the deployer gets `sleep = time.sleep(s / factor)` and a monotonic
clock of `time.monotonic() * factor`, so both sides see the same simulated time and threads
really wait at the same time. (A manual sim clock advanced by each thread's sleep would add the
threads' waits up: parallel work would look serial.) Sim seconds = real seconds x factor, so the
deployer's own CPU time is inflated by the factor too: both are reported.
"""

from __future__ import annotations

import inspect
import time
from datetime import datetime, timedelta
from pathlib import Path

from benchmarks.generate import add_table, change_setting, generate, team_name
from benchmarks.sandbox_proc import SandboxProcess, seed
from dmsctl.compiler.build import compile_tree
from dmsctl.deployer.apply import Applier
from dmsctl.deployer.errors import DmsctlError
from dmsctl.deployer.gateway import Gateway
from dmsctl.deployer.progress import NullSink, Progress

TIMELINE = ("change-set", "stop", "stopped", "deploy", "deployed", "start", "started")
DEFAULT_PARALLELISM = inspect.signature(Applier).parameters["parallelism"].default


def _payloads(result) -> dict:
    return {t.identifier: (t.mappings, t.settings) for t in result.tree.tasks()}


def apply_run(sb, config_dir: Path, teams: list[str], parallelism: int, factor: float) -> dict:
    """Change `teams` (a settings override in the first when there are several, a new table in
    the others), apply, and count what was stopped."""
    old = compile_tree(config_dir, "staging")
    for i, team in enumerate(teams):
        (change_setting if i == 0 and len(teams) > 1 else add_table)(config_dir, team)
    new = compile_tree(config_dir, "staging")
    before, after = _payloads(old), _payloads(new)
    changed = {i for i, p in after.items() if before.get(i) != p}
    dms = sb.client("dms")
    live = {
        t["ReplicationTaskArn"]: t
        for p in dms.get_paginator("describe_replication_tasks").paginate(WithoutSettings=True)
        for t in p["ReplicationTasks"]
    }
    running = {t["ReplicationTaskIdentifier"] for t in live.values() if t["Status"] == "running"}
    mark = len(sb.call("calls"))
    gw = Gateway(
        new.tree.region,
        read_only=False,
        endpoint_url=sb.endpoint_url,
        sleep=lambda s: time.sleep(max(s, 0) / factor),
        monotonic=lambda: time.monotonic() * factor,
    )
    progress = Progress(sink=NullSink(), monotonic=lambda: time.monotonic() * factor)
    applier = Applier(gw, new, progress, parallelism=parallelism)
    error = ""
    t0 = time.perf_counter()
    try:
        code = applier.run()
    except DmsctlError as exc:
        code, error = 1, str(exc)
    real = time.perf_counter() - t0
    log = sb.call("calls")[mark:]
    stops = [c["params"].get("ReplicationTaskArn") for c in log if c["operation"] == "StopReplicationTask"]
    stopped = sorted(live[a]["ReplicationTaskIdentifier"] for a in stops if a in live)
    outages = physical_outages(log, sb.call("state")["config"])
    return {
        "teams_changed": len(teams),
        "parallelism": parallelism,
        "exit_code": code,
        "error": error[:300],
        "tasks_changed": len(changed),
        "tasks_changed_running": len(changed & running),
        "tasks_stopped": len(stopped),
        "stopped_unchanged": sorted(set(stopped) - changed),
        "task_seconds_stopped": round(sum(applier.record.stopped_seconds.values()), 1),
        "outage_seconds": {live[a]["ReplicationTaskIdentifier"]: v for a, v in outages.items() if a in live},
        "outage_seconds_max": max(outages.values(), default=0.0),
        "aws_calls_by_operation": dict(sorted(gw.calls.items())),
        "wall_seconds_real": round(real, 2),
        "wall_seconds_sim": round(real * factor, 1),
        "aws_calls": sum(gw.calls.values()),
        "timeline": [  # sim seconds since the run started
            f"{e.at:6.1f} {e.stack or ''} {e.kind}" for e in progress.events if e.kind in TIMELINE
        ],
    }


def physical_outages(log: list[dict], config: dict) -> dict[str, float]:
    """Task ARN -> sim seconds from its first StopReplicationTask to running again (its next
    StartReplicationTask + the simulated start time), over the sandbox request log `log`."""
    out: dict[str, float] = {}
    stopped_at: dict[str, datetime] = {}
    for c in log:
        arn, at = c["params"].get("ReplicationTaskArn"), c.get("at")
        if not arn or not at:
            continue
        if c["operation"] == "StopReplicationTask":
            stopped_at.setdefault(arn, datetime.fromisoformat(at))
        elif c["operation"] == "StartReplicationTask" and arn in stopped_at:
            running = datetime.fromisoformat(at) + timedelta(seconds=config["task_start_seconds"])
            out[arn] = round(out.get(arn, 0.0) + (running - stopped_at.pop(arn)).total_seconds(), 2)
    return out


def floor_seconds(config: dict, latency: float) -> float:
    return config["task_stop_seconds"] + latency + config["task_start_seconds"]


def measure(
    workdir: Path, k: int, tasks: int, tables: int, seed_value: int, factor: float, latency: float,
    change_set_seconds: float = 0.0,
) -> dict:
    """A tree of 2k+1 teams, deployed and running; apply one team's change, then k teams' changes
    with the default parallelism, then k other teams' with parallelism k."""
    config_dir = generate(workdir / "apply", 2 * k + 1, tasks, tables, seed_value)
    with SandboxProcess(clock_factor=factor) as proc:
        sb = proc.remote
        setup = seed(sb, compile_tree(config_dir, "staging"))
        sb.configure(cfn_latency_seconds=latency, cfn_change_set_seconds=change_set_seconds)
        config = sb.call("state")["config"]
        one = apply_run(sb, config_dir, [team_name(0)], DEFAULT_PARALLELISM, factor)
        many = apply_run(sb, config_dir, [team_name(i) for i in range(1, k + 1)], DEFAULT_PARALLELISM, factor)
        wide = apply_run(sb, config_dir, [team_name(i) for i in range(k + 1, 2 * k + 1)], k, factor)
    return {
        "k": k,
        "teams": 2 * k + 1,
        "clock_factor": factor,
        "cfn_latency_seconds": latency,
        "cfn_change_set_seconds": change_set_seconds,
        "floor_seconds": floor_seconds(config, latency),
        "dms_stop_seconds": config["task_stop_seconds"],
        "dms_start_seconds": config["task_start_seconds"],
        "default_parallelism": DEFAULT_PARALLELISM,
        "setup": setup,
        "one": one,
        "k_default": many,
        "k_parallel_k": wide,
    }
