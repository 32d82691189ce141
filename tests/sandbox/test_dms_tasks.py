"""Rules 3, 5, 6, 8, 9: DMS task status machine, restarts, mapping changes, connections, CDC positions.

Sources: DMS API reference ReplicationTask (Status values, StopReason "Stop Reason ..." values,
CdcStartPosition/CdcStopPosition formats, RecoveryCheckpoint), StartReplicationTask
(StartReplicationTaskType: resume-processing only for previously executed tasks), ModifyReplicationTask,
ReloadTables, TestConnection/DescribeConnections, DescribeReplicationTasks (Filters, MaxRecords 20-100,
WithoutSettings), AddTagsToResource/ListTagsForResource. Assumptions: A1-A11 in docs/ASSUMPTIONS.md.
"""

from __future__ import annotations

import json

import botocore.exceptions
import pytest

from . import helpers as h
from . import templates as t


def _error_code(exc_info) -> str:
    return exc_info.value.response["Error"]["Code"]


def test_status_machine_start_stop(sandbox, deployed):
    assert h.start(sandbox, "team-a-app")["Status"] == "starting"
    assert h.wait_status(sandbox, "team-a-app", "running")["ReplicationTaskStartDate"]
    assert h.stop(sandbox, "team-a-app")["Status"] == "stopping"
    stopped = h.wait_status(sandbox, "team-a-app", "stopped")
    assert stopped["StopReason"] == "Stop Reason NORMAL"


def test_api_created_task_goes_creating_then_ready(sandbox, deployed):
    dms = sandbox.client("dms")
    base = h.task(sandbox, "team-a-app")
    created = dms.create_replication_task(
        ReplicationTaskIdentifier="api-task", SourceEndpointArn=base["SourceEndpointArn"],
        TargetEndpointArn=base["TargetEndpointArn"], ReplicationInstanceArn=base["ReplicationInstanceArn"],
        MigrationType="cdc", TableMappings=t.mappings("app.users"))["ReplicationTask"]
    assert created["Status"] == "creating"
    h.wait_status(sandbox, "api-task", "ready")


@pytest.mark.parametrize("status_setup", ["running", "starting", "stopping"])
def test_modify_only_when_stopped_ready_or_failed(sandbox, deployed, status_setup):
    h.start(sandbox, "team-a-app")
    if status_setup != "starting":
        h.wait_status(sandbox, "team-a-app", "running")
    if status_setup == "stopping":
        h.stop(sandbox, "team-a-app")
    arn = h.task(sandbox, "team-a-app")["ReplicationTaskArn"]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        sandbox.client("dms").modify_replication_task(ReplicationTaskArn=arn, TableMappings=t.mappings("app.users"))
    assert _error_code(err) == "InvalidResourceStateFault"


def test_modify_when_stopped(sandbox, deployed):
    arn = h.task(sandbox, "team-a-app")["ReplicationTaskArn"]
    task = sandbox.client("dms").modify_replication_task(ReplicationTaskArn=arn,
                                                         TableMappings=t.mappings("app.users"))["ReplicationTask"]
    assert task["Status"] == "modifying"
    h.wait_status(sandbox, "team-a-app", "ready")


def test_start_types(sandbox, deployed):
    with pytest.raises(botocore.exceptions.ClientError) as err:
        h.start(sandbox, "team-a-app", "resume-processing")
    assert _error_code(err) == "InvalidResourceStateFault"
    h.start(sandbox, "team-a-app")
    with pytest.raises(botocore.exceptions.ClientError) as err:  # starting: refused
        h.start(sandbox, "team-a-app", "resume-processing")
    assert _error_code(err) == "InvalidResourceStateFault"
    h.wait_status(sandbox, "team-a-app", "running")
    h.stop(sandbox, "team-a-app")
    h.wait_status(sandbox, "team-a-app", "stopped")
    with pytest.raises(botocore.exceptions.ClientError) as err:  # A1
        h.start(sandbox, "team-a-app", "start-replication")
    assert _error_code(err) == "InvalidParameterCombinationException"
    h.start(sandbox, "team-a-app", "reload-target")
    h.wait_status(sandbox, "team-a-app", "running")
    assert all(s["FullLoadReloaded"] for s in h.table_stats(sandbox, "team-a-app").values())


