"""The state machines of scheduled tasks (compiler/workflows.py, docs/WORKFLOWS.md "Run sequences").

Three layers: (1) structure: every transition names a state, every state can reach a Succeed or Fail
state, and only those end the machine; (2) moto's Amazon States Language parser accepts every
definition (its grammar, and its grammar of intrinsic functions); (3) executions in moto's ASL
interpreter, the AWS calls answered by a script (tests/compiler/asl_runner.py), check each run
sequence call by call, and each failure ends in its Fail state with a useful cause.
"""

from __future__ import annotations

import json

import pytest

from dmsctl.compiler import workflows
from dmsctl.compiler.workflows import WorkflowSpec
from tests.compiler.asl_runner import FakeAws, client_error, run, substitute

TASK_ID = "dmsctl-food-recipes-export"
ROOT = "replication/food/export/recipes-export"
S3_SETTINGS = {"BucketName": "lake", "ServiceAccessRoleArn": "${DatalakeRoleArn}", "DataFormat": "parquet",
               "CompressionType": "GZIP", "CdcMaxBatchInterval": 600, "CdcMinFileSize": 64000,
               "IncludeOpForFullLoad": True, "TimestampColumnName": "_dms_ts"}
ARNS = {"TaskArn": "arn:aws:dms:eu-west-1:123456789012:task:TASK",
        "InstanceArn": "arn:aws:dms:eu-west-1:123456789012:rep:INSTANCE",
        "ExportEndpointArn": "arn:aws:dms:eu-west-1:123456789012:endpoint:EXPORT",
        "DatalakeRoleArn": "arn:aws:iam::123456789012:role/datalake",
        "StateTable": "dmsctl-state",
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:dmsctl-food-events"}
START = "2026-11-01T02:00:03.125Z"


def export_spec(output: str = "dated", notify: bool = True) -> WorkflowSpec:
    return WorkflowSpec(kind="export", task_id=TASK_ID, migration_type="full-load", notify=notify, bucket="lake",
                        export_root=ROOT, output=output, s3_settings=S3_SETTINGS)


def incremental_spec(migration_type: str = "cdc", notify: bool = True) -> WorkflowSpec:
    return WorkflowSpec(kind="incremental", task_id="dmsctl-food-orders", migration_type=migration_type, notify=notify,
                        cdc_start_time="2026-10-01T00:00:00Z" if migration_type == "cdc" else None)


SPECS = {
    "export-dated": export_spec(),
    "export-timestamped": export_spec("timestamped"),
    "export-dated-no-notifications": export_spec(notify=False),
    "incremental-cdc": incremental_spec(),
    "incremental-cdc-no-notifications": incremental_spec(notify=False),
    "incremental-full-load-and-cdc": incremental_spec("full-load-and-cdc"),
}


# --- (1) structure ------------------------------------------------------------------------------------
def _transitions(state: dict) -> list[str]:
    out = [c["Next"] for c in state.get("Choices", [])]
    out += [state[k] for k in ("Next", "Default") if k in state]
    out += [c["Next"] for c in state.get("Catch", [])]
    return out


def structural_problems(scope: dict, top: bool = True) -> list[str]:
    """What Step Functions would refuse, or what would leave a run hanging: transitions to nowhere, states
    with both or neither of Next/End, choices without rules, unreachable states, states from which no
    Succeed/Fail can be reached, and (in the machine itself) a Task or Pass that ends the run with End."""
    states = scope["States"]
    problems = []
    if scope["StartAt"] not in states:
        problems.append(f"StartAt {scope['StartAt']} is not a state")
    for name, state in states.items():
        kind = state["Type"]
        for target in _transitions(state):
            if target not in states:
                problems.append(f"{name} -> {target}: no such state")
        if kind == "Choice" and not state.get("Choices"):
            problems.append(f"{name}: a Choice without Choices")
        if kind not in ("Choice", "Succeed", "Fail") and ("Next" in state) == bool(state.get("End")):
            problems.append(f"{name}: needs exactly one of Next and End")
        if top and state.get("End"):
            problems.append(f"{name}: ends the run without Succeed or Fail")
        if kind == "Fail" and not (("Error" in state or "ErrorPath" in state)
                                   and ("Cause" in state or "CausePath" in state)):
            problems.append(f"{name}: a Fail state without Error and Cause")
        if kind == "Map":
            problems += [f"{name}/{p}" for p in structural_problems(state["ItemProcessor"], top=False)]
    reachable, todo = set(), [scope["StartAt"]]
    while todo:
        name = todo.pop()
        if name in reachable or name not in states:
            continue
        reachable.add(name)
        todo += _transitions(states[name])
    problems += [f"{name}: unreachable" for name in states if name not in reachable]
    if top:  # from every state, a Succeed or a Fail state can be reached: every path ends in one
        ends = {n for n, s in states.items() if s["Type"] in ("Succeed", "Fail")}
        finishing, changed = set(ends), True
        while changed:
            changed = False
            for name, state in states.items():
                if name not in finishing and any(t in finishing for t in _transitions(state)):
                    finishing.add(name)
                    changed = True
        problems += [f"{name}: never reaches Succeed or Fail" for name in states if name not in finishing]
    return problems


@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
def test_definitions_are_structurally_sound(spec):
    assert structural_problems(workflows.definition(spec)) == []


def test_structural_check_finds_what_it_looks_for():
    ok = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}}
    assert structural_problems(ok) == []
    dangling = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "C"}, "B": {"Type": "Succeed"}}}
    assert "A -> C: no such state" in structural_problems(dangling)
    assert "B: unreachable" in structural_problems(dangling)
    ends = {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "x", "End": True}}}
    assert "A: ends the run without Succeed or Fail" in structural_problems(ends)
    loop = {"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 1, "Next": "B"},
                                       "B": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": True,
                                                                            "Next": "A"}], "Default": "A"}}}
    assert "A: never reaches Succeed or Fail" in structural_problems(loop)
    silent = {"StartAt": "A", "States": {"A": {"Type": "Fail"}}}
    assert structural_problems(silent) == ["A: a Fail state without Error and Cause"]


