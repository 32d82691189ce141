"""Stopping, starting and waiting for DMS tasks during apply.

Waits poll DescribeReplicationTasks for all the tasks of one stack in a single call (filtered by
ARN), with backoff and the caller's timeout. A full-load-only task that finishes goes straight to
`stopped` with StopReason FULL_LOAD_ONLY_FINISHED: that is success, not failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dmsctl.deployer.checks import interrupts_a_load
from dmsctl.deployer.errors import AwsError, DmsctlError
from dmsctl.deployer.gateway import Gateway
from dmsctl.deployer.live import LiveTask, TableStat, read_table_stats

STOPPED_BY_TAG = "dmsctl:stopped-by-run"


class TaskFailure(DmsctlError):
    pass


@dataclass(frozen=True)
class TaskState:
    identifier: str
    arn: str
    status: str
    stop_reason: str | None
    migration_type: str
    ever_started: bool
    last_failure: str | None
    endpoints: tuple[str, ...] = ()
    instance_arn: str = ""


def describe(gw: Gateway, identifiers: list[str]) -> dict[str, TaskState]:
    if not identifiers:
        return {}
    rows = gw.paginate("dms", "describe_replication_tasks", "ReplicationTasks", resource=", ".join(identifiers),
                       Filters=[{"Name": "replication-task-id", "Values": list(identifiers)}], WithoutSettings=True)
    return {r["ReplicationTaskIdentifier"]: TaskState(
        r["ReplicationTaskIdentifier"], r["ReplicationTaskArn"], r.get("Status", ""), r.get("StopReason"),
        r.get("MigrationType", ""), "ReplicationTaskStartDate" in r, r.get("LastFailureMessage"),
        tuple(a for a in (r.get("SourceEndpointArn"), r.get("TargetEndpointArn")) if a),
        r.get("ReplicationInstanceArn", "")) for r in rows}


def assert_no_full_load(gw: Gateway, state: TaskState, allow_interrupt: bool = False) -> None:
    """Right before stopping: time has passed since the plan, so look again (unless interrupting a load
    was acknowledged, --allow-interrupt)."""
    if allow_interrupt:
        return
    live = LiveTask(state.identifier, state.arn, state.status, state.migration_type, "{}", None, "", "", "")
    loading = [s for s in read_table_stats(gw, live) if interrupts_a_load(s)]
    if loading:
        names = ", ".join(f"{s.schema}.{s.table} ({s.state})" for s in loading[:5])
        raise TaskFailure(f"task {state.identifier} has tables loading now ({names}): not stopping it, because "
                          "that would restart the load from zero. Nothing was changed for this stack; re-run "
                          "apply when the load has completed")


def tag_stopped(gw: Gateway, state: TaskState, run_id: str) -> None:
    gw.call("dms", "add_tags_to_resource", resource=f"task {state.identifier}", ResourceArn=state.arn,
            Tags=[{"Key": STOPPED_BY_TAG, "Value": run_id}])


def untag_stopped(gw: Gateway, arn: str, identifier: str) -> None:
    gw.call("dms", "remove_tags_from_resource", resource=f"task {identifier}", ResourceArn=arn,
            TagKeys=[STOPPED_BY_TAG])


def stop(gw: Gateway, states: list[TaskState], timeout: float, max_delay: float = 30.0) -> None:
    for s in states:
        gw.call("dms", "stop_replication_task", resource=f"task {s.identifier}", ReplicationTaskArn=s.arn)
    wait(gw, [s.identifier for s in states], lambda t: t.status == "stopped", "stopped", timeout, max_delay)


STARTABLE = frozenset({"ready", "stopped", "failed"})


def wait_startable(gw: Gateway, identifiers: list[str], timeout: float,
                   max_delay: float = 30.0) -> dict[str, TaskState]:
    """New tasks must finish creating, and their endpoints' connection tests must not be running.

    Only the tests of each task's own (replication instance, endpoint) pairs count: DescribeConnections
    also lists tests of the same endpoints from other instances (other teams'), which may well fail
    (no network path from there) and say nothing about these tasks."""
    states = wait(gw, identifiers, lambda t: t.status in STARTABLE | {"running", "starting"}, "created", timeout,
                  max_delay)
    pairs = {(t.instance_arn, e) for t in states.values() for e in t.endpoints}
    endpoints = sorted({e for _, e in pairs})
    if not endpoints:
        return states

    def connections() -> list[dict[str, Any]]:
        rows = gw.paginate("dms", "describe_connections", "Connections", resource="endpoint connection tests",
                           Filters=[{"Name": "endpoint-arn", "Values": endpoints}])
        return [r for r in rows if (r.get("ReplicationInstanceArn"), r.get("EndpointArn")) in pairs]

    def failed(rows: list[dict[str, Any]]) -> str | None:
        bad = [r for r in rows if r.get("Status") == "failed"]
        if bad:
            return "; ".join(f"connection test of endpoint {r.get('EndpointIdentifier', r.get('EndpointArn'))} "
                             f"from replication instance "
                             f"{r.get('ReplicationInstanceIdentifier', r.get('ReplicationInstanceArn'))} "
                             f"failed: {r.get('LastFailureMessage', 'no reason given')}" for r in bad)
        return None

    def finished() -> list[dict[str, Any]]:
        try:
            return gw.poll(connections, lambda rows: not any(r.get("Status") == "testing" for r in rows),
                           what="endpoint connection tests", timeout=timeout, failed=failed, first_delay=2,
                           max_delay=max_delay)
        except AwsError as exc:
            raise TaskFailure(str(exc)) from None

    rows = finished()
    stale = [r for r in rows if r.get("Status") == "failed"]
    if stale:  # a test that failed earlier says nothing about now (the cause may be fixed): test again
        for r in stale:
            gw.call("dms", "test_connection", resource=f"endpoint {r.get('EndpointIdentifier', r['EndpointArn'])}",
                    ReplicationInstanceArn=r["ReplicationInstanceArn"], EndpointArn=r["EndpointArn"])
        rows = finished()
    reason = failed(rows)  # every test is over and one failed again: never start against it
    if reason:
        raise TaskFailure(f"endpoint connection tests: {reason}")
    return states


def start(gw: Gateway, state: TaskState, start_type: str, cdc_start_position: str | None = None) -> None:
    extra = {"CdcStartPosition": cdc_start_position} if cdc_start_position else {}
    gw.call("dms", "start_replication_task", resource=f"task {state.identifier}", ReplicationTaskArn=state.arn,
            StartReplicationTaskType=start_type, **extra)


def is_up(t: TaskState) -> bool:
    return t.status == "running" or (t.status == "stopped" and t.stop_reason is not None
                                     and "FULL_LOAD_ONLY_FINISHED" in t.stop_reason)


def wait(gw: Gateway, identifiers: list[str], done: Callable[[TaskState], bool], what: str, timeout: float,
         max_delay: float = 30.0) -> dict[str, TaskState]:
    if not identifiers:
        return {}

    def failed(states: dict[str, TaskState]) -> str | None:
        bad = [t for t in states.values() if t.status == "failed"]
        missing = [i for i in identifiers if i not in states]
        if bad:
            return "; ".join(f"task {t.identifier} failed: {t.last_failure or 'no reason given'}" for t in bad)
        if missing:
            return f"task(s) {', '.join(missing)} no longer exist"
        return None

    try:
        return gw.poll(lambda: describe(gw, identifiers), lambda st: all(done(st[i]) for i in identifiers if i in st)
                       and len(st) == len(identifiers), what=f"tasks {', '.join(identifiers)} to be {what}",
                       timeout=timeout, failed=failed, max_delay=max_delay)
    except AwsError as exc:
        raise TaskFailure(str(exc)) from None


def wait_dropped(gw: Gateway, entries: tuple[str, ...], timeout: float) -> None:
    """Wait until each "task-id/schema.table" has left the task's table statistics."""
    by_task: dict[str, set[tuple[str, str]]] = {}
    for e in entries:
        ident, table = e.split("/", 1)
        schema, _, name = table.partition(".")  # "schema.table" (P.TableChange.name)
        by_task.setdefault(ident, set()).add((schema, name))
    for ident, tables in by_task.items():
        state = describe(gw, [ident])[ident]
        live = LiveTask(ident, state.arn, state.status, state.migration_type, "{}", None, "", "", "")

        def gone(stats: tuple[TableStat, ...], tables: set[tuple[str, str]] = tables) -> bool:
            return not ({(s.schema, s.table) for s in stats} & tables)

        def table_stats(live: LiveTask = live) -> tuple[TableStat, ...]:
            return read_table_stats(gw, live)

        try:
            gw.poll(table_stats, gone,
                    what=f"DMS to drop {', '.join('.'.join(t) for t in sorted(tables))} from task {ident}",
                    timeout=timeout)
        except AwsError as exc:
            raise TaskFailure(str(exc)) from None
