"""DMS rules the sandbox enforces as AWS does, each with AWS's error code (and wording, where AWS has one).

Sources (docs/ASSUMPTIONS.md "Documented rules -> source"): DMS API StartReplicationTask
(start-replication is for a task's first run), DMS User Guide "Modifying a task" (the migration type
cannot change), "Reloading tables during a task" (running task, full-load tasks, up to 10 tables, no
duplicates, "Table is being reloaded"). Error codes and wording AWS does not document: A1, A32-A34.
"""

from __future__ import annotations

import botocore.exceptions
import pytest

from . import helpers as h
from . import templates as t

TASK = "team-a-app"


def _error(exc_info) -> tuple[str, str]:
    error = exc_info.value.response["Error"]
    return error["Code"], error["Message"]


def _deploy(sb, migration_type: str, *tables: str) -> str:
    assert h.create_stack(sb, "dmsctl-base", t.body(t.base_template())) == "CREATE_COMPLETE"
    team = t.team_template({TASK: t.mappings(*(tables or ("app.users", "app.orders")))}, migration_type)
    assert h.create_stack(sb, "dmsctl-team-a", t.body(team)) == "CREATE_COMPLETE"
    return h.task(sb, TASK)["ReplicationTaskArn"]


def _run_once(sb) -> None:
    h.start(sb, TASK)
    h.wait_status(sb, TASK, "running")
    h.stop(sb, TASK)
    h.wait_status(sb, TASK, "stopped")


# --- 1. start-replication after a first run (A1) -------------------------------------------------

@pytest.mark.parametrize("migration_type", ["full-load", "full-load-and-cdc"])
def test_start_replication_after_a_first_run_is_refused(sandbox, migration_type):
    _deploy(sandbox, migration_type)
    _run_once(sandbox)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        h.start(sandbox, TASK, "start-replication")
    assert _error(err) == ("InvalidParameterCombinationException",
                           "Start Type : START_REPLICATION, valid only for tasks running for the first time")
    assert h.start(sandbox, TASK, "resume-processing")["Status"] == "starting"


def test_a_cdc_task_may_be_started_again_with_start_replication(sandbox):
    _deploy(sandbox, "cdc")
    _run_once(sandbox)
    assert h.start(sandbox, TASK, "start-replication")["Status"] == "starting"


# --- 2. the migration type cannot change; ReloadTables rules (A32, A33, A34) ------------------------

def test_modify_cannot_change_the_migration_type(sandbox):
    arn = _deploy(sandbox, "full-load-and-cdc")
    dms = sandbox.client("dms")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        dms.modify_replication_task(ReplicationTaskArn=arn, MigrationType="cdc")
    code, message = _error(err)
    assert code == "InvalidParameterValueException" and "You can't change the migration type of a task" in message
    assert h.task(sandbox, TASK)["MigrationType"] == "full-load-and-cdc"
    dms.modify_replication_task(ReplicationTaskArn=arn, MigrationType="full-load-and-cdc")  # unchanged: fine


def _reload(sb, arn: str, *tables: str) -> None:
    refs = [{"SchemaName": q.split(".")[0], "TableName": q.split(".")[1]} for q in tables]
    sb.client("dms").reload_tables(ReplicationTaskArn=arn, TablesToReload=refs)


def test_reload_tables_needs_a_running_task(sandbox):
    arn = _deploy(sandbox, "full-load-and-cdc")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        _reload(sandbox, arn, "app.users")
    assert _error(err)[0] == "InvalidResourceStateFault"


def test_reload_tables_is_for_full_load_tasks_only(sandbox):
    arn = _deploy(sandbox, "cdc")
    h.start(sandbox, TASK)
    h.wait_status(sandbox, TASK, "running")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        _reload(sandbox, arn, "app.users")
    code, message = _error(err)
    assert code == "InvalidParameterValueException" and "full-load or full-load-and-cdc" in message


def test_reload_tables_takes_at_most_ten_tables_and_no_duplicates(sandbox):
    tables = [f"app.t{i}" for i in range(11)]
    arn = _deploy(sandbox, "full-load-and-cdc", *tables)
    h.start(sandbox, TASK)
    h.wait_status(sandbox, TASK, "running")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        _reload(sandbox, arn, *tables)
    code, message = _error(err)
    assert code == "InvalidParameterValueException" and "up to 10 tables" in message
    with pytest.raises(botocore.exceptions.ClientError) as err:
        _reload(sandbox, arn, "app.t1", "app.t1")
    code, message = _error(err)
    assert code == "InvalidParameterValueException" and "Duplicate tables aren't allowed: app.t1" in message
    _reload(sandbox, arn, *tables[:10])


