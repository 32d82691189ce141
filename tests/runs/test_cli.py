"""`dmsctl run`, `dmsctl checkpoints`, `dmsctl metrics` through click's CliRunner on the in-process sandbox
(the `dmsctl` fixture, tests/runs/conftest.py)."""

from __future__ import annotations

import json
import os
import signal

import pytest

from dmsctl.deployer.lock import Lock
from dmsctl.deployer.runs import state
from dmsctl.deployer.runs.model import TableCount
from tests.runs.conftest import BUCKET

EXPORT = "dmsctl-shop-orders-export"


def test_run_export_prints_progress_and_the_folder(dmsctl, world):
    result = dmsctl("run", "shop/orders-export", "--at", "2024-01-02T02:00:00Z")
    assert result.exit_code == 0, result.output
    folder = f"s3://{BUCKET}/replication/shop/export/orders-export/2024/01/02/"
    assert "export run " in result.stdout and folder in result.stdout
    assert "starting task dmsctl-shop-orders-export (start-replication)" in result.stdout
    assert ": succeeded. Export of 2024-01-02T02:00:00Z into " + folder in result.stdout
    assert "shop.orders" in result.stdout and "total" in result.stdout


def test_run_json_format(dmsctl):
    result = dmsctl("run", "shop/orders-export", "--at", "2024-01-02T02:00:00+00:00", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["error"] == "" and doc["run"]["status"] == "succeeded" and doc["run"]["at"] == "2024-01-02T02:00:00Z"
    assert {t["table"] for t in doc["run"]["tables"]} == {"orders", "customers"}
    assert doc["run"]["totals"]["full_load_rows"] == 2000
    assert [e["kind"] for e in doc["events"]][0] == "step"


def test_a_failed_run_exits_1_with_a_one_line_reason_naming_the_resource(dmsctl, world):
    dmsctl("run", "shop/orders-export", "--at", "2024-01-02T02:00:00Z")
    result = dmsctl("run", "shop/orders-export", "--at", "2024-01-02T02:00:00Z")
    assert result.exit_code == 1
    [line] = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert f"s3://{BUCKET}/replication/shop/export/orders-export/2024/01/02/ already holds objects" in line
    assert "Traceback" not in result.output


def test_run_refuses_a_task_without_schedule(dmsctl):
    result = dmsctl("run", "shop/audit", "--at", "2024-01-02T02:00:00Z")
    assert result.exit_code == 1
    assert "task shop/audit has no schedule" in result.stderr and "Add `schedule:`" in result.stderr


def test_unknown_team_or_task_lists_the_known_ones(dmsctl):
    result = dmsctl("run", "nope/orders-export")
    assert result.exit_code == 1 and "no team 'nope' in staging (teams: shop)" in result.stderr
    result = dmsctl("metrics", "shop/nope")
    assert result.exit_code == 1
    assert "team shop has no task 'nope' in staging (its tasks: audit, items-sync, orders-export, payments-cdc)" \
        in result.stderr
    result = dmsctl("checkpoints", "orders-export")
    assert result.exit_code == 1 and "is not TEAM/TASK" in result.stderr and "shop/payments-cdc" in result.stderr


def test_bad_at_is_a_clear_error(dmsctl):
    result = dmsctl("run", "shop/orders-export", "--at", "yesterday")
    assert result.exit_code == 1 and "--at: 'yesterday' is not an ISO-8601 time" in result.stderr


def test_run_is_refused_while_an_apply_holds_the_deploy_lock(dmsctl, world):
    target = world.target("orders-export")
    lock = Lock(world.gateway(), target.state_table, "staging")
    lock.acquire("20240101000000-abcdef", "alice@laptop")
    mark = world.sandbox.calls.mark()
    result = dmsctl("run", "shop/orders-export", "--at", "2024-01-02T02:00:00Z")
    assert result.exit_code == 1
    assert "an apply holds the staging deploy lock (run 20240101000000-abcdef by alice@laptop" in result.stderr
    assert "dmsctl unlock --env staging --id 20240101000000-abcdef" in result.stderr
    assert world.mutations_since(mark) == []
    assert lock.current().run_id == "20240101000000-abcdef"  # a run never takes or touches the lock
    lock.release()
    assert dmsctl("run", "shop/orders-export", "--at", "2024-01-02T02:00:00Z").exit_code == 0


def _seed(world) -> None:
    """Two successful windows of payments-cdc, written the way a run writes them."""
    gw, target = world.gateway(), world.target("payments-cdc")
    table, tid = target.state_table, target.task_id
    windows = [("2024-01-01T00:00:00Z", "2024-01-01T06:00:00Z", "r1", "checkpoint:one", None, (5, 2, 1), (3, 0, 0)),
               ("2024-01-01T06:00:00Z", "2024-01-01T12:00:00Z", "r2", "checkpoint:two", "checkpoint:one", (7, 1, 0),
                (0, 4, 2))]
    for start, end, run, cp, before, payments, refunds in windows:
        counts = (TableCount("shop", "payments", "Table completed", 0, *payments),
                  TableCount("shop", "refunds", "Table completed", 0, *refunds))
        state.write_metrics(gw, table, tid, run, start, end, counts)
        state.write_checkpoint(gw, table, tid, state.Checkpoint(cp, end, run, "2024-01-01T12:00:05Z", start), before)


def test_checkpoints_output(dmsctl, world):
    result = dmsctl("checkpoints", "shop/payments-cdc")
    assert result.exit_code == 0 and "No checkpoint recorded for dmsctl-shop-payments-cdc yet" in result.stdout
    _seed(world)
    result = dmsctl("checkpoints", "shop/payments-cdc")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Checkpoints of dmsctl-shop-payments-cdc (newest first)"
    assert lines[1].split() == ["WINDOW", "START", "WINDOW", "END", "RUN", "UPDATED", "AT", "CHECKPOINT"]
    assert lines[2].split()[:4] == ["latest", "2024-01-01T06:00:00Z", "2024-01-01T12:00:00Z", "r2"]
    assert lines[3].split()[:4] == ["run", "2024-01-01T06:00:00Z", "2024-01-01T12:00:00Z", "r2"]
    assert lines[4].split()[:4] == ["run", "2024-01-01T00:00:00Z", "2024-01-01T06:00:00Z", "r1"]
    doc = json.loads(dmsctl("checkpoints", "shop/payments-cdc", "--format", "json").stdout)
    assert doc["latest"]["checkpoint"] == "checkpoint:two"
    assert [c["checkpoint"] for c in doc["history"]] == ["checkpoint:two", "checkpoint:one"]


def test_metrics_output(dmsctl, world):
    result = dmsctl("metrics", "shop/payments-cdc")
    assert result.exit_code == 0 and "No metrics recorded for dmsctl-shop-payments-cdc yet" in result.stdout
    _seed(world)
    result = dmsctl("metrics", "shop/payments-cdc")
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines()[2:]]
    assert rows == [
        ["r2", "2024-01-01T06:00:00Z", "2024-01-01T12:00:00Z", "shop.payments", "7", "1", "0"],
        ["shop.refunds", "0", "4", "2"],
        ["total", "7", "5", "2"],
        ["r1", "2024-01-01T00:00:00Z", "2024-01-01T06:00:00Z", "shop.payments", "5", "2", "1"],
        ["shop.refunds", "3", "0", "0"],
        ["total", "8", "2", "1"],
    ]
    doc = json.loads(dmsctl("metrics", "shop/payments-cdc", "--format", "json").stdout)
    assert [(r["run"], r["totals"]["inserts"]) for r in doc["runs"]] == [("r2", 7), ("r1", 8)]
    assert doc["runs"][0]["tables"][1] == {"schema": "shop", "table": "refunds", "inserts": 0, "updates": 4,
                                           "deletes": 2, "full_load_rows": 0}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_ends_the_wait_at_once_and_says_the_task_keeps_running(dmsctl, world, monkeypatch, signum):
    """CI cancels a `dmsctl run` (SIGINT, then SIGTERM): the wait ends, the started task keeps running
    (DMS finishes the load), the exit code is 128 + signal, and the message says what was not recorded."""
    clock = world.sandbox.clock
    real_sleep = clock.sleep
    started = []

    def sleep(seconds: float) -> None:  # the first wait after the task was started gets the signal
        if world.task("orders-export")["Status"] in ("starting", "running") and not started:
            started.append(True)
            os.kill(os.getpid(), signum)
        real_sleep(seconds)

    monkeypatch.setattr(clock, "sleep", sleep)
    result = dmsctl("run", "shop/orders-export", "--at", "2024-01-02T02:00:00Z")
    assert result.exit_code == 128 + signum, result.output
    name = signal.Signals(signum).name
    assert f"received {name}: stopping the wait" in result.stderr
    assert (f"run of {EXPORT} interrupted by {name}: the task was started and keeps running (DMS finishes the "
            "load or window)") in result.stderr
    assert "Traceback" not in result.output
    assert world.task("orders-export")["Status"] in ("starting", "running")  # not stopped by the cancel
