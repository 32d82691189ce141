"""Stopping, starting and waiting for DMS tasks during apply.

Waits poll DescribeReplicationTasks for the tasks of every stack waiting at the same time in a single
call (filtered by identifier; the gateway's shared poller), with backoff and the caller's timeout.
A full-load-only task that finishes goes straight to `stopped` with StopReason FULL_LOAD_ONLY_FINISHED:
that is success, not failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from dmsctl.deployer.errors import AwsError, DmsctlError
from dmsctl.deployer.gateway import Gateway, Shared
from dmsctl.deployer.live import LiveTask, TableStat, read_table_stats
from dmsctl.deployer.task_states import (
    CONNECTION_FAILED,
    CONNECTION_TESTING,
    RUNNING,
    STARTABLE,
    interrupts_a_load,
    is_up,
)

STOPPED_BY_TAG = "dmsctl:stopped-by-run"
TASKS_READ = "dms:DescribeReplicationTasks"  # the shared read of the tasks every wait of a step waits for
__all__ = ["STARTABLE", "STOPPED_BY_TAG", "TaskFailure", "describe", "ensure_connections", "is_up", "modify",
           "start", "stop", "wait", "wait_startable"]


class TaskFailure(DmsctlError):
    pass


def describe(gw: Gateway, identifiers: Iterable[str]) -> dict[str, LiveTask]:
    """The tasks named (without settings: the cheap form), by identifier; absent ones are left out."""
    identifiers = list(identifiers)
    if not identifiers:
        return {}
    rows = gw.paginate("dms", "describe_replication_tasks", "ReplicationTasks", resource=", ".join(identifiers),
                       Filters=[{"Name": "replication-task-id", "Values": identifiers}], WithoutSettings=True)
    return {r["ReplicationTaskIdentifier"]: LiveTask.from_row(r, with_settings=False) for r in rows}


def assert_no_full_load(gw: Gateway, state: LiveTask, allow_interrupt: bool = False) -> None:
    """Right before stopping: time has passed since the plan, so look again (unless interrupting a load
    was acknowledged, --allow-interrupt)."""
    if allow_interrupt:
        return
    loading = [s for s in read_table_stats(gw, state) if interrupts_a_load(s)]
    if loading:
        names = ", ".join(f"{s.schema}.{s.table} ({s.state})" for s in loading[:5])
        raise TaskFailure(f"task {state.identifier} has tables loading now ({names}): not stopping it, because "
                          "that would restart the load from zero. Nothing was changed for this stack; re-run "
                          "apply when the load has completed")


def tag_stopped(gw: Gateway, state: LiveTask, run_id: str) -> None:
    gw.call("dms", "add_tags_to_resource", resource=f"task {state.identifier}", ResourceArn=state.arn,
            Tags=[{"Key": STOPPED_BY_TAG, "Value": run_id}])


def untag_stopped(gw: Gateway, arn: str, identifier: str) -> None:
    gw.call("dms", "remove_tags_from_resource", resource=f"task {identifier}", ResourceArn=arn,
            TagKeys=[STOPPED_BY_TAG])


def stop(gw: Gateway, states: list[LiveTask], timeout: float, max_delay: float = 30.0, *, first_delay: float = 2.0,
         late: float = 0.0) -> None:
    for s in states:
        gw.call("dms", "stop_replication_task", resource=f"task {s.identifier}", ReplicationTaskArn=s.arn)
    wait(gw, [s.identifier for s in states], lambda t: t.status == "stopped", "stopped", timeout, max_delay,
         first_delay=first_delay, late=late, look_now=False)  # a stop takes seconds: no look right after it


def wait_startable(gw: Gateway, identifiers: list[str], timeout: float,
                   max_delay: float = 30.0) -> dict[str, LiveTask]:
    """New tasks must finish creating, and each task's connections must have been tested successfully
    (DMS refuses StartReplicationTask otherwise): see `ensure_connections`."""
    states = wait(gw, identifiers, lambda t: t.status in STARTABLE | RUNNING, "created", timeout, max_delay)
    ensure_connections(gw, [(t.instance_arn, e) for t in states.values() for e in t.endpoints
                            if t.status in STARTABLE], timeout, max_delay)
    return states


def _pair_name(row: dict[str, Any]) -> str:
    return (f"endpoint {row.get('EndpointIdentifier', row.get('EndpointArn'))} from replication instance "
            f"{row.get('ReplicationInstanceIdentifier', row.get('ReplicationInstanceArn'))}")


def ensure_connections(gw: Gateway, pairs: Iterable[tuple[str, str]], timeout: float,
                       max_delay: float = 30.0) -> None:
    """Make sure every (replication instance ARN, endpoint ARN) pair has a successful connection test.

    DMS starts a task only when the connections of its instance to both its endpoints tested
    successfully, and CreateEndpoint runs no test: a pair never tested, or whose last test failed (the
    cause may be fixed by now), is tested again (TestConnection); a test still running is waited for.
    A test that fails raises TaskFailure with DMS's reason: a task is never started against it.

    Only each pair itself counts: DescribeConnections also lists tests of the same endpoints from other
    instances (other teams'), which may well fail (no network path from there) and say nothing here."""
    wanted = {(i, e) for i, e in pairs if i and e}
    if not wanted:
        return
    endpoints = sorted({e for _, e in wanted})

    def connections() -> dict[tuple[str, str], dict[str, Any]]:
        rows = gw.paginate("dms", "describe_connections", "Connections", resource="endpoint connection tests",
                           Filters=[{"Name": "endpoint-arn", "Values": endpoints}])
        return {k: r for r in rows if (k := (r.get("ReplicationInstanceArn", ""), r.get("EndpointArn", ""))) in wanted}

    def test(pair: tuple[str, str]) -> None:
        try:
            gw.call("dms", "test_connection", resource=f"endpoint {pair[1]} from replication instance {pair[0]}",
                    ReplicationInstanceArn=pair[0], EndpointArn=pair[1])
        except AwsError as exc:
            if "already being tested" not in str(exc):  # someone else's test is running: wait for it
                raise TaskFailure(str(exc)) from None

    def failures(rows: dict[tuple[str, str], dict[str, Any]]) -> str | None:
        bad = [r for r in rows.values() if r.get("Status") == CONNECTION_FAILED]
        return "; ".join(f"the connection test of {_pair_name(r)} failed: "
                         f"{r.get('LastFailureMessage') or 'no reason given'}" for r in bad) or None

    def finished(rows: dict[tuple[str, str], dict[str, Any]]) -> bool:
        return len(rows) == len(wanted) and all(r.get("Status") != CONNECTION_TESTING for r in rows.values())

    def wait_tests() -> dict[tuple[str, str], dict[str, Any]]:
        try:
            return gw.poll(connections, finished, what=f"the connection tests of {names}", timeout=timeout,
                           first_delay=2, max_delay=max_delay)
        except AwsError as exc:
            raise TaskFailure(str(exc)) from None

    rows = connections()
    names = ", ".join(sorted({_pair_name(r) for r in rows.values()})) or f"{len(wanted)} endpoint connection(s)"
    untested = sorted(p for p in wanted if rows.get(p, {}).get("Status") in (None, CONNECTION_FAILED))
    for pair in untested:
        test(pair)
    if untested or not finished(rows):
        rows = wait_tests()
    reason = failures(rows)
    if reason:
        raise TaskFailure(f"endpoint connection tests: {reason}")


def modify(gw: Gateway, state: LiveTask, properties: dict[str, str]) -> None:
    gw.call("dms", "modify_replication_task", resource=f"task {state.identifier}", ReplicationTaskArn=state.arn,
            **properties)


def start(gw: Gateway, state: LiveTask, start_type: str, cdc_start_position: str | None = None,
          **positions: Any) -> None:
    extra = {"CdcStartPosition": cdc_start_position} if cdc_start_position else {}
    gw.call("dms", "start_replication_task", resource=f"task {state.identifier}", ReplicationTaskArn=state.arn,
            StartReplicationTaskType=start_type, **extra, **positions)


def wait(gw: Gateway, identifiers: list[str], done: Callable[[LiveTask], bool], what: str, timeout: float,
         max_delay: float = 30.0, *, first_delay: float = 2.0, late: float = 0.0,
         look_now: bool = True) -> dict[str, LiveTask]:
    """Poll until every task named is `done`; tasks other stacks wait for at the same time are read in the
    same DescribeReplicationTasks (the gateway's shared poller)."""
    if not identifiers:
        return {}

    def failed(states: dict[str, LiveTask]) -> str | None:
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
                       timeout=timeout, failed=failed, max_delay=max_delay, first_delay=first_delay, late=late,
                       look_now=look_now,
                       shared=Shared(TASKS_READ, tuple(identifiers), lambda keys: describe(gw, keys)))
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
        live = describe(gw, [ident])[ident]

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
