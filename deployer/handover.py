"""Checkpoint hand-over for a replaced CDC task (docs/WORKFLOWS.md, "State table items").

Step 1 of the replacement stops the old task and stores its RecoveryCheckpoint in the state table
before the deploy removes the task; step 2 starts the new task with start-replication and that
checkpoint as CdcStartPosition. The checkpoint is stored, not kept in memory, so a run that dies
between the two steps loses nothing: the next apply finds it there.
"""

from __future__ import annotations

import time
from typing import Any

from dmsctl.compiler import naming
from dmsctl.deployer.errors import AwsError, DmsctlError
from dmsctl.deployer.gateway import Gateway

SK = "checkpoint"
POSTGRES_ENGINES = ("postgres", "aurora-postgresql")


def can_continue(source_engine: str, slot_name: str | None) -> bool:
    """Can a new task start from a checkpoint of this source? A PostgreSQL source needs the endpoint's
    SlotName (DMS: a native start point on PostgreSQL reads from an existing logical replication slot)."""
    return source_engine not in POSTGRES_ENGINES or bool(slot_name)


def slot_hint(slot: str) -> str:
    return f"SELECT pg_drop_replication_slot('{slot}');"


class HandoverError(DmsctlError):
    pass


def capture(gw: Gateway, table: str, identifier: str, run_id: str) -> str:
    """Store the (stopped) task's RecoveryCheckpoint; refuse when it has none (nothing to continue from)."""
    rows = gw.call("dms", "describe_replication_tasks", resource=f"task {identifier}",
                   Filters=[{"Name": "replication-task-id", "Values": [identifier]}],
                   WithoutSettings=True).get("ReplicationTasks", [])
    checkpoint: str | None = rows[0].get("RecoveryCheckpoint") if rows else None
    if not checkpoint:
        raise HandoverError(f"task {identifier} has no RecoveryCheckpoint to continue from: nothing was deployed; "
                            "plan again (the replacement then reloads instead)")
    gw.call("dynamodb", "put_item", resource=f"state table {table}", TableName=table, Item={
        **_key(identifier), "checkpoint": {"S": checkpoint},
        "captured_at": {"S": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, "run": {"S": run_id}})
    return checkpoint


def _key(identifier: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": naming.handover_key(identifier)}, "sk": {"S": SK}}


def _item(gw: Gateway, table: str, identifier: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = gw.call("dynamodb", "get_item", resource=f"state table {table}", TableName=table,
                                          ConsistentRead=True, Key=_key(identifier)).get("Item")
    return item


def stored(gw: Gateway, table: str, identifier: str) -> str:
    item = _item(gw, table, identifier)
    if not item:
        raise HandoverError(f"no stored checkpoint for the replaced task {identifier} in {table}: it was not "
                            "started, because starting a CDC task without its position would skip changes. "
                            f"Start it by hand with --cdc-start-position, or re-create it from a known time")
    checkpoint: str = item["checkpoint"]["S"]
    return checkpoint


def pending(gw: Gateway, table: str, identifier: str) -> bool:
    """Is a checkpoint stored for this task (a replacement interrupted between its two steps)? Read-only."""
    try:
        return _item(gw, table, identifier) is not None
    except AwsError as exc:
        if exc.code == "ResourceNotFoundException":  # no base stack yet: nothing was ever handed over
            return False
        raise


def done(gw: Gateway, table: str, identifier: str) -> None:
    """The new task runs from the checkpoint: forget it, so a later re-creation never starts from it."""
    gw.call("dynamodb", "delete_item", resource=f"state table {table}", TableName=table, Key=_key(identifier))