def test_state_names_of_both_machines():
    export = workflows.definition(export_spec())
    assert set(export["States"]) == {
        "ParseStartTime", "ExportFolder", "DescribeTask", "TaskStartable?", "TaskBusyReason", "TaskBusy",
        "ListExportFolder", "ExportFolderEmpty?", "ExportFolderNotEmptyReason", "ExportFolderNotEmpty",
        "PointEndpointAtFolder", "WaitForConnectionTest", "DescribeConnection", "ConnectionTested?",
        "ConnectionFailureDetails", "ConnectionTestFailedReason", "ConnectionTestFailed", "CountConnectionTest",
        "ConnectionTestTooLong?", "ConnectionTestTimedOutReason", "ConnectionTestTimedOut", "FirstExport?",
        "StartReplication", "ReloadTarget", "WaitForTask", "DescribeTaskRun", "TaskStopped?", "StoppedWhy?",
        "TaskFailureDetails", "TaskFailedReason", "TaskFailed", "Succeeded", "NotifyFailure", "FailureKind?",
        "RunFailed"}
    incremental = workflows.definition(incremental_spec())
    assert set(incremental["States"]) == {
        "ParseStartTime", "RunWindow", "GetCheckpoint", "DescribeTask", "TaskStartable?", "TaskBusyReason",
        "TaskBusy", "HasCheckpoint?", "WindowFromCheckpoint", "NoCheckpoint", "WindowAfterStart?",
        "WindowEmptyReason", "WindowEmpty", "FromWhere?", "StartFromCheckpoint", "StartAtCdcStartTime",
        "WaitForTask", "DescribeTaskRun", "TaskStopped?", "StoppedWhy?", "TaskFailureDetails", "TaskFailedReason",
        "TaskFailed", "HasRecoveryCheckpoint?", "NoRecoveryCheckpointReason", "NoRecoveryCheckpoint",
        "GetTableStatistics", "GetMoreTableStatistics", "WriteTableMetrics", "MoreTableStatistics?",
        "CheckpointItems", "PutCheckpointHistory", "FirstCheckpoint?", "PutFirstCheckpoint", "PutLatestCheckpoint",
        "Succeeded", "NotifyFailure", "FailureKind?", "RunFailed"}
    both = workflows.definition(incremental_spec("full-load-and-cdc"))
    assert {"FirstRun?", "StartWithFullLoad", "ResumeProcessing"} <= set(both["States"])
    assert not {"FromWhere?", "StartFromCheckpoint", "StartAtCdcStartTime"} & set(both["States"])
    quiet = workflows.definition(export_spec(notify=False))
    assert not {"NotifyFailure", "FailureKind?"} & set(quiet["States"])


