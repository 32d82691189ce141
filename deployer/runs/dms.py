"""The DMS calls of a run: read the task and endpoint, make sure its connections tested successfully, start,
wait, count. Status names and the connection-test layer are apply's (task_states, task_control)."""

from __future__ import annotations

from collections.abc import Callable

from dmsctl.deployer import task_control
from dmsctl.deployer.errors import AwsError
from dmsctl.deployer.gateway import Gateway
from dmsctl.deployer.live import STATS_PAGE
from dmsctl.deployer.runs.model import CONNECTION_POLL, TASK_POLL, RunRefused, TableCount
from dmsctl.deployer.task_states import STARTABLE


def task_row(gw: Gateway, task_id: str) -> dict | None:
    """The task's DescribeReplicationTasks row (without settings), or None."""
    rows = gw.paginate("dms", "describe_replication_tasks", "ReplicationTasks", resource=f"task {task_id}",
                       Filters=[{"Name": "replication-task-id", "Values": [task_id]}], WithoutSettings=True)
    return next((r for r in rows if r.get("ReplicationTaskIdentifier") == task_id), None)


def startable_task(gw: Gateway, task_id: str, ref: str) -> dict:
    """The task, refusing (before any change) when it does not exist or is busy."""
    row = task_row(gw, task_id)
    if row is None:
        raise RunRefused(f"replication task {task_id} does not exist: deploy {ref} first (dmsctl apply)")
    status = row.get("Status", "")
    if status not in STARTABLE:
        raise RunRefused(f"replication task {task_id} is {status}: a run starts only a ready, stopped or failed "
                         "task (is another run of it in progress?)")
    return row


def endpoint_row(gw: Gateway, endpoint_id: str) -> dict | None:
    rows = gw.paginate("dms", "describe_endpoints", "Endpoints", resource=f"endpoint {endpoint_id}",
                       Filters=[{"Name": "endpoint-id", "Values": [endpoint_id]}])
    return next((r for r in rows if r.get("EndpointIdentifier") == endpoint_id), None)


def ensure_connections(gw: Gateway, row: dict, timeout: float) -> str | None:
    """Make sure the task's replication instance tested its connections to both endpoints successfully
    (DMS starts a task only then): None when they did, else DMS's reason (task_control.ensure_connections)."""
    instance = row.get("ReplicationInstanceArn", "")
    pairs = [(instance, row[k]) for k in ("SourceEndpointArn", "TargetEndpointArn") if row.get(k)]
    try:
        task_control.ensure_connections(gw, pairs, timeout, max_delay=CONNECTION_POLL)
    except task_control.TaskFailure as exc:
        return str(exc)
    return None


def start(gw: Gateway, row: dict, start_type: str, **positions) -> None:
    gw.call("dms", "start_replication_task", resource=f"task {row['ReplicationTaskIdentifier']}",
            ReplicationTaskArn=row["ReplicationTaskArn"], StartReplicationTaskType=start_type, **positions)


def wait_stopped(gw: Gateway, task_id: str, timeout: float, on_change: Callable[[str], None]) -> dict:
    """Poll until the task is stopped or failed (or gone: then a row with Status "deleted")."""
    seen: list[str] = []

    def describe() -> dict:
        row = task_row(gw, task_id) or {"ReplicationTaskIdentifier": task_id, "Status": "deleted",
                                        "LastFailureMessage": "the task no longer exists"}
        status = row.get("Status", "")
        if not seen or seen[-1] != status:
            seen.append(status)
            on_change(status)
        return row

    try:
        return gw.poll(describe, lambda r: r.get("Status") in ("stopped", "failed", "deleted"),
                       what=f"replication task {task_id} to stop", timeout=timeout,
                       first_delay=2.0, max_delay=TASK_POLL)
    except AwsError as exc:
        if not exc.operation:  # the poll's own timeout (a failed AWS call names its operation)
            raise AwsError(f"{exc}; task {task_id} is still {seen[-1] if seen else 'running'} and was not "
                           "stopped", resource=f"task {task_id}") from None
        raise


def table_counts(gw: Gateway, row: dict) -> tuple[TableCount, ...]:
    rows = gw.paginate("dms", "describe_table_statistics", "TableStatistics",
                       resource=f"task {row['ReplicationTaskIdentifier']}",
                       ReplicationTaskArn=row["ReplicationTaskArn"], PaginationConfig={"PageSize": STATS_PAGE})
    counts = (TableCount(r["SchemaName"], r["TableName"], r.get("TableState", ""), int(r.get("FullLoadRows", 0)),
                         int(r.get("Inserts", 0)), int(r.get("Updates", 0)), int(r.get("Deletes", 0))) for r in rows)
    return tuple(sorted(counts, key=lambda t: (t.schema, t.table)))
