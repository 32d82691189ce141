"""The DMS calls of a run: read the task and endpoint, wait for the connection test, start, wait, count."""

from __future__ import annotations

from collections.abc import Callable

from dmsctl.deployer.errors import AwsError
from dmsctl.deployer.gateway import Gateway
from dmsctl.deployer.live import STATS_PAGE
from dmsctl.deployer.runs.model import CONNECTION_POLL, TASK_POLL, RunRefused, TableCount

STARTABLE = frozenset({"ready", "stopped", "failed"})


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


def wait_connection(gw: Gateway, instance_arn: str, endpoint: dict, timeout: float) -> str | None:
    """Wait for the connection test of (instance, endpoint). Returns None when it succeeded (or there is
    none to wait for), else the reason it failed."""
    arn, name = endpoint["EndpointArn"], endpoint.get("EndpointIdentifier", endpoint["EndpointArn"])

    def connections() -> list[dict]:
        rows = gw.paginate("dms", "describe_connections", "Connections", resource=f"endpoint {name}",
                           Filters=[{"Name": "endpoint-arn", "Values": [arn]}])
        return [r for r in rows if r.get("ReplicationInstanceArn") == instance_arn]

    try:
        rows = gw.poll(connections, lambda rs: all(r.get("Status") != "testing" for r in rs),
                       what=f"the connection test of endpoint {name}", timeout=timeout,
                       first_delay=2.0, max_delay=CONNECTION_POLL)
    except AwsError as exc:
        if exc.operation:
            raise
        return f"the connection test of endpoint {name} was still running after {timeout:.0f} s"
    bad = [r for r in rows if r.get("Status") == "failed"]
    if bad:
        instance = bad[0].get("ReplicationInstanceIdentifier", instance_arn)
        return (f"the connection test of endpoint {name} from replication instance {instance} failed: "
                f"{bad[0].get('LastFailureMessage') or 'no reason given'}")
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
