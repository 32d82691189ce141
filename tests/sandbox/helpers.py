"""Calls made exactly as a deployer makes them (boto3 only)."""

from __future__ import annotations

from typing import Any

from dmsctl.sandbox.scenario import connect_tasks


def create_stack(sb: Any, name: str, body: str, **kwargs: Any) -> str:
    cfn = sb.client("cloudformation")
    cfn.create_stack(StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_NAMED_IAM"], **kwargs)
    return stack_status(sb, name)


def update_stack(sb: Any, name: str, body: str, **kwargs: Any) -> str:
    cfn = sb.client("cloudformation")
    cfn.update_stack(StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_NAMED_IAM"], **kwargs)
    return stack_status(sb, name)


def stack_status(sb: Any, name: str) -> str:
    return sb.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]


def outputs(sb: Any, name: str) -> dict[str, str]:
    stack = sb.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def events(sb: Any, name: str) -> list[dict[str, Any]]:
    return sb.client("cloudformation").describe_stack_events(StackName=name)["StackEvents"]


def tasks(sb: Any, **kwargs: Any) -> dict[str, dict[str, Any]]:
    found = sb.client("dms").describe_replication_tasks(**kwargs)["ReplicationTasks"]
    return {t["ReplicationTaskIdentifier"]: t for t in found}


def task(sb: Any, task_id: str) -> dict[str, Any]:
    return tasks(sb, Filters=[{"Name": "replication-task-id", "Values": [task_id]}])[task_id]


def table_stats(sb: Any, task_id: str, **kwargs: Any) -> dict[str, dict[str, Any]]:
    arn = task(sb, task_id)["ReplicationTaskArn"]
    stats = sb.client("dms").describe_table_statistics(ReplicationTaskArn=arn, **kwargs)["TableStatistics"]
    return {f"{s['SchemaName']}.{s['TableName']}": s for s in stats}


def connect_all(sb: Any) -> None:
    """Test every task's connections now (a deployer does so before its first start)."""
    connect_tasks(sb, list(tasks(sb).values()))


def start(sb: Any, task_id: str, start_type: str = "start-replication", **kwargs: Any) -> dict[str, Any]:
    """Start the task as a deployer does: its connections tested successfully first (DMS requires it)."""
    row = task(sb, task_id)
    connect_tasks(sb, [row])
    arn = row["ReplicationTaskArn"]
    return sb.client("dms").start_replication_task(
        ReplicationTaskArn=arn, StartReplicationTaskType=start_type, **kwargs
    )["ReplicationTask"]


def stop(sb: Any, task_id: str) -> dict[str, Any]:
    arn = task(sb, task_id)["ReplicationTaskArn"]
    return sb.client("dms").stop_replication_task(ReplicationTaskArn=arn)["ReplicationTask"]


def wait_status(sb: Any, task_id: str, status: str, step: float = 5, limit: float = 36_000) -> dict[str, Any]:
    waited = 0.0
    while (current := task(sb, task_id))["Status"] != status:
        if waited >= limit:
            raise AssertionError(f"{task_id} stayed {current['Status']}, wanted {status}")
        sb.clock.sleep(step)
        waited += step
    return current
