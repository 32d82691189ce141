"""Checkpoints and metrics in the base stack's state table (docs/WORKFLOWS.md "State table items"),
and the deploy-lock check a run makes before it starts.

    checkpoint#<task id> / latest            the window end the next run starts from
    checkpoint#<task id> / run#<window_end>  one per successful run (history)
    metrics#<task id>    / <window_end>#<schema>.<table>
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from dmsctl.compiler import naming
from dmsctl.deployer.errors import AwsError
from dmsctl.deployer.gateway import Gateway
from dmsctl.deployer.lock import Lock
from dmsctl.deployer.runs.model import RunFailed, RunRefused, TableCount

LATEST = "latest"
HISTORY = "run#"
BATCH = 25  # BatchWriteItem maximum
BATCH_ATTEMPTS = 8


@dataclass(frozen=True)
class Checkpoint:
    checkpoint: str  # the task's RecoveryCheckpoint
    window_end: str
    run: str
    updated_at: str = ""
    window_start: str | None = None


@dataclass(frozen=True)
class CheckpointLog:
    latest: Checkpoint | None
    history: tuple[Checkpoint, ...]  # newest first


@dataclass(frozen=True)
class TableMetrics:
    schema: str
    table: str
    inserts: int
    updates: int
    deletes: int
    full_load_rows: int = 0

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass(frozen=True)
class RunMetrics:
    run: str
    window_start: str | None
    window_end: str
    tables: tuple[TableMetrics, ...]  # by schema.table

    def total(self, what: str) -> int:
        return sum(getattr(t, what) for t in self.tables)


# -- encoding --------------------------------------------------------------------------------------
def _s(item: dict, key: str) -> str | None:
    value = item.get(key)
    return value["S"] if value and "S" in value else None


def _n(item: dict, key: str) -> int:
    value = item.get(key)
    return int(float(value["N"])) if value and "N" in value else 0


def _checkpoint_item(task_id: str, sk: str, cp: Checkpoint) -> dict:
    item = {"pk": {"S": naming.checkpoint_key(task_id)}, "sk": {"S": sk}, "checkpoint": {"S": cp.checkpoint},
            "window_end": {"S": cp.window_end}, "run": {"S": cp.run}, "updated_at": {"S": cp.updated_at}}
    if cp.window_start:
        item["window_start"] = {"S": cp.window_start}
    return item


def _checkpoint(item: dict) -> Checkpoint:
    return Checkpoint(_s(item, "checkpoint") or "", _s(item, "window_end") or "", _s(item, "run") or "",
                      _s(item, "updated_at") or "", _s(item, "window_start"))


def _query(gw: Gateway, table: str, pk: str) -> list[dict]:
    return gw.paginate("dynamodb", "query", "Items", resource=f"table {table} ({pk})", TableName=table,
                       KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": pk}},
                       ScanIndexForward=False, ConsistentRead=True)


# -- reading -------------------------------------------------------------------------------------------
def latest_checkpoint(gw: Gateway, table: str, task_id: str) -> Checkpoint | None:
    item = gw.call("dynamodb", "get_item", resource=f"table {table} ({naming.checkpoint_key(task_id)})",
                   TableName=table, ConsistentRead=True,
                   Key={"pk": {"S": naming.checkpoint_key(task_id)}, "sk": {"S": LATEST}}).get("Item")
    return _checkpoint(item) if item else None


def read_checkpoints(gw: Gateway, table: str, task_id: str) -> CheckpointLog:
    """The latest checkpoint and every run's, newest first (one Query, all pages)."""
    items = _query(gw, table, naming.checkpoint_key(task_id))
    latest = next((_checkpoint(i) for i in items if _s(i, "sk") == LATEST), None)
    history = sorted((_checkpoint(i) for i in items if (_s(i, "sk") or "").startswith(HISTORY)),
                     key=lambda c: c.window_end, reverse=True)
    return CheckpointLog(latest, tuple(history))


