"""A table DMS suspended after an error ("Table error", TablesErrored: A77) is named by every plan
(P126, a warning), whichever team's change the plan is for: the lake copy of that table silently stops
getting changes, and nobody would know until someone read the task's log."""

from __future__ import annotations

import json
from datetime import timedelta

from tests.e2e.apply_helpers import add_growth_table, deploy_examples, status, table_stats, tasks, tree

FOODSEARCH = "dmsctl-food-foodsearch"


def _suspend_barcodes(sandbox) -> None:
    """A console edit makes the task apply source TRUNCATEs; dmsctl's data-lake role may not delete
    objects, so the next truncate of foodsearch.barcodes suspends that table (A77)."""
    dms = sandbox.client("dms")
    row = tasks(sandbox)[FOODSEARCH]
    dms.stop_replication_task(ReplicationTaskArn=row["ReplicationTaskArn"])
    sandbox.advance(30)
    dms.modify_replication_task(ReplicationTaskArn=row["ReplicationTaskArn"], ReplicationTaskSettings=json.dumps(
        {"ChangeProcessingDdlHandlingPolicy": {"HandleSourceTableTruncated": True}}))
    sandbox.advance(30)
    dms.start_replication_task(ReplicationTaskArn=row["ReplicationTaskArn"],
                               StartReplicationTaskType="resume-processing")
    sandbox.advance(60)
    soon = sandbox.clock.now()
    sandbox.record_changes(row["SourceEndpointArn"], "foodsearch", "barcodes", truncates=1,
                           at=soon + timedelta(seconds=1))
    sandbox.record_changes(row["SourceEndpointArn"], "foodsearch", "barcodes", inserts=2,
                           at=soon + timedelta(seconds=2))
    sandbox.advance(600)
    assert table_stats(sandbox, FOODSEARCH)["foodsearch.barcodes"]["TableState"] == "Table error"
    assert status(sandbox, FOODSEARCH) == "running"


def test_a_suspended_table_is_named_by_another_teams_plan(harness, sandbox, tmp_path):
    deploy_examples(harness, sandbox, tmp_path)
    before, _ = harness.plan(tree(tmp_path / "same"))
    assert not [c for c in before.plan.checks if c.code == "P126"]
    _suspend_barcodes(sandbox)

    planned, _ = harness.plan(tree(tmp_path / "after", add_growth_table))  # growth's change, not food's
    [warning] = [c for c in planned.plan.checks if c.code == "P126"]
    assert warning.severity == "warning" and warning.resource == "food/foodsearch/foodsearch.barcodes"
    assert "suspended 1 table(s)" in warning.message and "foodsearch.barcodes" in warning.message
    assert "bump each table's version" in warning.message
    assert planned.plan.go  # a warning: it blocks nobody's deploy
    assert [c.code for c in planned.plan.checks if c.code == "P110"]  # and the console edit shows as drift


def test_reloading_the_suspended_table_is_what_the_warning_asks_for(harness, sandbox, tmp_path):
    deploy_examples(harness, sandbox, tmp_path)
    _suspend_barcodes(sandbox)

    def bump_barcodes(teams: dict) -> None:
        for tb in teams["food"]["tasks"]["foodsearch"]["tables"]:
            if tb["table"] == "barcodes":
                tb["version"] = "v202412010000"

    planned, _ = harness.plan(tree(tmp_path / "reload", bump_barcodes))
    assert not [c for c in planned.plan.checks if c.code == "P126"]  # this plan reloads it: nothing to ask
