"""The deployer against the sandbox's AWS rules: enriched task settings (A9, A40) are not drift, a key
the config sets and someone changed is (P110)."""

from __future__ import annotations

import json

import pytest

from dmsctl.deployer.apply import PlanRefused
from tests.e2e.apply_helpers import deploy_examples, status, tasks, tree, tune_foodsearch

pytestmark = pytest.mark.usefixtures("shared_botocore_loader")

FOODSEARCH = "dmsctl-food-foodsearch"


def _console_modify(sandbox, ident: str, settings: dict) -> None:
    """Stop, modify the settings, resume: what an operator does in the DMS console."""
    dms = sandbox.client("dms")
    arn = tasks(sandbox)[ident]["ReplicationTaskArn"]
    dms.stop_replication_task(ReplicationTaskArn=arn)
    sandbox.advance(60)
    dms.modify_replication_task(ReplicationTaskArn=arn, ReplicationTaskSettings=json.dumps(settings))
    sandbox.advance(60)
    dms.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="resume-processing")
    sandbox.advance(60)
    assert status(sandbox, ident) == "running"


def _drift(harness, cfg) -> list[str]:
    plan = harness.plan(cfg)[0].plan
    return [c.message for c in plan.checks if c.code == "P110"]


def _stored(sandbox, ident: str) -> dict:
    dms = sandbox.client("dms")
    row = dms.describe_replication_tasks(
        Filters=[{"Name": "replication-task-id", "Values": [ident]}])["ReplicationTasks"][0]
    return json.loads(row["ReplicationTaskSettings"])


def test_enriched_settings_are_not_drift_but_a_changed_key_the_config_sets_is(harness, sandbox, tmp_path):
    cfg = deploy_examples(harness, sandbox, tmp_path)
    stored = _stored(sandbox, FOODSEARCH)
    ids = [c["Id"] for c in stored["Logging"]["LogComponents"]]
    assert len(ids) > 5 and ids[0] == "TRANSFORMATION"  # enriched: DMS's whole list, its order
    assert "RecoveryTimeout" in stored["ChangeProcessingTuning"]  # a key the config never sent
    plan = harness.plan(cfg)[0].plan
    assert not plan.has_changes and _drift(harness, cfg) == []

    # a component the config does not set is DMS's business: not drift
    _console_modify(sandbox, FOODSEARCH, {"Logging": {"LogComponents": [
        {"Id": "SORTER", "Severity": "LOGGER_SEVERITY_DEBUG"}]}})
    assert _drift(harness, cfg) == []

    # a component the config sets, changed in the console: drift
    _console_modify(sandbox, FOODSEARCH, {"Logging": {"LogComponents": [
        {"Id": "TARGET_APPLY", "Severity": "LOGGER_SEVERITY_DEBUG"}]}})
    found = _drift(harness, cfg)
    assert len(found) == 1 and "Logging.LogComponents.TARGET_APPLY" in found[0], found


def test_a_changed_tuning_value_is_drift(harness, sandbox, tmp_path):
    cfg = deploy_examples(harness, sandbox, tmp_path)
    _console_modify(sandbox, FOODSEARCH, {"ChangeProcessingTuning": {"MemoryKeepTime": 120}})
    found = _drift(harness, cfg)
    assert len(found) == 1 and "ChangeProcessingTuning.MemoryKeepTime" in found[0], found


def _roll_back_failed(sandbox, stack: str, ident: str) -> None:
    """An update (made outside dmsctl) fails on a running task after creating a topic, and the rollback
    cannot delete the topic: the stack ends UPDATE_ROLLBACK_FAILED."""
    cfn = sandbox.client("cloudformation")
    body = cfn.get_template(StackName=stack)["TemplateBody"]
    template = json.loads(body) if isinstance(body, str) else body
    logical = next(k for k, r in template["Resources"].items() if r["Type"] == "AWS::DMS::ReplicationTask"
                   and r["Properties"].get("ReplicationTaskIdentifier") == ident)
    template["Resources"]["Extra"] = {"Type": "AWS::SNS::Topic"}
    task = template["Resources"][logical]
    task["DependsOn"] = sorted(set(task.get("DependsOn", [])) | {"Extra"}) if isinstance(
        task.get("DependsOn", []), list) else [task["DependsOn"], "Extra"]
    task["Properties"]["ReplicationTaskSettings"] = json.dumps({"Logging": {"EnableLogging": False}})
    sandbox.faults.fail_next_rollback(stack, "Extra could not be deleted (injected)")
    cfn.update_stack(StackName=stack, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"])
    assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "UPDATE_ROLLBACK_FAILED"


def test_a_stack_in_update_rollback_failed_blocks_the_plan_with_the_next_step(harness, sandbox, tmp_path):
    deploy_examples(harness, sandbox, tmp_path)
    _roll_back_failed(sandbox, "dmsctl-team-food", FOODSEARCH)
    changed = tree(tmp_path / "after", tune_foodsearch)
    plan = harness.plan(changed)[0].plan
    blocked = [c for c in plan.checks if c.code == "P112"]
    assert not plan.go and len(blocked) == 1 and blocked[0].blocks
    assert "dmsctl-team-food is UPDATE_ROLLBACK_FAILED" in blocked[0].message
    assert "continue-update-rollback" in blocked[0].message
    mark = sandbox.calls.mark()
    with pytest.raises(PlanRefused, match="P112 error: stack dmsctl-team-food is UPDATE_ROLLBACK_FAILED"):
        harness.apply(changed)  # apply plans again and refuses: nothing is stopped or deployed
    assert status(sandbox, FOODSEARCH) == "running"
    assert not [c for c in sandbox.calls.since(mark) if c.mutating and c.service != "dynamodb"]