def test_full_load_only_task_stops_when_done(sandbox):
    h.create_stack(sandbox, "dmsctl-base", t.body(t.base_template()))
    team = t.team_template({"fl-task": t.mappings("app.users", "app.orders")}, migration_type="full-load")
    h.create_stack(sandbox, "dmsctl-team-a", t.body(team))
    h.start(sandbox, "fl-task")
    stopped = h.wait_status(sandbox, "fl-task", "stopped")
    assert stopped["StopReason"] == "Stop Reason FULL_LOAD_ONLY_FINISHED"
    assert stopped["ReplicationTaskStats"]["FullLoadProgressPercent"] == 100


def test_describe_filters_pagination_and_settings(sandbox, deployed):
    dms = sandbox.client("dms")
    base = h.task(sandbox, "team-a-app")
    for i in range(24):
        dms.create_replication_task(
            ReplicationTaskIdentifier=f"extra-{i}", SourceEndpointArn=base["SourceEndpointArn"],
            TargetEndpointArn=base["TargetEndpointArn"], ReplicationInstanceArn=base["ReplicationInstanceArn"],
            MigrationType="cdc", TableMappings=t.mappings("app.users"),
            ReplicationTaskSettings=json.dumps({"Logging": {"EnableLogging": True}}))
    page = dms.describe_replication_tasks(MaxRecords=20)
    assert len(page["ReplicationTasks"]) == 20 and page["Marker"]
    rest = dms.describe_replication_tasks(MaxRecords=20, Marker=page["Marker"])
    assert len(rest["ReplicationTasks"]) == 5 and "Marker" not in rest
    with pytest.raises(botocore.exceptions.ClientError):
        dms.describe_replication_tasks(MaxRecords=101)
    cdc = dms.describe_replication_tasks(Filters=[{"Name": "migration-type", "Values": ["cdc"]}])
    assert len(cdc["ReplicationTasks"]) == 24
    by_endpoint = h.tasks(sandbox, Filters=[{"Name": "endpoint-arn", "Values": [base["TargetEndpointArn"]]}])
    by_instance = h.tasks(sandbox, Filters=[{"Name": "replication-instance-arn",
                                             "Values": [base["ReplicationInstanceArn"]]}], MaxRecords=100)
    assert len(by_endpoint) == 25
    assert len(by_instance) == 25
    by_arn = h.tasks(sandbox, Filters=[{"Name": "replication-task-arn", "Values": [base["ReplicationTaskArn"]]}])
    assert list(by_arn) == ["team-a-app"]
    settings = json.loads(h.task(sandbox, "extra-0")["ReplicationTaskSettings"])  # A9: defaults filled in
    assert settings["Logging"]["EnableLogging"] is True
    assert settings["FullLoadSettings"]["MaxFullLoadSubTasks"] == 8
    bare = dms.describe_replication_tasks(WithoutSettings=True)["ReplicationTasks"][0]
    assert "ReplicationTaskSettings" not in bare and "TableMappings" not in bare
    assert json.loads(base["TableMappings"])["rules"][0]["filters"] == []  # A9


def test_tags_on_tasks(sandbox, deployed):
    dms = sandbox.client("dms")
    arn = h.task(sandbox, "team-a-app")["ReplicationTaskArn"]
    dms.add_tags_to_resource(ResourceArn=arn, Tags=[{"Key": "dmsctl:stopped-by", "Value": "run-42"}])
    assert dms.list_tags_for_resource(ResourceArn=arn)["TagList"] == [
        {"Key": "dmsctl:stopped-by", "Value": "run-42", "ResourceArn": arn}]
    dms.remove_tags_from_resource(ResourceArn=arn, TagKeys=["dmsctl:stopped-by"])
    assert dms.list_tags_for_resource(ResourceArnList=[arn])["TagList"] == []


def test_stop_during_full_load_restarts_table(sandbox, deployed):
    sandbox.set_table_size("team-a-app", "app", "orders", 1_000_000)
    h.start(sandbox, "team-a-app")
    h.wait_status(sandbox, "team-a-app", "running")
    sandbox.clock.advance(60)
    assert h.table_stats(sandbox, "team-a-app")["app.orders"]["TableState"] == "Full load"
    assert sandbox.table_restarts("team-a-app", "app", "users") == 0
    h.stop(sandbox, "team-a-app")
    h.wait_status(sandbox, "team-a-app", "stopped")
    assert sandbox.table_restarts("team-a-app", "app", "orders") == 1
    assert sandbox.table_restarts("team-a-app", "app", "users") == 0
    h.start(sandbox, "team-a-app", "resume-processing")
    h.wait_status(sandbox, "team-a-app", "running")
    sandbox.clock.advance(10)
    assert h.table_stats(sandbox, "team-a-app")["app.orders"]["FullLoadRows"] <= 500