@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
def test_every_aws_call_is_caught_and_every_resource_is_a_documented_integration(spec):
    allowed = {workflows.DMS + a for a in ("modifyEndpoint", "describeConnections", "startReplicationTask",
                                           "describeReplicationTasks", "describeTableStatistics")}
    allowed |= {workflows.LIST_OBJECTS, workflows.GET_ITEM, workflows.PUT_ITEM, workflows.PUBLISH}
    asl = workflows.definition(spec)
    for name, state in asl["States"].items():
        if state["Type"] in ("Task", "Map"):
            assert state.get("Resource", workflows.PUT_ITEM) in allowed, name
            target = "NotifyFailure" if spec.notify else "RunFailed"
            if name != "NotifyFailure":
                assert [c["Next"] for c in state["Catch"]] == [target], name
    waits = {s["Seconds"] for s in asl["States"].values() if s["Type"] == "Wait"}
    assert waits == ({15, 30} if spec.kind == "export" else {30})
    assert workflows.placeholders(asl) <= set(workflows.PLACEHOLDERS)


# --- (2) moto's ASL parser --------------------------------------------------------------------------------
def _validate(definition: str) -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    StepFunctionsParserBackend._validate_definition(definition=definition)


@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
def test_moto_asl_parser_accepts_every_definition(spec):
    text = workflows.definition_json(spec)
    _validate(text)  # raises InvalidDefinition otherwise
    _validate(substitute(text, ARNS))


def test_moto_asl_parser_refuses_an_invalid_definition():
    from moto.stepfunctions.parser.api import InvalidDefinition

    broken = workflows.definition(export_spec())
    broken["States"]["WaitForTask"]["Type"] = "Sleep"
    with pytest.raises(InvalidDefinition):
        _validate(json.dumps(broken))
    broken = workflows.definition(export_spec())
    broken["States"]["ListExportFolder"]["Paramters"] = broken["States"]["ListExportFolder"].pop("Parameters")
    with pytest.raises(InvalidDefinition):
        _validate(json.dumps(broken))


def _intrinsic_functions(node) -> list[str]:
    if isinstance(node, dict):
        return [x for k, v in node.items() for x in (
            [v] if k.endswith(".$") and isinstance(v, str) and v.startswith("States.") else _intrinsic_functions(v))]
    if isinstance(node, list):
        return [x for v in node for x in _intrinsic_functions(v)]
    return []


def intrinsic_errors(expression: str) -> list[str]:
    """Parse one intrinsic function with moto's grammar; its errors (moto itself only prints them)."""
    from antlr4 import CommonTokenStream, InputStream
    from antlr4.error.ErrorListener import ErrorListener
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLIntrinsicLexer import ASLIntrinsicLexer
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLIntrinsicParser import ASLIntrinsicParser
    from moto.stepfunctions.parser.asl.parse.intrinsic.preprocessor import Preprocessor

    errors: list[str] = []

    class Collect(ErrorListener):
        def syntaxError(self, recognizer, offending_symbol, line, column, msg, e):  # noqa: N802 - antlr's name
            errors.append(f"column {column}: {msg}")

    lexer = ASLIntrinsicLexer(InputStream(expression))
    lexer.removeErrorListeners()
    lexer.addErrorListener(Collect())
    parser = ASLIntrinsicParser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(Collect())
    tree = parser.func_decl()
    if not errors:
        Preprocessor().visit(tree)
    return errors


