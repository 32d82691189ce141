"""Incremental windows of a cdc task on a PostgreSQL source (DMS User Guide, "Using a PostgreSQL database as
an AWS DMS source": no custom CDC start time; the sandbox refuses CdcStartTime for it, A37). The first window
starts at the task's native start point (started without a position), later ones from the checkpoint
through the endpoint's replication slot (A38); a MySQL source still starts its first window at
cdc_start_time. Both the run (`dmsctl run`, deployer/runs/incremental.py) and the compiled state machine.
"""

from __future__ import annotations

import dataclasses
import json
import time

import pytest

from dmsctl.compiler import workflows
from tests.runs.conftest import at
from tests.sandbox import helpers as h
from tests.sandbox import templates as t

CDC = "payments-cdc"
SLOT = "shop_dms"
T1, T2 = "2024-01-01T06:00:00Z", "2024-01-01T12:00:00Z"


def _postgres_target(world):
    """payments-cdc again, reading a PostgreSQL source (with slot_name) instead of the world's MySQL one."""
    sb, target = world.sandbox, world.target(CDC)
    dms = sb.client("dms")
    row = world.task(CDC)
    source = dms.create_endpoint(
        EndpointIdentifier=f"{target.resource_prefix}-shop-src-pg", EndpointType="source", EngineName="postgres",
        ServerName="pg.internal", Port=5432, Username="dms", Password="secret", DatabaseName="shop",
        PostgreSQLSettings={"SlotName": SLOT})["Endpoint"]
    sb.create_slot(source["EndpointIdentifier"], SLOT)
    identifier = f"{target.task_id}-pg"
    dms.create_replication_task(
        ReplicationTaskIdentifier=identifier, SourceEndpointArn=source["EndpointArn"],
        TargetEndpointArn=row["TargetEndpointArn"], ReplicationInstanceArn=row["ReplicationInstanceArn"],
        MigrationType="cdc", TableMappings=target.task.mappings, ReplicationTaskSettings=target.task.settings)
    sb.advance(60)
    task = dataclasses.replace(target.task, identifier=identifier, source_engine="postgres", slot_name=SLOT)
    return dataclasses.replace(target, task=task), source["EndpointIdentifier"]


def _run(world, target, when: str, clock: str):
    from dmsctl.deployer.runs import run_task

    world.sandbox.clock.set_time(at(clock))
    return run_task(world.gateway(), target, at(when), world.progress())


def test_a_postgres_first_window_starts_at_the_native_start_point_then_from_the_checkpoint(world):
    target, source = _postgres_target(world)
    assert target.cdc_start_time  # set, and not sent: PostgreSQL has no custom CDC start time
    sb = world.sandbox
    sb.record_changes(source, "shop", "payments", inserts=4, at=at("2024-01-01T04:00:00Z"))  # before the start
    sb.record_changes(source, "shop", "payments", inserts=3, at=at("2024-01-01T05:30:00Z"))
    sb.record_changes(source, "shop", "payments", inserts=2, at=at("2024-01-01T09:00:00Z"))
    mark = sb.calls.mark()
    first = _run(world, target, T1, clock="2024-01-01T05:00:00Z")
    starts = [c.params for c in sb.calls.since(mark) if c.operation == "StartReplicationTask"]
    assert first.ok and first.window_start is None and first.start_type == "start-replication"
    assert starts and not any("CdcStartTime" in p or "CdcStartPosition" in p for p in starts)
    assert {t.name: t.inserts for t in first.tables}["shop.payments"] == 3
    second = _run(world, target, T2, clock=T2)
    assert second.ok and second.window_start == T1 and second.checkpoint_before == first.checkpoint_after
    assert {t.name: t.inserts for t in second.tables}["shop.payments"] == 2


def test_a_mysql_first_window_still_starts_at_cdc_start_time(world):
    mark = world.sandbox.calls.mark()
    first = _run(world, world.target(CDC), T1, clock=T1)
    starts = [c.params for c in world.sandbox.calls.since(mark) if c.operation == "StartReplicationTask"]
    assert first.ok and first.window_start == world.target(CDC).cdc_start_time
    assert any("CdcStartTime" in p for p in starts)


# -- the compiled state machine -------------------------------------------------------------------------
TASK = "team-a-pg"
STATE_TABLE = "pg-state"
ROLE_ARN = "arn:aws:iam::123456789012:role/dmsctl-run"


