"""The compiled incremental state machine of a task with many tables stays under Step Functions' payload
quota (262,144 bytes; States.DataLimitExceeded, sandbox/sfn_limits.py): its table statistics come a page
of workflows.STATS_PAGE rows at a time. With the former page of 500 rows (~800 bytes each) the raw
DescribeTableStatistics result alone exceeds the quota and the run fails.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from dmsctl.compiler import workflows
from tests.sandbox import helpers as h
from tests.sandbox import templates as t

TASK = "team-a-wide"
TABLES = 420  # x ~680 bytes: ~285 KB in one page of 500 rows
STATE_TABLE = "wide-state"
ROLE_ARN = "arn:aws:iam::123456789012:role/dmsctl-run"


def _wide_task(sb) -> str:
    assert h.create_stack(sb, "dmsctl-base", t.body(t.base_template())) == "CREATE_COMPLETE"
    assert h.create_stack(sb, "dmsctl-team-a", t.body(t.team_template({}))) == "CREATE_COMPLETE"
    dms = sb.client("dms")
    # through the DMS API: TableMappings of 500 rules make a template larger than TemplateBody takes
    rules = [t.selection("app", f"table_{i:03d}", i + 1) for i in range(TABLES)]
    endpoints = {e["EndpointIdentifier"]: e["EndpointArn"] for e in dms.describe_endpoints()["Endpoints"]}
    instance = dms.describe_replication_instances()["ReplicationInstances"][0]["ReplicationInstanceArn"]
    dms.create_replication_task(
        ReplicationTaskIdentifier=TASK, MigrationType="cdc", TableMappings=json.dumps({"rules": rules}),
        SourceEndpointArn=endpoints["team-a-source"], TargetEndpointArn=endpoints["datalake-10min"],
        ReplicationInstanceArn=instance)
    sb.advance(10)  # created
    h.connect_all(sb)
    sb.client("dynamodb").create_table(
        TableName=STATE_TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    return h.task(sb, TASK)["ReplicationTaskArn"]


def _execute(sb, task_arn: str) -> dict:
    start = (sb.clock.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    spec = workflows.WorkflowSpec(kind="incremental", task_id=TASK, migration_type="cdc", notify=False,
                                  cdc_start_time=start, source_engine="mysql")
    text = workflows.definition_json(spec).replace("${TaskArn}", task_arn).replace("${StateTable}", STATE_TABLE)
    sfn = sb.client("stepfunctions")
    machine = sfn.create_state_machine(name="wide", definition=text, roleArn=ROLE_ARN)["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, name="window-1", input="{}")["executionArn"]
    deadline = time.monotonic() + 300
    while (run := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not finish"
        time.sleep(0.1)
    return run


def _metrics(sb) -> list[dict]:
    pages = sb.client("dynamodb").get_paginator("query").paginate(
        TableName=STATE_TABLE, KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"metrics#{TASK}"}})
    return [item for page in pages for item in page["Items"]]


def test_a_statistics_row_is_as_large_as_dms_rows(sandbox):
    """Every TableStatistics field of the API reference (A60), so a page weighs what it weighs on AWS."""
    arn = _wide_task(sandbox)
    rows = sandbox.client("dms").describe_table_statistics(ReplicationTaskArn=arn, MaxRecords=20)["TableStatistics"]
    assert {"ValidationStateDetails", "ResyncState", "ResyncRowsAttempted", "ResyncRowsSucceeded",
            "ResyncRowsFailed", "ResyncProgress", "FullLoadCondtnlChkFailedRows"} <= set(rows[0])
    assert len(json.dumps(rows[0], default=str)) > 600


def test_with_pages_of_500_rows_a_wide_task_fails_the_run_with_data_limit_exceeded(sandbox, monkeypatch):
    monkeypatch.setattr(workflows, "STATS_PAGE", 500)
    run = _execute(sandbox, _wide_task(sandbox))
    assert run["status"] == "FAILED"
    assert run["error"] == "States.DataLimitExceeded"
    assert _metrics(sandbox) == []


def test_the_compiled_page_size_runs_a_wide_task_to_its_end(sandbox):
    assert workflows.STATS_PAGE * 1100 < 262_144  # a page of rows with 128-character names still fits
    run = _execute(sandbox, _wide_task(sandbox))
    assert run["status"] == "SUCCEEDED", (run.get("error"), run.get("cause"))
    assert len(_metrics(sandbox)) == TABLES


@pytest.mark.parametrize("engine", ["postgres", "aurora-postgresql"])
def test_a_postgres_cdc_definition_never_sends_a_cdc_start_time(engine):
    spec = workflows.WorkflowSpec(kind="incremental", task_id=TASK, migration_type="cdc", notify=False,
                                  cdc_start_time="2026-01-01T00:00:00Z", source_engine=engine)
    assert "CdcStartTime" not in workflows.definition_json(spec)
