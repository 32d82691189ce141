"""One team's console edit (drift, P110) never blocks another team's change, and apply's final check
does not claim that DMS matches the configuration while that drift is there."""

from __future__ import annotations

import json

from tests.e2e.apply_helpers import deploy_examples, status, tasks, tree, tune_foodsearch

USERS_CDC = "dmsctl-growth-users-cdc"


def _console_adds_a_table(sandbox) -> None:
    dms, row = sandbox.client("dms"), tasks(sandbox)[USERS_CDC]
    dms.stop_replication_task(ReplicationTaskArn=row["ReplicationTaskArn"])
    sandbox.advance(30)
    full = dms.describe_replication_tasks(Filters=[{"Name": "replication-task-id", "Values": [USERS_CDC]}]
                                          )["ReplicationTasks"][0]
    mappings = json.loads(full["TableMappings"])
    mappings["rules"].append({"rule-type": "selection", "rule-id": "9001", "rule-name": "console-devices",
                              "object-locator": {"schema-name": "users", "table-name": "devices"},
                              "rule-action": "include"})
    dms.modify_replication_task(ReplicationTaskArn=row["ReplicationTaskArn"], TableMappings=json.dumps(mappings))
    sandbox.advance(30)
    dms.start_replication_task(ReplicationTaskArn=row["ReplicationTaskArn"],
                               StartReplicationTaskType="resume-processing")
    sandbox.advance(30)
    assert status(sandbox, USERS_CDC) == "running"


def test_another_teams_drift_is_a_warning_and_the_final_check_says_it_remains(harness, sandbox, tmp_path):
    deploy_examples(harness, sandbox, tmp_path)
    _console_adds_a_table(sandbox)
    cfg = tree(tmp_path / "after", tune_foodsearch)  # the food team's change
    planned, _ = harness.plan(cfg)
    assert planned.plan.go
    [drift] = [c for c in planned.plan.checks if c.code == "P110"]
    assert drift.severity == "warning" and drift.resource == "growth/users-cdc"
    code, _, progress = harness.apply(cfg)
    assert code == 0, [e.message for e in progress.events]
    final = [e.message for e in progress.events if e.message.startswith("final check")]
    assert final and "1 drift warning(s) remain" in final[0] and "DMS matches" not in final[0]
