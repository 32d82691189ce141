"""Export runs (docs/WORKFLOWS.md "Export run") on the sandbox."""

from __future__ import annotations

import pytest

from dmsctl.deployer.runs import RunFailed, RunRefused, RunTimeouts, Schedule, run_task
from tests.runs.conftest import BUCKET, at

EXPORT = "orders-export"
DAY1 = at("2024-01-02T02:00:00Z")
DAY2 = at("2024-01-03T02:00:00Z")


def folder(day: str) -> str:
    return f"replication/shop/export/orders-export/{day}/"


def test_export_run_writes_every_table_under_the_dated_folder(world):
    gw = world.gateway()
    result = run_task(gw, world.target(EXPORT), DAY1, world.progress())
    assert result.ok and result.kind == "export" and result.start_type == "start-replication"
    assert result.folder == f"s3://{BUCKET}/{folder('2024/01/02')}"
    keys = world.keys(folder("2024/01/02"))
    for table in ("orders", "customers"):
        assert any(f"/{table}/" in k for k in keys), (table, keys)
    assert {t.name: t.full_load_rows for t in result.tables} == {"shop.customers": 1000, "shop.orders": 1000}
    settings = world.export_endpoint()["S3Settings"]
    assert settings["BucketFolder"] == folder("2024/01/02").rstrip("/")
    assert settings["DataFormat"] == "parquet" and settings["CompressionType"] == "GZIP"  # the rest is kept
    assert settings["ServiceAccessRoleArn"].endswith("-dms-s3") and settings["BucketName"] == BUCKET
    assert world.sandbox.overwrites == []
    assert gw.calls["s3:ListObjectsV2"] == 1


def test_second_run_on_another_date_writes_a_second_folder_and_leaves_the_first(world):
    run_task(world.gateway(), world.target(EXPORT), DAY1, world.progress())
    first = world.keys(folder("2024/01/02"))
    world.sandbox.clock.set_time(DAY2)
    result = run_task(world.gateway(), world.target(EXPORT), DAY2, world.progress())
    assert result.ok and result.start_type == "reload-target"
    second = world.keys(folder("2024/01/03"))
    assert second and not set(second) & set(first)
    assert world.keys(folder("2024/01/02")) == first
    assert world.sandbox.overwrites == []


def test_rerun_of_the_same_date_is_refused_before_any_change(world):
    run_task(world.gateway(), world.target(EXPORT), DAY1, world.progress())
    before = world.keys(folder("2024/01/02"))
    mark = world.sandbox.calls.mark()
    with pytest.raises(RunRefused, match=r"already holds objects.*never overwrites"):
        run_task(world.gateway(), world.target(EXPORT), DAY1.replace(hour=9), world.progress())
    assert world.mutations_since(mark) == []
    assert world.keys(folder("2024/01/02")) == before


def test_timestamped_output_gets_one_folder_per_run_time(world):
    target = world.target(EXPORT, schedule=Schedule("rate(12 hours)", "timestamped"))
    result = run_task(world.gateway(), target, DAY1, world.progress())
    assert result.ok and result.folder.endswith("/2024/01/02/020000/")
    assert world.keys(folder("2024/01/02/020000"))


def test_connection_test_failure_fails_the_run_and_the_task_is_not_started(world):
    endpoint = world.target(EXPORT).export_endpoint_id
    world.sandbox.faults.fail_next_connection_test(endpoint, "S3 bucket access denied")
    mark = world.sandbox.calls.mark()
    with pytest.raises(RunFailed) as failed:
        run_task(world.gateway(), world.target(EXPORT), DAY1, world.progress())
    message = str(failed.value)
    assert endpoint in message and "S3 bucket access denied" in message and "was not started" in message
    assert failed.value.result.status == "failed" and failed.value.result.start_type == ""
    assert [c for c in world.sandbox.calls.since(mark) if c.operation == "StartReplicationTask"] == []
    assert world.task(EXPORT)["Status"] == "ready"


def test_task_failure_fails_the_run_with_the_reason(world):
    world.sandbox.faults.fail_task(world.task_id(EXPORT), "Source database unreachable")
    with pytest.raises(RunFailed, match=r"dmsctl-shop-orders-export failed .*Source database unreachable"):
        run_task(world.gateway(), world.target(EXPORT), DAY1, world.progress())


def test_a_running_task_is_refused(world):
    run_task(world.gateway(), world.target(EXPORT), DAY1, world.progress())
    world.sandbox.client("dms").start_replication_task(ReplicationTaskArn=world.task(EXPORT)["ReplicationTaskArn"],
                                                       StartReplicationTaskType="reload-target")
    mark = world.sandbox.calls.mark()
    with pytest.raises(RunRefused, match=r"dmsctl-shop-orders-export is starting"):
        run_task(world.gateway(), world.target(EXPORT), DAY2, world.progress())
    assert world.mutations_since(mark) == []


def test_a_missing_export_endpoint_is_refused(world):
    target = world.target(EXPORT, resource_prefix="other")
    with pytest.raises(RunRefused, match=r"export endpoint other-shop-orders-export-export .* does not exist"):
        run_task(world.gateway(), target, DAY1, world.progress(), check_lock=False)


def test_an_environment_without_its_state_table_is_refused(world):
    target = world.target(EXPORT, resource_prefix="other")
    with pytest.raises(RunRefused, match=r"the state table other-state does not exist: the staging base stack is not"):
        run_task(world.gateway(), target, DAY1, world.progress())


def test_a_connection_test_that_does_not_finish_fails_the_run_before_starting(world):
    world.sandbox.configure(connection_test_seconds=3600)
    with pytest.raises(RunFailed, match=r"timed out after 900 s waiting for the connection tests of endpoint "
                                        r"dmsctl-shop-orders-export-export from replication instance .*; task "
                                        r"dmsctl-shop-orders-export was not started"):
        run_task(world.gateway(), world.target(EXPORT), DAY1, world.progress())
    assert world.task(EXPORT)["Status"] == "ready"


def test_a_task_that_outlasts_the_timeout_is_reported_and_left_running(world):
    world.sandbox.configure(full_load_rows_per_second=1.0)  # 1000 rows: about 17 minutes
    with pytest.raises(RunFailed, match=r"timed out after 120 s waiting for replication task "
                                        r"dmsctl-shop-orders-export to stop .*still running and was not stopped"):
        run_task(world.gateway(), world.target(EXPORT), DAY1, world.progress(), RunTimeouts(task=120))
    assert world.task(EXPORT)["Status"] == "running"
