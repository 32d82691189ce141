"""DMS calls made as the deployer makes them: plain boto3 on an `Account`."""

from __future__ import annotations

import json
from typing import Any

import botocore.exceptions
import pytest

from .account import Account

TABLE_STATES = ("Before load", "Full load", "Table completed")  # DMS API Reference, TableStatistics
TASK_LIMIT = 3_600  # seconds any status change may take (creating, starting, stopping, ...)
LOAD_LIMIT = 4 * 3_600  # seconds a small table's full load may take


def error_of(exc: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> tuple[str, str]:
    """(AWS error code, message) of a refused call."""
    err = exc.value.response["Error"]
    return err.get("Code", ""), err.get("Message", "")


def mappings(schema: str, *tables: str, renames: dict[str, str] | None = None) -> str:
    """TableMappings selecting `tables` of `schema`, with rename rules `{table: new name}`."""
    rules: list[dict[str, Any]] = [
        {"rule-type": "selection", "rule-id": str(i), "rule-name": f"include-{table}",
         "object-locator": {"schema-name": schema, "table-name": table}, "rule-action": "include"}
        for i, table in enumerate(tables, start=1)
    ]
    for i, (table, new_name) in enumerate(sorted((renames or {}).items()), start=len(rules) + 1):
        rules.append({"rule-type": "transformation", "rule-id": str(i), "rule-name": f"rename-{table}",
                      "rule-target": "table", "rule-action": "rename", "value": new_name,
                      "object-locator": {"schema-name": schema, "table-name": table}})
    return json.dumps({"rules": rules})


def describe_task(account: Account, arn: str) -> dict[str, Any]:
    found = account.client("dms").describe_replication_tasks(
        Filters=[{"Name": "replication-task-arn", "Values": [arn]}])["ReplicationTasks"]
    return found[0]


def wait_status(account: Account, arn: str, *statuses: str, limit: float = TASK_LIMIT) -> dict[str, Any]:
    return account.wait_until(f"task {arn} to be {' or '.join(statuses)}", lambda: describe_task(account, arn),
                              lambda t: t["Status"] in statuses, limit)


def _delete_task(account: Account, arn: str) -> None:
    dms = account.client("dms")
    try:
        task = describe_task(account, arn)
    except (botocore.exceptions.ClientError, IndexError):
        return
    if task["Status"] in ("running", "starting"):
        dms.stop_replication_task(ReplicationTaskArn=arn)
    if task["Status"] in ("running", "starting", "stopping", "creating", "modifying"):
        wait_status(account, arn, "stopped", "ready", "failed")
    if task["Status"] != "deleting":  # a check may have deleted it already
        dms.delete_replication_task(ReplicationTaskArn=arn)
    account.wait_until(f"task {arn} to be deleted", lambda: _exists(account, arn), lambda e: not e, TASK_LIMIT)


def _exists(account: Account, arn: str) -> bool:
    try:
        return bool(account.client("dms").describe_replication_tasks(
            Filters=[{"Name": "replication-task-arn", "Values": [arn]}])["ReplicationTasks"])
    except botocore.exceptions.ClientError as exc:
        if exc.response["Error"].get("Code") == "ResourceNotFoundFault":
            return False
        raise


def create_task(account: Account, what: str, migration_type: str, table_mappings: str, *,
                settings: dict[str, Any] | None = None, source_arn: str | None = None,
                target_arn: str | None = None) -> str:
    """A task on the scratch instance (deleted at teardown), waited for until `ready`; its ARN."""
    task_id = account.name(what)
    account.declare_task(task_id)
    params: dict[str, Any] = {
        "ReplicationTaskIdentifier": task_id,
        "SourceEndpointArn": source_arn or account.infra.source_arn,
        "TargetEndpointArn": target_arn or account.infra.target_arn,
        "ReplicationInstanceArn": account.infra.instance_arn,
        "MigrationType": migration_type,
        "TableMappings": table_mappings,
    }
    if settings is not None:
        params["ReplicationTaskSettings"] = json.dumps(settings)
    arn = account.client("dms").create_replication_task(**params)["ReplicationTask"]["ReplicationTaskArn"]
    account.cleanup.push(f"replication task {task_id} ({arn})", lambda: _delete_task(account, arn))
    wait_status(account, arn, "ready")
    return arn


def create_endpoint(account: Account, what: str, endpoint_type: str, params: dict[str, Any]) -> str:
    """An endpoint (deleted at teardown); its ARN. CreateEndpoint tests no connection."""
    identifier = account.name(what)
    dms = account.client("dms")
    arn = dms.create_endpoint(EndpointIdentifier=identifier, EndpointType=endpoint_type,
                              **params)["Endpoint"]["EndpointArn"]

    def delete() -> None:
        wait_connections(account, arn)
        dms.delete_endpoint(EndpointArn=arn)

    account.cleanup.push(f"endpoint {identifier} ({arn})", delete)
    return arn


def s3_target_params(account: Account, folder: str) -> dict[str, Any]:
    return {"EngineName": "s3", "S3Settings": {
        "BucketName": account.infra.bucket, "BucketFolder": folder,
        "ServiceAccessRoleArn": account.infra.s3_role_arn}}


def connections(account: Account, endpoint_arn: str) -> list[dict[str, Any]]:
    return account.client("dms").describe_connections(
        Filters=[{"Name": "endpoint-arn", "Values": [endpoint_arn]},
                 {"Name": "replication-instance-arn", "Values": [account.infra.instance_arn]}])["Connections"]


def wait_connections(account: Account, endpoint_arn: str) -> list[dict[str, Any]]:
    """The endpoint's connections with the scratch instance once none is `testing`."""
    return account.wait_until(f"the connection tests of {endpoint_arn} to finish",
                              lambda: connections(account, endpoint_arn),
                              lambda found: all(c.get("Status") != "testing" for c in found), TASK_LIMIT)


def run_connection_test(account: Account, endpoint_arn: str) -> str:
    """Test the (scratch instance, endpoint) connection and wait for the result; its final status."""
    account.client("dms").test_connection(ReplicationInstanceArn=account.infra.instance_arn,
                                          EndpointArn=endpoint_arn)
    found = wait_connections(account, endpoint_arn)
    return found[0]["Status"] if found else "missing"


def start(account: Account, arn: str, start_type: str = "start-replication") -> dict[str, Any]:
    return account.client("dms").start_replication_task(ReplicationTaskArn=arn,
                                                        StartReplicationTaskType=start_type)["ReplicationTask"]


def stop(account: Account, arn: str) -> dict[str, Any]:
    account.client("dms").stop_replication_task(ReplicationTaskArn=arn)
    return wait_status(account, arn, "stopped")


def modify_mappings(account: Account, arn: str, table_mappings: str) -> dict[str, Any]:
    account.client("dms").modify_replication_task(ReplicationTaskArn=arn, TableMappings=table_mappings)
    return wait_status(account, arn, "stopped", "ready")


def table_stats(account: Account, arn: str, **kwargs: Any) -> dict[str, dict[str, Any]]:
    """DescribeTableStatistics of the task, every page, keyed by table name."""
    dms = account.client("dms")
    out: dict[str, dict[str, Any]] = {}
    marker: str | None = None
    while True:
        page = dms.describe_table_statistics(ReplicationTaskArn=arn, **kwargs, **({"Marker": marker} if marker else {}))
        out.update({s["TableName"]: s for s in page["TableStatistics"]})
        marker = page.get("Marker")
        if not marker:
            return out


def wait_table(account: Account, arn: str, table: str, *states: str, limit: float = LOAD_LIMIT) -> dict[str, Any]:
    found = account.wait_until(f"table {table} of {arn} to be {' or '.join(states)}",
                               lambda: table_stats(account, arn).get(table, {}),
                               lambda s: s.get("TableState") in states, limit)
    return found