def read_metrics(gw: Gateway, table: str, task_id: str) -> tuple[RunMetrics, ...]:
    """Per run (newest first), per table: the counts each successful run recorded."""
    runs: dict[tuple[str, str], list[dict]] = {}
    for item in _query(gw, table, naming.metrics_key(task_id)):
        window_end = _s(item, "window_end") or (_s(item, "sk") or "").split("#", 1)[0]
        runs.setdefault((window_end, _s(item, "run") or ""), []).append(item)
    out = []
    for (window_end, run), items in sorted(runs.items(), reverse=True):
        tables = []
        for i in items:
            name = (_s(i, "sk") or "").split("#", 1)[-1]
            schema, _, tbl = name.partition(".")
            tables.append(TableMetrics(schema, tbl, _n(i, "inserts"), _n(i, "updates"), _n(i, "deletes"),
                                       _n(i, "full_load_rows")))
        out.append(RunMetrics(run, _s(items[0], "window_start"), window_end,
                              tuple(sorted(tables, key=lambda t: (t.schema, t.table)))))
    return tuple(out)


# -- writing (only a successful run writes) -------------------------------------------------------------
def write_metrics(gw: Gateway, table: str, task_id: str, run_id: str, window_start: str | None,
                  window_end: str, counts: tuple[TableCount, ...]) -> None:
    requests = []
    for c in counts:
        item = {"pk": {"S": naming.metrics_key(task_id)}, "sk": {"S": f"{window_end}#{c.schema}.{c.table}"},
                "inserts": {"N": str(c.inserts)}, "updates": {"N": str(c.updates)}, "deletes": {"N": str(c.deletes)},
                "full_load_rows": {"N": str(c.full_load_rows)}, "window_end": {"S": window_end}, "run": {"S": run_id}}
        if window_start:
            item["window_start"] = {"S": window_start}
        requests.append({"PutRequest": {"Item": item}})
    for i in range(0, len(requests), BATCH):
        pending = {table: requests[i:i + BATCH]}
        delay = 1.0
        for _ in range(BATCH_ATTEMPTS):
            resp = gw.call("dynamodb", "batch_write_item", resource=f"table {table} (metrics of {task_id})",
                           RequestItems=pending)
            pending = resp.get("UnprocessedItems") or {}
            if not pending:
                break
            gw.sleep(delay)
            delay = min(delay * 2, 20.0)
        if pending:
            raise AwsError(f"table {table} kept refusing the metrics of task {task_id} (DynamoDB throttling); "
                           "the checkpoint was not advanced", operation="BatchWriteItem", resource=f"table {table}")


def write_checkpoint(gw: Gateway, table: str, task_id: str, cp: Checkpoint, before: str | None) -> None:
    """History first, then `latest`, conditionally: only over the checkpoint this run started from."""
    gw.call("dynamodb", "put_item", resource=f"table {table} ({naming.checkpoint_key(task_id)})", TableName=table,
            Item=_checkpoint_item(task_id, HISTORY + cp.window_end, cp))
    condition = {"ConditionExpression": "attribute_not_exists(pk)"} if before is None else {
        "ConditionExpression": "checkpoint = :before", "ExpressionAttributeValues": {":before": {"S": before}}}
    try:
        gw.call("dynamodb", "put_item", resource=f"table {table} ({naming.checkpoint_key(task_id)})",
                TableName=table, Item=_checkpoint_item(task_id, LATEST, cp), **condition)
    except AwsError as exc:
        if exc.code == "ConditionalCheckFailedException":
            raise RunFailed(f"the latest checkpoint of task {task_id} in table {table} changed while this run was "
                            "running (another run of the same task?): not overwritten") from None
        raise


# -- the deploy lock ------------------------------------------------------------------------------------------
def ensure_no_deploy(gw: Gateway, table: str, env: str, now: Callable[[], float] = time.time) -> None:
    """A run never takes the deploy lock, but it does not start while an apply holds it: the apply may be
    stopping, changing or replacing this very task."""
    lock = Lock(gw, table, env, now=now)
    try:
        holder = lock.current()
    except AwsError as exc:
        if exc.code == "ResourceNotFoundException":
            raise RunRefused(f"the state table {table} does not exist: the {env} base stack is not deployed "
                             "(dmsctl apply)") from None
        raise
    if holder is not None and holder.expires_at > now():
        raise RunRefused(f"an apply holds the {env} deploy lock ({holder.describe()}): a run does not start "
                         f"while a deploy is in progress; run it again when the apply has finished (if that "
                         f"apply died: dmsctl unlock --env {env} --id {holder.run_id})")
