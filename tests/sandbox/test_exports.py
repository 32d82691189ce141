"""Dated full-load exports (docs/WORKFLOWS.md "Export run"): point the target endpoint's BucketFolder at
the run's folder, wait for the connection test, start (start-replication, then reload-target), wait.

Sources: DMS API ModifyEndpoint (ExactSettings: settings are merged unless it is set), Connection status
testing/successful/failed, StartReplicationTask (reload-target reloads every table), "Using Amazon S3 as a
target" (<BucketFolder>/<schema>/<table>/LOAD00000001.csv). Assumptions: A4, A11, A27, A28.
"""

from __future__ import annotations

import botocore.exceptions
import pytest

from . import helpers as h
from . import templates as t

TASK = "orders-export"
LOAD = "LOAD00000001.csv"


def _deploy(sb) -> dict:
    assert h.create_stack(sb, "dmsctl-base", t.body(t.base_template())) == "CREATE_COMPLETE"
    team = t.team_template({TASK: t.mappings("app.users", "app.orders")}, migration_type="full-load")
    assert h.create_stack(sb, "dmsctl-team-a", t.body(team)) == "CREATE_COMPLETE"
    return h.task(sb, TASK)


def _point_at(sb, task: dict, folder: str) -> list[str]:
    """ModifyEndpoint(BucketFolder) then poll DescribeConnections until no test is running; the statuses seen."""
    dms = sb.client("dms")
    arn = task["TargetEndpointArn"]
    dms.modify_endpoint(EndpointArn=arn, S3Settings={"BucketFolder": folder})
    seen = []
    while True:
        conns = dms.describe_connections(Filters=[{"Name": "endpoint-arn", "Values": [arn]}])["Connections"]
        seen.append([c["Status"] for c in conns if c["ReplicationInstanceArn"] == task["ReplicationInstanceArn"]])
        if seen[-1] != ["testing"]:
            return [s for group in seen for s in group]
        sb.clock.sleep(5)


def test_export_runs_write_each_run_into_its_folder(sandbox):
    task = _deploy(sandbox)
    statuses = _point_at(sandbox, task, "exports/2024/01/01")
    assert statuses[0] == "testing" and statuses[-1] == "successful"
    settings = h.task(sandbox, TASK)  # the modify merged BucketFolder into the endpoint's settings
    endpoint = sandbox.client("dms").describe_endpoints(
        Filters=[{"Name": "endpoint-arn", "Values": [settings["TargetEndpointArn"]]}])["Endpoints"][0]
    assert endpoint["S3Settings"]["BucketName"] == t.BUCKET
    assert endpoint["S3Settings"]["BucketFolder"] == "exports/2024/01/01"
    h.start(sandbox, TASK)
    first = h.wait_status(sandbox, TASK, "stopped")
    assert first["StopReason"] == "Stop Reason FULL_LOAD_ONLY_FINISHED"

    assert _point_at(sandbox, task, "exports/2024/01/02")[-1] == "successful"
    h.start(sandbox, TASK, "reload-target")
    second = h.wait_status(sandbox, TASK, "stopped")
    assert second["StopReason"] == "Stop Reason FULL_LOAD_ONLY_FINISHED"
    assert all(s["FullLoadReloaded"] for s in h.table_stats(sandbox, TASK).values())
    assert sandbox.s3_keys(t.BUCKET, "exports/") == [
        f"exports/2024/01/01/data/orders_v1/{LOAD}", f"exports/2024/01/01/data/users_v1/{LOAD}",
        f"exports/2024/01/02/data/orders_v1/{LOAD}", f"exports/2024/01/02/data/users_v1/{LOAD}"]
    assert sandbox.overwrites == []

    h.start(sandbox, TASK, "reload-target")  # same folder again: refused writes are recorded (A4)
    h.wait_status(sandbox, TASK, "stopped")
    assert sorted(o.key for o in sandbox.overwrites) == [
        f"exports/2024/01/02/data/orders_v1/{LOAD}", f"exports/2024/01/02/data/users_v1/{LOAD}"]


def test_failed_connection_test_after_modify_endpoint(sandbox):
    task = _deploy(sandbox)
    sandbox.faults.fail_next_connection_test("datalake-10min", "Failed to access bucket datalake")
    statuses = _point_at(sandbox, task, "exports/2024/01/01")
    assert statuses[0] == "testing" and statuses[-1] == "failed"
    conn = sandbox.client("dms").describe_connections(
        Filters=[{"Name": "endpoint-arn", "Values": [task["TargetEndpointArn"]]}])["Connections"][0]
    assert conn["LastFailureMessage"] == "Failed to access bucket datalake"
    assert _point_at(sandbox, task, "exports/2024/01/01")[-1] == "successful"  # the fault fired once


def test_exact_settings_replace_the_endpoint_settings(sandbox):
    task = _deploy(sandbox)
    dms = sandbox.client("dms")
    dms.modify_endpoint(EndpointArn=task["TargetEndpointArn"], S3Settings={"BucketName": "other"}, ExactSettings=True)
    endpoint = dms.describe_endpoints(
        Filters=[{"Name": "endpoint-arn", "Values": [task["TargetEndpointArn"]]}])["Endpoints"][0]
    assert endpoint["S3Settings"] == {"BucketName": "other"}


def test_a_running_load_keeps_the_folder_it_started_with(sandbox):
    """A28, A36: the endpoint of a running task cannot change; the load writes where it started."""
    task = _deploy(sandbox)
    sandbox.set_table_size(TASK, "app", "orders", 5000)  # 100 s
    h.start(sandbox, TASK)
    h.wait_status(sandbox, TASK, "running")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        sandbox.client("dms").modify_endpoint(EndpointArn=task["TargetEndpointArn"],
                                              S3Settings={"BucketFolder": "moved"})
    assert err.value.response["Error"]["Code"] == "InvalidResourceStateFault"
    h.wait_status(sandbox, TASK, "stopped")
    assert sandbox.s3_keys(t.BUCKET) == [f"raw/data/orders_v1/{LOAD}", f"raw/data/users_v1/{LOAD}"]


def test_stack_update_sets_the_endpoint_settings_exactly(sandbox):
    """A27: a template is the whole endpoint; a setting it no longer has is removed."""
    _deploy(sandbox)
    base = t.base_template()
    del base["Resources"]["LakeEndpoint"]["Properties"]["S3Settings"]["CdcMaxBatchInterval"]
    assert h.update_stack(sandbox, "dmsctl-base", t.body(base)) == "UPDATE_COMPLETE"
    [endpoint] = sandbox.client("dms").describe_endpoints(
        Filters=[{"Name": "endpoint-id", "Values": ["datalake-10min"]}])["Endpoints"]
    assert "CdcMaxBatchInterval" not in endpoint["S3Settings"] and endpoint["S3Settings"]["BucketFolder"] == "raw"