@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
def test_intrinsic_functions_parse(spec):
    found = _intrinsic_functions(workflows.definition(spec))
    assert found and {e: intrinsic_errors(e) for e in found} == {e: [] for e in found}
    assert intrinsic_errors("States.Format('it''s {}', $.x)")  # the check does catch a broken one


def test_format_templates_refuse_reserved_characters():
    with pytest.raises(ValueError):
        workflows._format("the run's time {}", "$.x")
    with pytest.raises(ValueError):
        workflows._format("{} and {}", "$.x")


# --- (3) executions -----------------------------------------------------------------------------------------
def machine(spec: WorkflowSpec) -> str:
    return substitute(workflows.definition_json(spec), ARNS)


def task_row(status: str = "ready", **extra) -> dict:
    return {"ReplicationTasks": [{"ReplicationTaskIdentifier": TASK_ID, "ReplicationTaskArn": ARNS["TaskArn"],
                                  "Status": status, **extra}]}


def export_script(**overrides) -> dict:
    script = {
        "databasemigration:describeReplicationTasks": [
            task_row(), task_row("starting"), task_row("running"),
            task_row("stopped", StopReason="Stop Reason FULL_LOAD_ONLY_FINISHED")],
        "s3:listObjectsV2": [{"KeyCount": 0, "IsTruncated": False}],
        "databasemigration:modifyEndpoint": [{"Endpoint": {}}],
        "databasemigration:describeConnections": [{"Connections": [{"Status": "testing"}]},
                                                  {"Connections": [{"Status": "successful"}]}],
        "databasemigration:startReplicationTask": [{"ReplicationTask": {}}],
        "sns:publish": [{"MessageId": "m-1"}],
    }
    script.update(overrides)
    return script


def test_export_first_run(monkeypatch):
    fake = FakeAws(export_script())
    result = run(machine(export_spec()), fake, START, monkeypatch)
    assert result["status"] == "SUCCEEDED", result
    assert fake.actions() == [
        "databasemigration:describeReplicationTasks", "s3:listObjectsV2", "databasemigration:modifyEndpoint",
        "databasemigration:describeConnections", "databasemigration:describeConnections",
        "databasemigration:startReplicationTask", "databasemigration:describeReplicationTasks",
        "databasemigration:describeReplicationTasks", "databasemigration:describeReplicationTasks"]
    assert fake.params("databasemigration:describeReplicationTasks")[0] == {
        "Filters": [{"Name": "replication-task-arn", "Values": [ARNS["TaskArn"]]}], "WithoutSettings": True}
    assert fake.params("s3:listObjectsV2") == [{"Bucket": "lake", "Prefix": f"{ROOT}/2026/11/01/", "MaxKeys": 1}]
    [modify] = fake.params("databasemigration:modifyEndpoint")
    assert modify == {"EndpointArn": ARNS["ExportEndpointArn"], "S3Settings": {
        **S3_SETTINGS, "ServiceAccessRoleArn": ARNS["DatalakeRoleArn"], "BucketFolder": f"{ROOT}/2026/11/01"}}
    assert fake.params("databasemigration:describeConnections")[0] == {"Filters": [
        {"Name": "endpoint-arn", "Values": [ARNS["ExportEndpointArn"]]},
        {"Name": "replication-instance-arn", "Values": [ARNS["InstanceArn"]]}]}
    assert fake.params("databasemigration:startReplicationTask") == [
        {"ReplicationTaskArn": ARNS["TaskArn"], "StartReplicationTaskType": "start-replication"}]
    assert fake.waits == [15, 15, 30, 30, 30]