def _postgres_task(sb) -> str:
    assert h.create_stack(sb, "dmsctl-base", t.body(t.base_template())) == "CREATE_COMPLETE"
    team = t.team_template({TASK: t.mappings("app.users")}, "cdc", engine="postgres")
    team["Resources"]["SourceEndpoint"]["Properties"]["PostgreSqlSettings"]["SlotName"] = SLOT
    assert h.create_stack(sb, "dmsctl-team-a", t.body(team)) == "CREATE_COMPLETE"
    sb.create_slot("team-a-source", SLOT)
    h.connect_all(sb)
    sb.client("dynamodb").create_table(
        TableName=STATE_TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    return h.task(sb, TASK)["ReplicationTaskArn"]


def _execute(sb, machine: str, name: str) -> dict:
    sfn = sb.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=machine, name=name, input="{}")["executionArn"]
    deadline = time.monotonic() + 60
    while (run := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not finish"
        time.sleep(0.05)
    return run


def _machine(sb, task_arn: str, engine: str) -> str:
    spec = workflows.WorkflowSpec(kind="incremental", task_id=TASK, migration_type="cdc", notify=False,
                                  cdc_start_time="2024-01-01T00:00:00Z", source_engine=engine)
    text = workflows.definition_json(spec).replace("${TaskArn}", task_arn).replace("${StateTable}", STATE_TABLE)
    return sb.client("stepfunctions").create_state_machine(name=f"pg-{engine or 'other'}", definition=text,
                                                           roleArn=ROLE_ARN)["stateMachineArn"]


def test_the_compiled_postgres_machine_runs_its_first_window_and_the_next_from_the_checkpoint(sandbox):
    machine = _machine(sandbox, _postgres_task(sandbox), "postgres")
    sandbox.advance(3600)
    first = _execute(sandbox, machine, "window-1")
    assert first["status"] == "SUCCEEDED", (first.get("error"), first.get("cause"))
    sandbox.advance(6 * 3600)
    second = _execute(sandbox, machine, "window-2")
    assert second["status"] == "SUCCEEDED", (second.get("error"), second.get("cause"))
    starts = [c.params for c in sandbox.calls.find("dms", "StartReplicationTask")]
    assert len(starts) == 2 and "CdcStartTime" not in json.dumps(starts)
    assert "CdcStartPosition" not in starts[0] and starts[1]["CdcStartPosition"].startswith("checkpoint:")


@pytest.mark.parametrize("engine", ["mysql", ""])
def test_a_machine_compiled_for_another_engine_fails_on_a_postgres_source(sandbox, engine):
    """What the former definition did: CdcStartTime on the first window, which DMS refuses for PostgreSQL."""
    machine = _machine(sandbox, _postgres_task(sandbox), engine)
    sandbox.advance(3600)
    run = _execute(sandbox, machine, "window-1")
    assert run["status"] == "FAILED" and run["error"].startswith("DatabaseMigration.")
    assert "PostgreSQL as a source doesn't support a custom CDC start time" in run["cause"]


def test_the_compiled_machine_of_a_postgres_cdc_task_starts_at_its_native_start_point(tmp_path):
    """compiler/render.py gives the workflow the source's engine: the deployed definition sends no CdcStartTime."""
    import copy

    from dmsctl.compiler.build import compile_tree
    from tests.helpers import MINIMAL_BASE, write_tree
    from tests.runs.conftest import TEAM, team_doc

    definitions = {}
    for engine in ("postgres", "mysql"):
        doc = team_doc(True)
        doc["sources"]["db"].update({"engine": engine, "database": "shop"})
        if engine == "postgres":  # no custom CDC start time (E219); the first window reads from the slot
            doc["tasks"][CDC].pop("cdc_start_time")
            doc["sources"]["db"]["slot_name"] = SLOT
        result = compile_tree(write_tree(tmp_path / engine, base=copy.deepcopy(MINIMAL_BASE), teams={TEAM: doc}),
                              "staging")
        assert result.ok, [str(d) for d in result.diagnostics]
        machines = [r["Properties"] for s in result.tree.stacks for r in json.loads(s.body)["Resources"].values()
                    if r["Type"] == "AWS::StepFunctions::StateMachine"]
        definitions[engine] = next(m["DefinitionString"] for m in machines
                                   if m["StateMachineName"].endswith(CDC))
    assert "StartAtNativeStartPoint" in definitions["postgres"] and "CdcStartTime" not in definitions["postgres"]
    assert "CdcStartTime" in definitions["mysql"]
