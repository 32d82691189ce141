"""A task stopped outside dmsctl (on-call stopped it, or a killed apply left it) is visible in the plan:
resumed with a warning (P121), or left stopped when tagged dmsctl:hold (P120), whichever team's change
the apply is for. The hold needs no config edit and no other team's file."""

from __future__ import annotations

from dmsctl.deployer.render.common import summary_line
from tests.e2e.apply_helpers import add_growth_table, deploy_examples, status, tasks, tree

FOODSEARCH = "dmsctl-food-foodsearch"


def _stop_by_hand(sandbox) -> str:
    arn = tasks(sandbox)[FOODSEARCH]["ReplicationTaskArn"]
    sandbox.client("dms").stop_replication_task(ReplicationTaskArn=arn)
    sandbox.advance(30)
    assert status(sandbox, FOODSEARCH) == "stopped"
    return arn


def test_a_hand_stopped_task_is_shown_and_resumed_by_an_unrelated_change(harness, sandbox, tmp_path):
    deploy_examples(harness, sandbox, tmp_path)
    _stop_by_hand(sandbox)
    cfg = tree(tmp_path / "after", add_growth_table)  # another team's change
    planned, _ = harness.plan(cfg)
    [warning] = [c for c in planned.plan.checks if c.code == "P121"]
    assert warning.severity == "warning" and warning.resource == "food/foodsearch"
    assert "stopped outside dmsctl; this apply resumes it" in warning.message and "dmsctl:hold" in warning.message
    assert "1 stopped task resumed" in summary_line(planned.plan)
    code, _, progress = harness.apply(cfg)
    assert code == 0, [e.message for e in progress.events]
    assert status(sandbox, FOODSEARCH) == "running"


def test_a_held_task_stays_stopped_and_the_plan_says_so(harness, sandbox, tmp_path):
    deploy_examples(harness, sandbox, tmp_path)
    arn = _stop_by_hand(sandbox)
    sandbox.client("dms").add_tags_to_resource(ResourceArn=arn, Tags=[
        {"Key": "dmsctl:hold", "Value": "INC-42 source failover"}])
    changed = tree(tmp_path / "after", add_growth_table)
    planned, _ = harness.plan(changed)
    [held] = [c for c in planned.plan.checks if c.code == "P120"]
    assert "held (dmsctl:hold=INC-42 source failover)" in held.message and held.severity == "warning"
    assert "1 task held (left stopped)" in summary_line(planned.plan)
    code, _, progress = harness.apply(changed)
    assert code == 0, [e.message for e in progress.events]
    assert status(sandbox, FOODSEARCH) == "stopped"
    again, _ = harness.plan(changed)
    assert not again.plan.has_changes and [c.code for c in again.plan.checks] == ["P120"]

    sandbox.client("dms").remove_tags_from_resource(ResourceArn=arn, TagKeys=["dmsctl:hold"])
    code, _, _ = harness.apply(changed)
    assert code == 0 and status(sandbox, FOODSEARCH) in ("starting", "running")