def test_export_later_run_reloads_the_target_into_a_timestamped_folder(monkeypatch):
    ran = {"ReplicationTaskStartDate": "2026-10-31T02:00:05Z", "StopReason": "Stop Reason FULL_LOAD_ONLY_FINISHED"}
    fake = FakeAws(export_script(**{
        "databasemigration:describeReplicationTasks": [
            task_row("stopped", **ran), task_row("running"), task_row("stopped", **ran)],
        "databasemigration:describeConnections": [{"Connections": []}]}))  # no test to wait for
    result = run(machine(export_spec("timestamped")), fake, "2026-11-01T02:00:03Z", monkeypatch)  # no milliseconds
    assert result["status"] == "SUCCEEDED", result
    assert fake.params("s3:listObjectsV2")[0]["Prefix"] == f"{ROOT}/2026/11/01/020003/"
    assert fake.params("databasemigration:modifyEndpoint")[0]["S3Settings"]["BucketFolder"] == \
        f"{ROOT}/2026/11/01/020003"
    assert fake.params("databasemigration:startReplicationTask")[0]["StartReplicationTaskType"] == "reload-target"


def test_export_refuses_a_folder_that_holds_objects(monkeypatch):
    fake = FakeAws(export_script(**{"s3:listObjectsV2": [{"KeyCount": 1}]}))
    result = run(machine(export_spec()), fake, START, monkeypatch)
    assert (result["status"], result["error"]) == ("FAILED", "ExportFolderNotEmpty")
    assert f"s3://lake/{ROOT}/2026/11/01/ already holds objects" in result["cause"]
    assert "databasemigration:modifyEndpoint" not in fake.actions()
    [published] = fake.params("sns:publish")
    assert published["TopicArn"] == ARNS["TopicArn"] and "ExportFolderNotEmpty" in published["Message"]
    assert published["Subject"] == f"dmsctl: export run of {TASK_ID} failed"


@pytest.mark.parametrize("connection, reason", [
    ({"Status": "failed", "LastFailureMessage": "Access denied to bucket lake"}, "Access denied to bucket lake"),
    ({"Status": "failed"}, "no reason given"),
], ids=["with-message", "without-message"])
def test_export_fails_when_the_connection_test_fails(monkeypatch, connection, reason):
    fake = FakeAws(export_script(**{"databasemigration:describeConnections": [{"Connections": [connection]}]}))
    result = run(machine(export_spec()), fake, START, monkeypatch)
    assert (result["status"], result["error"]) == ("FAILED", "ConnectionTestFailed")
    assert result["cause"] == (f"the connection test of the export endpoint of {TASK_ID} failed: {reason}. "
                               "The task was not started")
    assert "databasemigration:startReplicationTask" not in fake.actions()


def test_export_gives_up_on_a_connection_test_after_15_minutes(monkeypatch):
    testing = {"Connections": [{"Status": "testing"}]}
    fake = FakeAws(export_script(**{"databasemigration:describeConnections": [testing]}))
    result = run(machine(export_spec()), fake, START, monkeypatch)
    assert (result["status"], result["error"]) == ("FAILED", "ConnectionTestTimedOut")
    assert len(fake.params("databasemigration:describeConnections")) == 60 and sum(fake.waits) == 900
    assert "databasemigration:startReplicationTask" not in fake.actions()


@pytest.mark.parametrize("final, cause", [
    (task_row("failed", LastFailureMessage="Source unreachable", StopReason="Stop Reason FATAL_ERROR"),
     "is failed (stop reason: Stop Reason FATAL_ERROR) before its full load finished: Source unreachable"),
    (task_row("stopped", StopReason="Stop Reason NORMAL"),
     "is stopped (stop reason: Stop Reason NORMAL) before its full load finished: no reason given"),
    (task_row("stopped"), "is stopped (stop reason: none) before its full load finished: no reason given"),
], ids=["failed", "stopped-by-someone", "stopped-without-reason"])
def test_export_fails_when_the_task_does_not_finish_its_full_load(monkeypatch, final, cause):
    fake = FakeAws(export_script(**{"databasemigration:describeReplicationTasks": [task_row(), task_row("running"),
                                                                                    final]}))
    result = run(machine(export_spec()), fake, START, monkeypatch)
    assert (result["status"], result["error"]) == ("FAILED", "TaskFailed")
    assert result["cause"] == f"replication task {TASK_ID} {cause}"
    assert len(fake.params("sns:publish")) == 1


