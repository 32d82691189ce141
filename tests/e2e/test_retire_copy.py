"""Retiring a table's old copy (another version, in another task) is no-go while the new copy has not
completed its full load (P122, acknowledgeable with --allow-delete): if that load fails or is stopped,
the lake would have no complete copy."""

from __future__ import annotations

from dmsctl.deployer.checks import Flags
from tests.e2e.apply_helpers import deploy_examples, status, tree

FOODS = {"schema": "foodsearch", "table": "foods"}
NEW_TASK = "dmsctl-food-foods-v2"


def _copy_foods_into_a_new_task(teams: dict) -> None:
    tasks = teams["food"]["tasks"]
    tasks["foods-v2"] = {"source": "fooddb", "instance": "food-main", "target": "s3-1min",
                         "migration_type": "full-load-and-cdc", "tables": [{**FOODS, "version": "v202111230900"}]}


def _and_retire_the_old_copy(teams: dict) -> None:
    _copy_foods_into_a_new_task(teams)
    tables = teams["food"]["tasks"]["foodsearch"]["tables"]
    tables[:] = [t for t in tables if t["table"] != "foods"]


def test_retiring_the_old_copy_waits_for_the_new_one_to_load(harness, sandbox, tmp_path):
    deploy_examples(harness, sandbox, tmp_path)
    both_at_once = tree(tmp_path / "both", _and_retire_the_old_copy)
    planned, _ = harness.plan(both_at_once)
    [retire] = [c for c in planned.plan.checks if c.code == "P122"]
    assert retire.blocks and retire.resource.endswith("/foodsearch.foods")
    assert (f"task dmsctl-food-foodsearch stops replicating foodsearch.foods while its other copy has not completed "
            f"its full load: v202111230900 in task {NEW_TASK} (not loaded yet)") in retire.message
    acknowledged, _ = harness.plan(both_at_once, flags=Flags(allow_delete=True))
    assert [c.severity for c in acknowledged.plan.checks if c.code == "P122"] == ["warning"]

    sandbox.set_table_size(NEW_TASK, "foodsearch", "foods", 200_000)  # a long first load
    code, _, progress = harness.apply(tree(tmp_path / "copy", _copy_foods_into_a_new_task))
    assert code == 0, [e.message for e in progress.events]
    assert status(sandbox, NEW_TASK) == "running"
    loading, _ = harness.plan(both_at_once)
    [retire] = [c for c in loading.plan.checks if c.code == "P122"]
    assert f"v202111230900 in task {NEW_TASK} (Full load)" in retire.message

    sandbox.advance(200_000 / sandbox.config.full_load_rows_per_second + 60)  # the new copy is loaded
    loaded, _ = harness.plan(both_at_once)
    assert "P122" not in [c.code for c in loaded.plan.checks] and loaded.plan.go
