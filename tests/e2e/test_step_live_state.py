"""Each step decides what to stop from the task states it reads when it starts, not from the plan's.

A task stopped by hand when a two-step reload is planned is resumed by step 1 (config wants it
running); step 2 must then stop it again before it deploys the new TableMappings, or CloudFormation's
update of a running task fails and rolls back.
"""

from __future__ import annotations

import pytest

from tests.e2e.apply_helpers import (
    BUCKET,
    SETTLE,
    assert_no_stopped_by_tags,
    assert_safe_and_converged,
    bump_foods,
    deploy_examples,
    status,
    tasks,
    tree,
)

pytestmark = pytest.mark.usefixtures("shared_botocore_loader")

FOODSEARCH = "dmsctl-food-foodsearch"
FOODS_NEW = "replication/food/fooddb/foodsearch/foods/v202111230900/"


def test_a_hand_stopped_task_with_a_reload_is_stopped_again_by_step_two(harness, sandbox, tmp_path):
    deploy_examples(harness, sandbox, tmp_path)
    dms = sandbox.client("dms")
    dms.stop_replication_task(ReplicationTaskArn=tasks(sandbox)[FOODSEARCH]["ReplicationTaskArn"])
    sandbox.advance(120)
    assert status(sandbox, FOODSEARCH) == "stopped"
    cfg = tree(tmp_path / "after", bump_foods)

    plan = harness.plan(cfg)[0].plan
    assert [s.number for s in plan.steps] == [1, 2]
    step2 = next(ss for ss in plan.steps[1].stacks if FOODSEARCH in ss.recheck)
    assert FOODSEARCH not in step2.stop  # stopped when planned: only the re-check catches it

    code, run, progress = harness.apply(cfg)
    messages = [e.message for e in progress.events]
    assert code == 0 and run.record.result == "applied", messages
    assert any("running again since the plan: stopped for this deploy too" in m for m in messages)
    sandbox.advance(60)
    assert_safe_and_converged(harness, sandbox, cfg)
    assert_no_stopped_by_tags(harness, sandbox, cfg)
    sandbox.advance(SETTLE)
    assert any(k.endswith("/LOAD00000001.parquet") for k in sandbox.s3_keys(BUCKET, FOODS_NEW))