def test_export_refuses_a_busy_task_before_any_change(monkeypatch):
    fake = FakeAws(export_script(**{"databasemigration:describeReplicationTasks": [task_row("running")]}))
    result = run(machine(export_spec()), fake, START, monkeypatch)
    assert (result["status"], result["error"]) == ("FAILED", "TaskBusy")
    assert fake.actions() == ["databasemigration:describeReplicationTasks", "sns:publish"]


def test_a_failed_aws_call_is_published_and_fails_the_run(monkeypatch):
    denied = client_error("AccessDeniedFault", "not allowed to start", "StartReplicationTask")
    fake = FakeAws(export_script(**{"databasemigration:startReplicationTask": [denied]}))
    result = run(machine(export_spec()), fake, START, monkeypatch)
    assert result["status"] == "FAILED"
    assert result["error"] not in ("TaskFailed", "ExportFolderNotEmpty") and "not allowed to start" in result["cause"]
    [published] = fake.params("sns:publish")
    assert "not allowed to start" in published["Message"]


def test_without_notifications_nothing_is_published(monkeypatch):
    fake = FakeAws(export_script(**{"s3:listObjectsV2": [{"KeyCount": 3}]}))
    result = run(machine(export_spec(notify=False)), fake, START, monkeypatch)
    assert (result["status"], result["error"]) == ("FAILED", "ExportFolderNotEmpty")
    assert "sns:publish" not in fake.actions()


def test_a_failed_notification_still_ends_in_the_failure(monkeypatch):
    fake = FakeAws(export_script(**{"s3:listObjectsV2": [{"KeyCount": 3}],
                                    "sns:publish": [client_error("AuthorizationError", "no", "Publish")]}))
    result = run(machine(export_spec()), fake, START, monkeypatch)
    assert (result["status"], result["error"]) == ("FAILED", "ExportFolderNotEmpty")


# incremental runs
CHECKPOINT = {"Item": {"pk": {"S": "checkpoint#dmsctl-food-orders"}, "sk": {"S": "latest"},
                       "checkpoint": {"S": "checkpoint:V1#27#mysql-bin-changelog.000024:2345#0#0#*#0#1"},
                       "window_end": {"S": "2026-11-01T00:00:00Z"}, "run": {"S": "run-0"}}}
STATS = [{"SchemaName": "app", "TableName": "orders", "Inserts": 10, "Updates": 2, "Deletes": 1, "FullLoadRows": 0},
         {"SchemaName": "app", "TableName": "order_lines", "Inserts": 30, "Updates": 0, "Deletes": 0,
          "FullLoadRows": 0}]
STOPPED = {"StopReason": "Stop Reason STOPPED_AT_SERVER_TIME", "RecoveryCheckpoint": "checkpoint:V1#28#after"}


def incremental_script(**overrides) -> dict:
    script = {
        "dynamodb:getItem": [{}],
        "databasemigration:describeReplicationTasks": [task_row(), task_row("running"), task_row("stopped", **STOPPED)],
        "databasemigration:startReplicationTask": [{"ReplicationTask": {}}],
        "databasemigration:describeTableStatistics": [{"TableStatistics": STATS[:1], "Marker": "page-2"},
                                                      {"TableStatistics": STATS[1:]}],
        "dynamodb:putItem": [{}],
        "sns:publish": [{"MessageId": "m-1"}],
    }
    script.update(overrides)
    return script


def put_items(fake: FakeAws) -> list[dict]:
    return [p["Item"] for p in fake.params("dynamodb:putItem")]