def test_resume_after_mapping_change(sandbox, deployed):
    h.start(sandbox, "team-a-app")
    h.wait_status(sandbox, "team-a-app", "running")
    sandbox.clock.advance(120)
    h.stop(sandbox, "team-a-app")
    h.wait_status(sandbox, "team-a-app", "stopped")
    new = t.with_task_prop(deployed, "Task0", TableMappings=t.mappings(
        "app.users", "app.invoices", versions={"app.users": "v2"}))  # orders dropped, users renamed only
    assert h.update_stack(sandbox, "dmsctl-team-a", t.body(new)) == "UPDATE_COMPLETE"
    h.start(sandbox, "team-a-app", "resume-processing")
    h.wait_status(sandbox, "team-a-app", "running")
    stats = h.table_stats(sandbox, "team-a-app")
    assert set(stats) == {"app.users", "app.invoices"}
    assert stats["app.users"]["TableState"] == "Table completed"  # A6: rename-only, no reload
    assert stats["app.users"]["FullLoadReloaded"] is False
    sandbox.clock.advance(60)
    assert h.table_stats(sandbox, "team-a-app")["app.invoices"]["TableState"] == "Table completed"


def test_wildcards_in_include_rules(sandbox, deployed):
    for table in ("order_items", "orderXitems", "orders"):
        sandbox.set_table_size("team-a-app", "shop", table, 100)
    rules = {"rules": [
        t.selection("shop", "order[_]%", 1),
        t.selection("shop", "orde_s", 2),
    ]}
    new = t.with_task_prop(deployed, "Task0", TableMappings=json.dumps(rules))
    h.update_stack(sandbox, "dmsctl-team-a", t.body(new))
    assert set(h.table_stats(sandbox, "team-a-app")) == {"shop.order_items", "shop.orders", "shop.orde_s"}


def test_endpoint_change_triggers_connection_test(sandbox, deployed):
    dms = sandbox.client("dms")
    task = h.task(sandbox, "team-a-app")
    dms.modify_endpoint(EndpointArn=task["SourceEndpointArn"], DatabaseName="app2")
    conns = dms.describe_connections(Filters=[{"Name": "endpoint-arn", "Values": [task["SourceEndpointArn"]]}])
    assert [c["Status"] for c in conns["Connections"] if c["EndpointArn"] == task["SourceEndpointArn"]] == ["testing"]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        dms.start_replication_task(ReplicationTaskArn=task["ReplicationTaskArn"],
                                   StartReplicationTaskType="start-replication")
    assert _error_code(err) == "InvalidResourceStateFault"
    sandbox.clock.advance(30)
    assert {c["Status"] for c in dms.describe_connections()["Connections"]} == {"successful"}
    h.start(sandbox, "team-a-app")


def test_start_needs_successful_connection_tests(sandbox):
    """CreateEndpoint tests nothing; DMS starts a task only once both of its connections tested
    successfully; a second TestConnection of a pair under test is refused."""
    assert h.create_stack(sandbox, "dmsctl-base", t.body(t.base_template())) == "CREATE_COMPLETE"
    assert h.create_stack(sandbox, "dmsctl-team-a", t.body(t.team_template({"team-a-app": t.mappings("app.users")}))
                          ) == "CREATE_COMPLETE"
    dms = sandbox.client("dms")
    task = h.task(sandbox, "team-a-app")
    assert dms.describe_connections()["Connections"] == []

    def start_error() -> str:
        with pytest.raises(botocore.exceptions.ClientError) as err:
            dms.start_replication_task(ReplicationTaskArn=task["ReplicationTaskArn"],
                                       StartReplicationTaskType="start-replication")
        assert _error_code(err) == "InvalidResourceStateFault"
        return err.value.response["Error"]["Message"]

    assert start_error() == ("Test connection for replication instance team-a-instance and endpoint team-a-source "
                             "should be successful for starting the replication task")
    pair = {"ReplicationInstanceArn": task["ReplicationInstanceArn"], "EndpointArn": task["SourceEndpointArn"]}
    sandbox.faults.fail_next_connection_test("team-a-source", "Cannot connect to MySQL")
    dms.test_connection(**pair)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        dms.test_connection(**pair)
    assert _error_code(err) == "InvalidResourceStateFault"
    assert err.value.response["Error"]["Message"] == "Connection is already being tested"
    sandbox.clock.advance(30)
    assert "team-a-source" in start_error()  # failed: still refused
    dms.test_connection(**pair)
    sandbox.clock.advance(30)
    assert "endpoint datalake-10min" in start_error()  # the source is fine now; the target was never tested
    dms.test_connection(ReplicationInstanceArn=task["ReplicationInstanceArn"], EndpointArn=task["TargetEndpointArn"])
    sandbox.clock.advance(30)
    dms.start_replication_task(ReplicationTaskArn=task["ReplicationTaskArn"],
                               StartReplicationTaskType="start-replication")
    assert h.wait_status(sandbox, "team-a-app", "running")["Status"] == "running"