def test_a_reloading_table_is_being_reloaded_until_its_load_completes(sandbox):
    arn = _deploy(sandbox, "full-load-and-cdc")
    sandbox.set_table_size(TASK, "app", "users", 5000)  # 100 s at 50 rows/s
    h.start(sandbox, TASK)
    h.wait_status(sandbox, TASK, "running")
    sandbox.clock.advance(300)
    _reload(sandbox, arn, "app.users")
    sandbox.clock.advance(50)
    stats = h.table_stats(sandbox, TASK)
    assert stats["app.users"]["TableState"] == "Table is being reloaded"
    assert stats["app.orders"]["TableState"] == "Table completed"
    filtered = h.table_stats(sandbox, TASK, Filters=[{"Name": "table-state", "Values": ["Table is being reloaded"]}])
    assert list(filtered) == ["app.users"]
    sandbox.clock.advance(60)
    assert h.table_stats(sandbox, TASK)["app.users"]["TableState"] == "Table completed"
    assert h.table_stats(sandbox, TASK)["app.users"]["FullLoadReloaded"] is True


# --- 3. endpoints with a Secrets Manager secret (A35); endpoints of running tasks (A36) -------------

SECRET = {"SecretsManagerSecretId": "team-a-db", "SecretsManagerAccessRoleArn": "arn:aws:iam::123456789012:role/r"}


@pytest.mark.parametrize("clear_text", [
    {"ServerName": "db.internal"}, {"Port": 5432}, {"Username": "dms", "Password": "pw"},
    {"PostgreSQLSettings": SECRET | {"ServerName": "db.internal"}},
])
def test_create_endpoint_refuses_a_secret_with_clear_text_values(sandbox, clear_text):
    params = {"EndpointIdentifier": "src", "EndpointType": "source", "EngineName": "postgres",
              "DatabaseName": "app", "PostgreSQLSettings": SECRET} | clear_text
    with pytest.raises(botocore.exceptions.ClientError) as err:
        sandbox.client("dms").create_endpoint(**params)
    code, message = _error(err)
    assert code == "InvalidParameterCombinationException" and "not both" in message
    assert sandbox.client("dms").describe_endpoints()["Endpoints"] == []


def test_modify_endpoint_refuses_a_secret_with_clear_text_values(sandbox):
    dms = sandbox.client("dms")
    arn = dms.create_endpoint(EndpointIdentifier="src", EndpointType="source", EngineName="postgres",
                              DatabaseName="app", PostgreSQLSettings=SECRET)["Endpoint"]["EndpointArn"]
    for change in ({"ServerName": "db.internal"}, {"PostgreSQLSettings": SECRET | {"Port": 5432}}):
        with pytest.raises(botocore.exceptions.ClientError) as err:
            dms.modify_endpoint(EndpointArn=arn, **change)
        assert _error(err)[0] == "InvalidParameterCombinationException"
    clear = dms.create_endpoint(EndpointIdentifier="clear", EndpointType="source", EngineName="postgres",
                                ServerName="db.internal", Port=5432, Username="dms", Password="pw",
                                DatabaseName="app")["Endpoint"]["EndpointArn"]
    moved = dms.modify_endpoint(EndpointArn=clear, PostgreSQLSettings=SECRET)["Endpoint"]  # the secret replaces them
    assert "ServerName" not in moved and "Port" not in moved and moved["DatabaseName"] == "app"


def test_modify_endpoint_of_a_running_task_is_refused(sandbox):
    _deploy(sandbox, "full-load-and-cdc")
    task = h.task(sandbox, TASK)
    h.start(sandbox, TASK)
    h.wait_status(sandbox, TASK, "running")
    dms = sandbox.client("dms")
    for arn in (task["SourceEndpointArn"], task["TargetEndpointArn"]):
        with pytest.raises(botocore.exceptions.ClientError) as err:
            dms.modify_endpoint(EndpointArn=arn, SslMode="require")
        code, message = _error(err)
        assert code == "InvalidResourceStateFault" and f"used by replication task(s) {TASK}" in message
    h.stop(sandbox, TASK)
    h.wait_status(sandbox, TASK, "stopped")
    assert dms.modify_endpoint(EndpointArn=task["SourceEndpointArn"], SslMode="require")["Endpoint"]["SslMode"] == \
        "require"