def test_incremental_first_run_of_a_cdc_task_starts_at_cdc_start_time(monkeypatch):
    fake = FakeAws(incremental_script())
    result = run(machine(incremental_spec()), fake, "2026-11-01T06:00:00.000Z", monkeypatch)
    assert result["status"] == "SUCCEEDED", result
    assert fake.params("dynamodb:getItem") == [{"TableName": "dmsctl-state", "ConsistentRead": True, "Key": {
        "pk": {"S": "checkpoint#dmsctl-food-orders"}, "sk": {"S": "latest"}}}]
    assert fake.params("databasemigration:startReplicationTask") == [{
        "ReplicationTaskArn": ARNS["TaskArn"], "StartReplicationTaskType": "start-replication",
        "CdcStartTime": "2026-10-01T00:00:00Z", "CdcStopPosition": "server_time:2026-11-01T06:00:00"}]
    assert fake.params("databasemigration:describeTableStatistics") == [
        {"ReplicationTaskArn": ARNS["TaskArn"], "MaxRecords": 100},
        {"ReplicationTaskArn": ARNS["TaskArn"], "MaxRecords": 100, "Marker": "page-2"}]
    items = put_items(fake)
    assert [i["sk"]["S"] for i in items] == ["2026-11-01T06:00:00Z#app.orders", "2026-11-01T06:00:00Z#app.order_lines",
                                             "run#2026-11-01T06:00:00Z", "latest"]
    assert items[0] == {"pk": {"S": "metrics#dmsctl-food-orders"}, "sk": {"S": "2026-11-01T06:00:00Z#app.orders"},
                        "inserts": {"N": "10"}, "updates": {"N": "2"}, "deletes": {"N": "1"},
                        "full_load_rows": {"N": "0"}, "window_end": {"S": "2026-11-01T06:00:00Z"},
                        "run": {"S": "run-1"}, "window_start": {"S": "2026-10-01T00:00:00Z"}}
    latest = items[-1]
    assert latest["pk"] == {"S": "checkpoint#dmsctl-food-orders"}
    assert latest["checkpoint"] == {"S": "checkpoint:V1#28#after"}
    assert latest["window_end"] == {"S": "2026-11-01T06:00:00Z"} and latest["run"] == {"S": "run-1"}
    assert latest["window_start"] == {"S": "2026-10-01T00:00:00Z"} and latest["updated_at"]["S"].startswith("20")
    assert {k: v for k, v in items[-2].items() if k != "sk"} == {k: v for k, v in latest.items() if k != "sk"}
    assert fake.params("dynamodb:putItem")[-1]["ConditionExpression"] == "attribute_not_exists(pk)"
    assert fake.waits == [30, 30]


def test_incremental_later_run_starts_at_the_checkpoint(monkeypatch):
    fake = FakeAws(incremental_script(**{"dynamodb:getItem": [CHECKPOINT],
                                         "databasemigration:describeTableStatistics": [{"TableStatistics": STATS}]}))
    result = run(machine(incremental_spec()), fake, "2026-11-01T06:00:00.000Z", monkeypatch)
    assert result["status"] == "SUCCEEDED", result
    [start] = fake.params("databasemigration:startReplicationTask")
    assert start["CdcStartPosition"] == CHECKPOINT["Item"]["checkpoint"]["S"] and "CdcStartTime" not in start
    assert start["CdcStopPosition"] == "server_time:2026-11-01T06:00:00"
    assert {i["window_start"]["S"] for i in put_items(fake)} == {"2026-11-01T00:00:00Z"}
    last = fake.params("dynamodb:putItem")[-1]
    assert (last["ConditionExpression"], last["ExpressionAttributeValues"]) == (
        "checkpoint = :before", {":before": CHECKPOINT["Item"]["checkpoint"]})


def test_a_checkpoint_moved_by_someone_else_is_not_overwritten(monkeypatch):
    moved = client_error("ConditionalCheckFailedException", "The conditional request failed", "PutItem")
    fake = FakeAws(incremental_script(**{"dynamodb:getItem": [CHECKPOINT],
                                         "dynamodb:putItem": [{}, {}, {}, moved]}))
    result = run(machine(incremental_spec()), fake, "2026-11-01T06:00:00.000Z", monkeypatch)
    assert result["status"] == "FAILED" and "The conditional request failed" in result["cause"]
    assert [i["sk"]["S"] for i in put_items(fake)][-2:] == ["run#2026-11-01T06:00:00Z", "latest"]