def test_failed_connection_test_fault(sandbox, deployed):
    sandbox.faults.fail_next_connection_test("team-a-source", "Cannot connect to MySQL")
    dms = sandbox.client("dms")
    task = h.task(sandbox, "team-a-app")
    dms.test_connection(ReplicationInstanceArn=task["ReplicationInstanceArn"], EndpointArn=task["SourceEndpointArn"])
    sandbox.clock.advance(30)
    conn = dms.describe_connections(Filters=[{"Name": "endpoint-arn", "Values": [task["SourceEndpointArn"]]}]
                                    )["Connections"][0]
    assert conn["Status"] == "failed" and conn["LastFailureMessage"] == "Cannot connect to MySQL"


def test_recovery_checkpoint_advances_and_stop_position(sandbox, deployed):
    h.start(sandbox, "team-a-app", CdcStopPosition="server_time:2024-01-01T02:00:00")
    h.wait_status(sandbox, "team-a-app", "running")
    sandbox.clock.advance(600)
    first = h.task(sandbox, "team-a-app")["RecoveryCheckpoint"]
    sandbox.clock.advance(600)
    second = h.task(sandbox, "team-a-app")["RecoveryCheckpoint"]
    assert first.startswith("checkpoint:V1#") and second > first
    stopped = h.wait_status(sandbox, "team-a-app", "stopped", step=600)
    assert stopped["StopReason"] == "Stop Reason STOPPED_AT_SERVER_TIME"
    assert stopped["CdcStopPosition"] == "server_time:2024-01-01T02:00:00"


def test_reload_tables(sandbox, deployed):
    h.start(sandbox, "team-a-app")
    h.wait_status(sandbox, "team-a-app", "running")
    sandbox.clock.advance(300)
    arn = h.task(sandbox, "team-a-app")["ReplicationTaskArn"]
    sandbox.client("dms").reload_tables(ReplicationTaskArn=arn,
                                        TablesToReload=[{"SchemaName": "app", "TableName": "users"}])
    stats = h.table_stats(sandbox, "team-a-app")
    assert stats["app.users"]["TableState"] == "Table is being reloaded"
    assert stats["app.users"]["FullLoadReloaded"] is True
    assert stats["app.orders"]["FullLoadReloaded"] is False


def test_cdc_counters_grow_while_running(sandbox, deployed):
    h.start(sandbox, "team-a-app")
    h.wait_status(sandbox, "team-a-app", "running")
    sandbox.clock.advance(300)
    first = h.table_stats(sandbox, "team-a-app")["app.users"]["Inserts"]
    sandbox.clock.advance(600)  # at least one CDC batch (A23: every CdcMaxBatchInterval, 600 s here)
    assert h.table_stats(sandbox, "team-a-app")["app.users"]["Inserts"] > first


def test_cdc_only_tables_are_captured_without_full_load(sandbox):
    """A7."""
    h.create_stack(sandbox, "dmsctl-base", t.body(t.base_template()))
    team = t.team_template({"cdc-task": t.mappings("app.users")}, migration_type="cdc")
    h.create_stack(sandbox, "dmsctl-team-a", t.body(team))
    h.start(sandbox, "cdc-task", CdcStartPosition="2024-01-01T00:00:00")
    running = h.wait_status(sandbox, "cdc-task", "running")
    assert running["CdcStartPosition"] == "2024-01-01T00:00:00"
    stats = h.table_stats(sandbox, "cdc-task")["app.users"]
    assert stats["TableState"] == "Table completed" and stats["FullLoadRows"] == 0


def test_tags_only_change_on_running_task_via_cloudformation(sandbox, deployed):
    """A19."""
    h.start(sandbox, "team-a-app")
    h.wait_status(sandbox, "team-a-app", "running")
    new = t.with_task_prop(deployed, "Task0", Tags=[{"Key": "team", "Value": "a"}])
    assert h.update_stack(sandbox, "dmsctl-team-a", t.body(new)) == "UPDATE_COMPLETE"
    arn = h.task(sandbox, "team-a-app")["ReplicationTaskArn"]
    assert sandbox.client("dms").list_tags_for_resource(ResourceArn=arn)["TagList"][0]["Value"] == "a"