def test_a_stack_update_of_an_endpoint_a_running_task_uses_rolls_back(sandbox):
    _deploy(sandbox, "full-load-and-cdc")
    h.start(sandbox, TASK)
    h.wait_status(sandbox, TASK, "running")
    team = t.team_template({TASK: t.mappings("app.users", "app.orders")})
    team["Resources"]["SourceEndpoint"]["Properties"]["SslMode"] = "require"
    assert h.update_stack(sandbox, "dmsctl-team-a", t.body(team)) == "UPDATE_ROLLBACK_COMPLETE"
    reasons = [e.get("ResourceStatusReason", "") for e in h.events(sandbox, "dmsctl-team-a")
               if e["ResourceStatus"] == "UPDATE_FAILED"]
    assert any("InvalidResourceStateFault" in r and TASK in r for r in reasons), reasons


# --- 4. PostgreSQL sources: no custom CDC start time (A37), native start points need a slot (A38, A39) --

def _postgres_cdc(sb, slot: str | None = None) -> str:
    assert h.create_stack(sb, "dmsctl-base", t.body(t.base_template())) == "CREATE_COMPLETE"
    team = t.team_template({TASK: t.mappings("app.users")}, "cdc", engine="postgres")
    if slot:
        team["Resources"]["SourceEndpoint"]["Properties"]["PostgreSqlSettings"]["SlotName"] = slot
    assert h.create_stack(sb, "dmsctl-team-a", t.body(team)) == "CREATE_COMPLETE"
    return h.task(sb, TASK)["ReplicationTaskArn"]


def _checkpoint(sb) -> str:
    h.start(sb, TASK)
    h.wait_status(sb, TASK, "running")
    sb.clock.advance(1200)
    h.stop(sb, TASK)
    return h.wait_status(sb, TASK, "stopped")["RecoveryCheckpoint"]


@pytest.mark.parametrize("start", [{"CdcStartTime": 1704067200}, {"CdcStartPosition": "2024-01-01T00:00:00"}])
def test_a_postgres_source_has_no_custom_cdc_start_time(sandbox, start):
    _postgres_cdc(sandbox)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        h.start(sandbox, TASK, **start)
    code, message = _error(err)
    assert code == "InvalidParameterCombinationException"
    assert "PostgreSQL as a source doesn't support a custom CDC start time" in message
    task = h.task(sandbox, TASK)
    dms = sandbox.client("dms")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        dms.create_replication_task(ReplicationTaskIdentifier="other", MigrationType="cdc",
                                    SourceEndpointArn=task["SourceEndpointArn"],
                                    TargetEndpointArn=task["TargetEndpointArn"],
                                    ReplicationInstanceArn=task["ReplicationInstanceArn"],
                                    TableMappings=t.mappings("app.users"), **start)
    assert _error(err)[0] == "InvalidParameterCombinationException"
    assert h.start(sandbox, TASK)["Status"] == "starting"  # without a position: fine


def test_a_native_start_point_on_postgres_needs_the_endpoints_slot(sandbox):
    _postgres_cdc(sandbox)
    checkpoint = _checkpoint(sandbox)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        h.start(sandbox, TASK, CdcStartPosition=checkpoint)
    code, message = _error(err)
    assert code == "InvalidParameterCombinationException" and "SlotName" in message
    assert h.start(sandbox, TASK, "resume-processing")["Status"] == "starting"  # the task's own position: fine


def test_the_slot_must_exist_and_outlives_tasks(sandbox):
    arn = _postgres_cdc(sandbox, slot="team_a_dms")
    checkpoint = _checkpoint(sandbox)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        h.start(sandbox, TASK, CdcStartPosition=checkpoint)
    code, message = _error(err)
    assert code == "InvalidParameterValueException" and 'Replication slot "team_a_dms"' in message
    sandbox.create_slot("team-a-source", "team_a_dms")
    assert sandbox.slots() == {"team-a-source": ["team_a_dms"]}
    assert h.start(sandbox, TASK, CdcStartPosition=checkpoint)["Status"] == "starting"
    h.wait_status(sandbox, TASK, "running")
    h.stop(sandbox, TASK)
    h.wait_status(sandbox, TASK, "stopped")
    sandbox.client("dms").delete_replication_task(ReplicationTaskArn=arn)
    assert sandbox.slots() == {"team-a-source": ["team_a_dms"]}  # slots belong to the database
    sandbox.drop_slot("team-a-source", "team_a_dms")
    assert sandbox.slots() == {}


def test_slots_through_the_control_api_and_a_scenario(sandbox_server):
    sandbox_server.load_scenario({"slots": [{"endpoint": "team-a-source", "slot": "a"}]})
    sandbox_server.create_slot("team-b-source", "b")
    assert sandbox_server.slots() == {"team-a-source": ["a"], "team-b-source": ["b"]}
    sandbox_server.drop_slot("team-a-source", "a")
    assert sandbox_server.slots() == {"team-b-source": ["b"]}