def test_incremental_refuses_a_window_that_the_checkpoint_already_covers(monkeypatch):
    fake = FakeAws(incremental_script(**{"dynamodb:getItem": [CHECKPOINT]}))
    result = run(machine(incremental_spec()), fake, "2026-10-31T23:00:00.000Z", monkeypatch)
    assert (result["status"], result["error"]) == ("FAILED", "WindowEmpty")
    assert "would start at 2026-11-01T00:00:00Z, not before the run time 2026-10-31T23:00:00Z" in result["cause"]
    assert "databasemigration:startReplicationTask" not in fake.actions()


@pytest.mark.parametrize("final, error", [
    (task_row("stopped", StopReason="Stop Reason STOPPED_AT_SERVER_TIME"), "NoRecoveryCheckpoint"),
    (task_row("failed", LastFailureMessage="Binary log purged", StopReason="Stop Reason FATAL_ERROR"), "TaskFailed"),
], ids=["no-recovery-checkpoint", "task-failed"])
def test_a_failed_incremental_run_writes_no_checkpoint(monkeypatch, final, error):
    fake = FakeAws(incremental_script(**{"dynamodb:getItem": [CHECKPOINT],
                                         "databasemigration:describeReplicationTasks": [task_row(), final]}))
    result = run(machine(incremental_spec()), fake, "2026-11-01T06:00:00.000Z", monkeypatch)
    assert (result["status"], result["error"]) == ("FAILED", error)
    assert put_items(fake) == []


def test_a_failed_metrics_write_leaves_the_checkpoint_alone(monkeypatch):
    throttled = client_error("ProvisionedThroughputExceededException", "slow down", "PutItem")
    fake = FakeAws(incremental_script(**{"dynamodb:putItem": [throttled]}))
    result = run(machine(incremental_spec()), fake, "2026-11-01T06:00:00.000Z", monkeypatch)
    assert result["status"] == "FAILED" and "slow down" in result["cause"]
    assert all(not i["sk"]["S"].startswith(("run#", "latest")) for i in put_items(fake))


def test_full_load_and_cdc_first_run_full_loads_then_stops_at_the_window_end(monkeypatch):
    fake = FakeAws(incremental_script())
    result = run(machine(incremental_spec("full-load-and-cdc")), fake, "2026-11-01T06:00:00.000Z", monkeypatch)
    assert result["status"] == "SUCCEEDED", result
    assert fake.params("databasemigration:startReplicationTask") == [{
        "ReplicationTaskArn": ARNS["TaskArn"], "StartReplicationTaskType": "start-replication",
        "CdcStopPosition": "server_time:2026-11-01T06:00:00"}]
    assert all("window_start" not in i for i in put_items(fake))  # the first window starts with the full load


def test_full_load_and_cdc_later_run_resumes(monkeypatch):
    ran = {"ReplicationTaskStartDate": "2026-10-31T06:00:00Z"}
    fake = FakeAws(incremental_script(**{
        "dynamodb:getItem": [CHECKPOINT],
        "databasemigration:describeReplicationTasks": [task_row("stopped", **ran, **STOPPED), task_row("running"),
                                                       task_row("stopped", **ran, **STOPPED)]}))
    result = run(machine(incremental_spec("full-load-and-cdc")), fake, "2026-11-01T06:00:00.000Z", monkeypatch)
    assert result["status"] == "SUCCEEDED", result
    assert fake.params("databasemigration:startReplicationTask") == [{
        "ReplicationTaskArn": ARNS["TaskArn"], "StartReplicationTaskType": "resume-processing",
        "CdcStopPosition": "server_time:2026-11-01T06:00:00"}]
    assert {i["window_start"]["S"] for i in put_items(fake)} == {"2026-11-01T00:00:00Z"}
